/**
 * The analytics service process: `bun run services/analytics/main.ts`.
 * Only wiring: the consumer group projecting events into aggregates, its lag sampler, the report
 * RpcGroup on its RPC port, the health side port, an RPC client of inventory (for the stock forecast),
 * all on the service's own database.
 */
import type { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { AnalyticsRpcs } from "../../rpc/analytics.ts"
import { type KafkaClient, KafkaLive, kafkaReady } from "../../src/event-bus.ts"
import { HealthServerLive } from "../../src/http.ts"
import { PostgresLive, postgresReady } from "../../src/postgres.ts"
import { RpcServe } from "../../src/rpc.ts"
import { runService } from "../../src/service.ts"
import { AggregateStore } from "./aggregate-store.ts"
import { InventoryClient } from "./clients.ts"
import { EventIngest } from "./event-ingest.ts"
import { AnalyticsHandlers } from "./handlers.ts"
import { LagSamplerLive } from "./lag-sampler.ts"
import { AnalyticsReports } from "./reports.ts"
import { StockForecaster } from "./stock-forecast.ts"

const Rpc = RpcServe.layer(AnalyticsRpcs, {
  service: "analytics",
}).pipe(Layer.provide(AnalyticsHandlers))

const Health = HealthServerLive<SqlClient.SqlClient | KafkaClient | EventIngest>({
  service: "analytics",
  checks: {
    postgres: postgresReady,
    kafka: kafkaReady,
    consumer: Effect.flatMap(EventIngest, (ingest) => ingest.ready),
  },
})

const Ingest = EventIngest.Default.pipe(Layer.provide(AggregateStore.Default))

const Reports = StockForecaster.Default.pipe(
  Layer.provide(InventoryClient.Live),
  Layer.provideMerge(AnalyticsReports.Default),
)

const Main = Layer.mergeAll(Rpc, Health, LagSamplerLive).pipe(
  Layer.provide(Layer.mergeAll(Ingest, Reports)),
  Layer.provide(KafkaLive("analytics")),
  Layer.provide(PostgresLive("analytics")),
)

runService("analytics", Main)
