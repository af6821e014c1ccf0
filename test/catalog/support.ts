/**
 * Catalog test wiring: the service's real Layers (handlers behind an in-process RPC client, the Redis
 * listing cache, the outbox and its relay to Kafka) on its own database, `cm_catalog_test`, and a listing
 * cache key prefix of its own per run, so neither a running service nor another run disturbs a test.
 */
import { ConfigProvider, Layer } from "effect"
import { CatalogRpcs, type CategoryId, type Sku } from "../../rpc/catalog.ts"
import { EventProducer, KafkaLive } from "../../src/events/index.ts"
import { OutboxRelayLive } from "../../src/events/outbox.ts"
import { PostgresLive } from "../../src/postgres.ts"
import { RedisLive } from "../../src/redis.ts"
import { RpcClientTag } from "../../src/rpc/index.ts"
import { CatalogHandlers } from "../../services/catalog/handlers.ts"
import { ListingCache } from "../../services/catalog/listing-cache.ts"
import { ProductCatalog } from "../../services/catalog/products.ts"
import { ProductRepository } from "../../services/catalog/repository.ts"

export const testDatabaseSuffix = "_test"
export const testDatabase = `cm_catalog${testDatabaseSuffix}`
export const runId = crypto.randomUUID().slice(0, 8)
export const cachePrefix = `test:catalog:${runId}`

export const TestConfig = Layer.setConfigProvider(
  ConfigProvider.fromMap(
    new Map([
      ["DATABASE_NAME_SUFFIX", testDatabaseSuffix],
      ["CATALOG_CACHE_PREFIX", cachePrefix],
    ]),
  ).pipe(ConfigProvider.orElse(() => ConfigProvider.fromEnv())),
)

export class CatalogClient extends RpcClientTag<CatalogClient>()("catalog", CatalogRpcs) {}

/** What main.ts builds, minus the network: the client calls the real handlers in this process. */
export const CatalogTest = (options: { readonly relay?: boolean } = {}) => {
  const Domain = Layer.mergeAll(ProductCatalog.Default, ProductRepository.Default, ListingCache.Default)
  const Client = CatalogClient.InProcess.pipe(Layer.provide(CatalogHandlers))
  const Relay =
    options.relay === true
      ? OutboxRelayLive({ pollInterval: "100 millis" }).pipe(
          Layer.provide(EventProducer.Default),
          Layer.provide(KafkaLive("catalog")),
        )
      : Layer.empty
  return Client.pipe(
    Layer.provideMerge(Domain),
    Layer.provideMerge(Relay),
    Layer.provideMerge(Layer.merge(PostgresLive("catalog", { poolSize: 4 }), RedisLive)),
    Layer.provide(TestConfig),
  )
}

const unique = () => crypto.randomUUID().slice(0, 13)
export const newSku = (label = "sku") => `${label}-${unique()}` as Sku
export const newName = (label: string) => `${label} ${unique()}`
export type { CategoryId }
