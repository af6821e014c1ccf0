/**
 * The cart service process: `bun run services/cart/main.ts`.
 * Only wiring: the RpcGroup on its RPC port, the health side port, the saga command consumers on RabbitMQ,
 * and the catalog client for prices, all on the service's own database.
 */
import type { SqlClient } from "@effect/sql"
import { Layer } from "effect"
import { CartRpcs } from "../../rpc/cart.ts"
import { type CommandBus, CommandBusLive, commandBusReady } from "../../src/command-bus.ts"
import { HealthServerLive } from "../../src/http.ts"
import { PostgresLive, postgresReady } from "../../src/postgres.ts"
import { RpcServe } from "../../src/rpc.ts"
import { runService } from "../../src/service.ts"
import { Carts } from "./carts.ts"
import { CatalogClient, catalogCallTimeout } from "./catalog-client.ts"
import { CartHandlers } from "./handlers.ts"
import { SagaCommandsLive } from "./saga-commands.ts"

const Rpc = RpcServe.layer(CartRpcs, {
  service: "cart",
}).pipe(Layer.provide(CartHandlers))

// The catalog is not a readiness check: an unreachable catalog fails AddItem/UpdateItem typed
// (CatalogUnavailable) while carts stay readable and the saga's commands keep flowing.
const Health = HealthServerLive<SqlClient.SqlClient | CommandBus>({
  service: "cart",
  checks: { postgres: postgresReady, rabbitmq: commandBusReady },
})

const Main = Layer.mergeAll(Rpc, Health, SagaCommandsLive()).pipe(
  Layer.provide(Carts.Default),
  Layer.provide(Layer.mergeAll(CatalogClient.layer({ timeout: catalogCallTimeout }), CommandBusLive("cart"))),
  Layer.provide(PostgresLive("cart")),
)

runService("cart", Main)
