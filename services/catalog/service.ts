/**
 * The catalog service as one Layer, without its servers and without its database: the RpcGroup's
 * handlers, products with their Redis listing cache, and product events through the outbox relay to
 * Kafka. It needs the service's own SqlClient; main.ts serves it on its ports, the monolith
 * (scripts/monolith.ts) runs it next to the other services in one process.
 */
import type { SqlClient } from "@effect/sql"
import { Layer } from "effect"
import { type KafkaClient, KafkaLive, kafkaReady } from "../../src/events/index.ts"
import type { ReadinessChecks } from "../../src/http.ts"
import { OutboxPublisherLive } from "../../src/events/outbox.ts"
import { postgresReady } from "../../src/postgres.ts"
import { type RedisClient, RedisLive, redisReady } from "../../src/redis.ts"
import { CatalogHandlers } from "./handlers.ts"
import { ListingCache } from "./listing-cache.ts"
import { ProductCatalog } from "./products.ts"
import { ProductRepository } from "./repository.ts"

/** The handlers of CatalogRpcs, plus the Kafka and Redis clients (for readiness); needs the SqlClient. */
export const CatalogService = Layer.merge(CatalogHandlers, OutboxPublisherLive()).pipe(
  Layer.provide(Layer.mergeAll(ProductCatalog.Default, ProductRepository.Default, ListingCache.Default)),
  Layer.provideMerge(Layer.mergeAll(KafkaLive("catalog"), RedisLive)),
)

/** What /readyz checks, given CatalogService and the SqlClient. */
export const catalogReadiness: ReadinessChecks<SqlClient.SqlClient | RedisClient | KafkaClient> = {
  postgres: postgresReady,
  redis: redisReady,
  kafka: kafkaReady,
}
