/**
 * The analytics service as one Layer, without its servers and without its database: the consumer group
 * projecting events into aggregates, its lag sampler and the report handlers. It needs the service's own
 * SqlClient and a client of inventory (for the stock forecast); main.ts serves it on its ports with a
 * network client, the monolith (scripts/monolith.ts) next to the other services with an in-process one.
 */
import type { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { type KafkaClient, KafkaLive, kafkaReady } from "../../src/events/index.ts"
import type { ReadinessChecks } from "../../src/http.ts"
import { postgresReady } from "../../src/postgres.ts"
import { AggregateStore } from "./aggregate-store.ts"
import { EventIngest } from "./event-ingest.ts"
import { AnalyticsHandlers } from "./handlers.ts"
import { LagSamplerLive } from "./lag-sampler.ts"
import { AnalyticsReports } from "./reports.ts"
import { StockForecaster } from "./stock-forecast.ts"

const Ingest = EventIngest.Default.pipe(Layer.provide(AggregateStore.Default))

const Reports = StockForecaster.Default.pipe(Layer.provideMerge(AnalyticsReports.Default))

/** The handlers of AnalyticsRpcs and the ingest (for readiness), plus the Kafka client; needs the SqlClient and InventoryClient. */
export const AnalyticsService = Layer.merge(AnalyticsHandlers, LagSamplerLive).pipe(
  Layer.provideMerge(Layer.mergeAll(Ingest, Reports)),
  Layer.provideMerge(KafkaLive("analytics")),
)

/** What /readyz checks, given AnalyticsService and the SqlClient. */
export const analyticsReadiness: ReadinessChecks<SqlClient.SqlClient | KafkaClient | EventIngest> = {
  postgres: postgresReady,
  kafka: kafkaReady,
  consumer: Effect.flatMap(EventIngest, (ingest) => ingest.ready),
}
