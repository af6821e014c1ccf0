/**
 * Cart test wiring: the cart's real Layers (handlers behind an in-process RPC client, the saga command
 * consumers on real RabbitMQ queues of this run) on `cm_cart_test`, pricing from a real catalog served in
 * this process on `cm_catalog_test` (its handlers, its database, its cache — not a stand-in).
 */
import { ConfigProvider, Layer } from "effect"
import { CartRpcs, ClearCart, ReleaseCart, ReserveCart, type Sku, type UserId } from "../../rpc/cart.ts"
import { CommandBusLive, deadLetterQueueName, type RetryPolicy, retryQueueName } from "../../src/commands/index.ts"
import { PostgresLive } from "../../src/postgres.ts"
import { RedisLive } from "../../src/redis.ts"
import { RpcClientTag } from "../../src/rpc/index.ts"
import { Carts } from "../../services/cart/carts.ts"
import { CatalogClient } from "../../services/cart/catalog-client.ts"
import { CartHandlers } from "../../services/cart/handlers.ts"
import { SagaCommandsLive, type SagaCommandQueues } from "../../services/cart/saga-commands.ts"
import { CatalogHandlers } from "../../services/catalog/handlers.ts"
import { ListingCache } from "../../services/catalog/listing-cache.ts"
import { ProductCatalog } from "../../services/catalog/products.ts"
import { ProductRepository } from "../../services/catalog/repository.ts"

export const testDatabaseSuffix = "_test"
export const runId = crypto.randomUUID().slice(0, 8)

export const TestConfig = Layer.setConfigProvider(
  ConfigProvider.fromMap(
    new Map([
      ["DATABASE_NAME_SUFFIX", testDatabaseSuffix],
      ["CATALOG_CACHE_PREFIX", `test:cart:${runId}`],
    ]),
  ).pipe(ConfigProvider.orElse(() => ConfigProvider.fromEnv())),
)

export class CartClient extends RpcClientTag<CartClient>()("cart", CartRpcs) {}

/** Fast retries, so a test sees a failing message settle in well under a second. */
export const testRetry: RetryPolicy = { maxAttempts: 2, initialDelay: "50 millis", factor: 2, maxDelay: "50 millis" }

/** The saga's commands on queues of this run, so no other consumer (or earlier run) takes them. */
export const testQueues: SagaCommandQueues = {
  reserve: { ...ReserveCart, queue: `test.cart.${runId}.reserve` },
  release: { ...ReleaseCart, queue: `test.cart.${runId}.release` },
  clear: { ...ClearCart, queue: `test.cart.${runId}.clear` },
}

/** Every queue the suite declares (commands, their retry and dead-letter queues), for deletion afterwards. */
export const declaredQueues = Object.values(testQueues).flatMap((command) => [
  command.queue,
  deadLetterQueueName(command.queue),
  retryQueueName(command.queue, 50),
])

/** The real catalog's Layers on its own pool, exposed only as the client the cart uses. */
export const CatalogInProcess = CatalogClient.InProcess.pipe(
  Layer.provide(CatalogHandlers),
  Layer.provide(Layer.mergeAll(ProductCatalog.Default, ProductRepository.Default, ListingCache.Default)),
  Layer.provide(Layer.merge(PostgresLive("catalog", { poolSize: 2 }), RedisLive)),
)

/** What main.ts builds for the cart, minus the network, with `catalog` as the price source. */
export const CartTest = <E>(
  catalog: Layer.Layer<CatalogClient, E> = CatalogInProcess as Layer.Layer<CatalogClient, E>,
) =>
  Layer.mergeAll(
    CartClient.InProcess.pipe(Layer.provide(CartHandlers)),
    SagaCommandsLive(testQueues, { retry: testRetry }),
  ).pipe(
    Layer.provideMerge(Carts.Default),
    Layer.provideMerge(CommandBusLive("cart")),
    Layer.provide(PostgresLive("cart", { poolSize: 4 })),
    Layer.provideMerge(catalog),
    Layer.provide(TestConfig),
  )

const unique = () => crypto.randomUUID().slice(0, 13)
export const newSku = (label = "sku") => `${label}-${unique()}` as Sku
export const newUser = () => `user-${unique()}` as UserId
