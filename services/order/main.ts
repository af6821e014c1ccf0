/**
 * The order service process: `bun run services/order/main.ts`.
 * Only wiring: OrderService (service.ts) on the service's own database with the clients of inventory,
 * payment and delivery over the network, its RpcGroup on its RPC port and the health side port.
 */
import { Layer } from "effect"
import { OrderRpcs } from "../../rpc/order.ts"
import { HealthServerLive } from "../../src/http.ts"
import { PostgresLive } from "../../src/postgres.ts"
import { RpcServe } from "../../src/rpc/index.ts"
import { runService } from "../../src/service.ts"
import { DeliveryClient, InventoryClient, PaymentClient } from "./clients.ts"
import { OrderService, orderReadiness } from "./service.ts"

const Main = Layer.merge(
  RpcServe.layer(OrderRpcs, { service: "order" }),
  HealthServerLive({ service: "order", checks: orderReadiness }),
).pipe(
  Layer.provide(OrderService),
  Layer.provide(Layer.mergeAll(InventoryClient.Live, PaymentClient.Live, DeliveryClient.Live)),
  Layer.provide(PostgresLive("order")),
)

runService("order", Main)
