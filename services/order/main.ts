/**
 * The order service process: `bun run services/order/main.ts`.
 * Only wiring: OrderRpcs on its RPC port and the health side port, with the checkout sagas on a thread of
 * their own or, with `SAGA_THREAD=false`, on the same thread. The saga thread runs this same file (so a
 * bundle of it holds both): off the main thread it is the sagas' runner, the buses and the outbox relay,
 * on the service's database with clients of inventory, payment and delivery of its own.
 */
import { isMainThread } from "node:worker_threads"
import type { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { OrderRpcs } from "../../rpc/order.ts"
import { HealthServerLive } from "../../src/http.ts"
import { PostgresLive } from "../../src/postgres.ts"
import { RpcServe } from "../../src/rpc/index.ts"
import { runSagaThread, sagaThreadOwner } from "../../src/saga/thread.ts"
import { runService } from "../../src/service.ts"
import { CheckoutSagas } from "./checkout-sagas.ts"
import { DeliveryClient, InventoryClient, PaymentClient } from "./clients.ts"
import { sagaThread } from "./config.ts"
import {
  OrderSagaSide,
  OrderService,
  OrderServiceSagaThread,
  orderReadiness,
  orderSagaThreadReadiness,
} from "./service.ts"

const Clients = Layer.mergeAll(InventoryClient.Live, PaymentClient.Live, DeliveryClient.Live)

const Served = RpcServe.layer(OrderRpcs, { service: "order" })

const SagasOnTheirThread = Layer.merge(
  Served,
  HealthServerLive({ service: "order", checks: orderSagaThreadReadiness }),
).pipe(Layer.provide(OrderServiceSagaThread), Layer.provide(DeliveryClient.Live))

const SagasOnThisThread = Layer.merge(Served, HealthServerLive({ service: "order", checks: orderReadiness })).pipe(
  Layer.provide(OrderService),
  Layer.provide(Clients),
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

if (isMainThread) {
  runService("order", Main)
} else {
  runSagaThread({
    service: "order",
    layer: OrderSagaSide(sagaThreadOwner()).pipe(
      Layer.provideMerge(Clients),
      Layer.provideMerge(PostgresLive("order")),
    ),
    runner: CheckoutSagas,
    checks: orderReadiness,
  })
}
