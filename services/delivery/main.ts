/**
 * The delivery service process: `bun run services/delivery/main.ts`.
 * Only wiring: DeliveryService (service.ts) on the service's own database, its RpcGroup on its RPC port
 * and the health side port.
 */
import { Layer } from "effect"
import { DeliveryRpcs } from "../../rpc/delivery.ts"
import { HealthServerLive } from "../../src/http.ts"
import { PostgresLive } from "../../src/postgres.ts"
import { RpcServe } from "../../src/rpc/index.ts"
import { runService } from "../../src/service.ts"
import { DeliveryService, deliveryReadiness } from "./service.ts"

const Main = Layer.merge(
  RpcServe.layer(DeliveryRpcs, { service: "delivery" }),
  HealthServerLive({ service: "delivery", checks: deliveryReadiness }),
).pipe(Layer.provide(DeliveryService), Layer.provide(PostgresLive("delivery")))

runService("delivery", Main)
