/**
 * The inventory service process: `bun run services/inventory/main.ts`.
 * Only wiring: InventoryService (service.ts) on the service's own database, its RpcGroup on its RPC port
 * and the health side port.
 */
import { Layer } from "effect"
import { InventoryRpcs } from "../../rpc/inventory.ts"
import { HealthServerLive } from "../../src/http.ts"
import { PostgresLive } from "../../src/postgres.ts"
import { RpcServe } from "../../src/rpc/index.ts"
import { runService } from "../../src/service.ts"
import { InventoryService, inventoryReadiness } from "./service.ts"

const Main = Layer.merge(
  RpcServe.layer(InventoryRpcs, { service: "inventory" }),
  HealthServerLive({ service: "inventory", checks: inventoryReadiness }),
).pipe(Layer.provide(InventoryService), Layer.provide(PostgresLive("inventory")))

runService("inventory", Main)
