/** Public catalog reads, answered from the response cache when they can be. */
import { Context, Effect, Schema } from "effect"
import { Category, ProductPage } from "../../../rpc/catalog.ts"
import { implementGateway } from "./implement.ts"
import { ProductDetail, type ProductListQuery, SkuStock } from "../api/catalog.ts"
import { GatewayApi } from "../api/index.ts"
import { CatalogClient, InventoryClient } from "../clients.ts"
import { ResponseCache } from "../response-cache.ts"
import { orUnavailable } from "../unavailable.ts"

/** Stock changes with every order: a product page may show it at most this stale. */
const productTtlSeconds = 2

/** Equal queries give equal keys whatever the order of their parameters. */
const listingKey = (query: ProductListQuery) =>
  `products:${JSON.stringify([query.q, query.categoryId, query.minPrice, query.maxPrice, query.currency, query.limit, query.cursor])}`

const productDetail = (id: ProductDetail["product"]["id"]) =>
  Effect.gen(function* () {
    const catalog = yield* CatalogClient
    const inventory = yield* InventoryClient
    const product = yield* catalog.GetProduct({ id }).pipe(orUnavailable("catalog"))
    const skus = [product.sku, ...product.variants.map((variant) => variant.sku)]
    const stocks = yield* inventory.GetStocks({ skus }).pipe(orUnavailable("inventory"))
    const available = new Map(stocks.map((stock) => [stock.sku, stock.available]))
    return new ProductDetail({
      product,
      stock: skus.map((sku) => new SkuStock({ sku, available: available.get(sku) ?? 0 })),
    })
  })

const productKey = (id: string) => `product:${id}`

/**
 * `key` remembered per decoded request part. A URL's decoded query or path is the same object every time it
 * is asked (src/http-api-hono.ts keeps it), so the cache key is built once instead of per request (the
 * listing's JSON.stringify was ~15 % of the gateway's rate on a cached read).
 */
const keyOnce = <A extends object>(key: (part: A) => string) => {
  const keys = new WeakMap<A, string>()
  return (part: A) => {
    let found = keys.get(part)
    if (found === undefined) keys.set(part, (found = key(part)))
    return found
  }
}

export const CatalogHandlers = implementGateway(
  GatewayApi,
  "catalog",
  {
    listProducts: ({ urlParams }) =>
      Effect.flatMap(ResponseCache, (cache) =>
        cache.json(
          listingKey(urlParams),
          ProductPage,
          Effect.flatMap(CatalogClient, (catalog) => {
            // The search text is `q` in the URL; every other parameter has the contract's own name.
            const { q, ...filters } = urlParams
            return catalog.ListProducts(q === undefined ? filters : { ...filters, query: q })
          }).pipe(orUnavailable("catalog")),
        ),
      ),
    getProduct: ({ path }) =>
      Effect.flatMap(ResponseCache, (cache) =>
        cache.json(productKey(path.id), ProductDetail, productDetail(path.id), productTtlSeconds),
      ),
    listCategories: () =>
      Effect.flatMap(ResponseCache, (cache) =>
        cache.json(
          "categories",
          Schema.Array(Category),
          Effect.flatMap(CatalogClient, (catalog) => catalog.ListCategories({})).pipe(orUnavailable("catalog")),
        ),
      ),
  },
  // Fresh copies in this process answer without running an Effect: the hot path of a shop front.
  {
    listProducts: (services) => {
      const cache = Context.get(services, ResponseCache)
      const keyOf = keyOnce(listingKey)
      return ({ urlParams }) => cache.peek(keyOf(urlParams))
    },
    getProduct: (services) => {
      const cache = Context.get(services, ResponseCache)
      const keyOf = keyOnce((path: { readonly id: string }) => productKey(path.id))
      return ({ path }) => cache.peek(keyOf(path))
    },
    listCategories: (services) => {
      const cache = Context.get(services, ResponseCache)
      return () => cache.peek("categories")
    },
  },
)
