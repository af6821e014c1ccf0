/**
 * The analytics service process: `bun run services/analytics/main.ts`.
 * Only wiring: its Layer (services/analytics/service.ts) with a network client of inventory, the report
 * RpcGroup on its RPC port and the health side port, on the service's own database.
 */
import { Layer } from "effect"
import { AnalyticsRpcs } from "../../rpc/analytics.ts"
import { HealthServerLive } from "../../src/http.ts"
import { PostgresLive } from "../../src/postgres.ts"
import { RpcServe } from "../../src/rpc/index.ts"
import { runService } from "../../src/service.ts"
import { InventoryClient } from "./clients.ts"
import { AnalyticsService, analyticsReadiness } from "./service.ts"

const Servers = Layer.merge(
  RpcServe.layer(AnalyticsRpcs, { service: "analytics" }),
  HealthServerLive({ service: "analytics", checks: analyticsReadiness }),
)

runService(
  "analytics",
  Servers.pipe(
    Layer.provide(AnalyticsService),
    Layer.provide(InventoryClient.Live),
    Layer.provide(PostgresLive("analytics")),
  ),
)
