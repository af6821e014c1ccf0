/**
 * The catalog service process: `bun run services/catalog/main.ts`.
 * Only wiring: the RpcGroup on its RPC port, the health side port, the Redis listing cache, product events
 * through the outbox relay to Kafka, all on the service's own database.
 */
import { Layer } from "effect"
import { CatalogRpcs } from "../../rpc/catalog.ts"
import type { SqlClient } from "@effect/sql"
import { type KafkaClient, KafkaLive, kafkaReady } from "../../src/event-bus.ts"
import { HealthServerLive } from "../../src/http.ts"
import { OutboxPublisherLive } from "../../src/outbox.ts"
import { PostgresLive, postgresReady } from "../../src/postgres.ts"
import { type RedisClient, RedisLive, redisReady } from "../../src/redis.ts"
import { RpcServe } from "../../src/rpc.ts"
import { runService } from "../../src/service.ts"
import { CatalogHandlers } from "./handlers.ts"
import { ListingCache } from "./listing-cache.ts"
import { ProductCatalog } from "./products.ts"
import { ProductRepository } from "./repository.ts"

const Rpc = RpcServe.layer(CatalogRpcs, {
  service: "catalog",
}).pipe(Layer.provide(CatalogHandlers))

const Health = HealthServerLive<SqlClient.SqlClient | RedisClient | KafkaClient>({
  service: "catalog",
  checks: { postgres: postgresReady, redis: redisReady, kafka: kafkaReady },
})

const Relay = OutboxPublisherLive()

const Main = Layer.mergeAll(Rpc, Health).pipe(
  Layer.provide(Layer.mergeAll(ProductCatalog.Default, ProductRepository.Default, ListingCache.Default, Relay)),
  Layer.provide(Layer.mergeAll(KafkaLive("catalog"), RedisLive)),
  Layer.provide(PostgresLive("catalog")),
)

runService("catalog", Main)
