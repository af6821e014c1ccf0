/**
 * The order service process: `bun run services/order/main.ts`.
 * Only wiring: OrderRpcs on its RPC port and the health side port, answered by this thread, with the
 * checkout sagas on a thread of their own (saga-thread.ts); `SAGA_THREAD=false` keeps them on this one.
 */
import type { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { OrderRpcs } from "../../rpc/order.ts"
import { HealthServerLive } from "../../src/http.ts"
import { PostgresLive } from "../../src/postgres.ts"
import { RpcServe } from "../../src/rpc/index.ts"
import { runService } from "../../src/service.ts"
import { DeliveryClient, InventoryClient, PaymentClient } from "./clients.ts"
import { sagaThread } from "./config.ts"
import { OrderService, OrderServiceSagaThread, orderReadiness, orderSagaThreadReadiness } from "./service.ts"

const Served = RpcServe.layer(OrderRpcs, { service: "order" })

const SagasOnTheirThread = Layer.merge(
  Served,
  HealthServerLive({ service: "order", checks: orderSagaThreadReadiness }),
).pipe(Layer.provide(OrderServiceSagaThread), Layer.provide(DeliveryClient.Live))

const SagasOnThisThread = Layer.merge(Served, HealthServerLive({ service: "order", checks: orderReadiness })).pipe(
  Layer.provide(OrderService),
  Layer.provide(Layer.mergeAll(InventoryClient.Live, PaymentClient.Live, DeliveryClient.Live)),
)

const Main = Layer.unwrapEffect(
  Effect.map(
    sagaThread,
    (
      threaded,
    ): Layer.Layer<
      never,
      Layer.Layer.Error<typeof SagasOnTheirThread> | Layer.Layer.Error<typeof SagasOnThisThread>,
      SqlClient.SqlClient
    > => (threaded ? SagasOnTheirThread : SagasOnThisThread),
  ),
).pipe(Layer.provide(PostgresLive("order")))

runService("order", Main)
