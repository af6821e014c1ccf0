/**
 * The cart service as one Layer, without its servers and without its database: the RpcGroup's handlers,
 * carts, and the consumers of the checkout saga's commands on RabbitMQ. It needs the service's own
 * SqlClient and a CatalogClient (over the network in main.ts, in-process in the monolith,
 * scripts/monolith.ts).
 */
import type { SqlClient } from "@effect/sql"
import { Layer } from "effect"
import { type CommandBus, CommandBusLive, commandBusReady } from "../../src/commands/index.ts"
import type { ReadinessChecks } from "../../src/http.ts"
import { postgresReady } from "../../src/postgres.ts"
import { Carts } from "./carts.ts"
import { CartHandlers } from "./handlers.ts"
import { SagaCommandsLive } from "./saga-commands.ts"

/** The handlers of CartRpcs, plus the command bus (for readiness); needs the SqlClient and a CatalogClient. */
export const CartService = Layer.merge(CartHandlers, SagaCommandsLive()).pipe(
  Layer.provide(Carts.Default),
  Layer.provideMerge(CommandBusLive("cart")),
)

// The catalog is not a readiness check: an unreachable catalog fails AddItem/UpdateItem typed
// (CatalogUnavailable) while carts stay readable and the saga's commands keep flowing.
/** What /readyz checks, given CartService and the SqlClient. */
export const cartReadiness: ReadinessChecks<SqlClient.SqlClient | CommandBus> = {
  postgres: postgresReady,
  rabbitmq: commandBusReady,
}
