/**
 * The CatalogRpcs implementation: writes through ProductCatalog (transaction, outbox, cache invalidation),
 * the listing through the Redis cache, everything else straight from the repository.
 */
import { Effect } from "effect"
import {
  CatalogRpcs,
  type CategoryId,
  CategoryNotFound,
  InvalidPriceRange,
  type ListProductsRequest,
} from "../../rpc/catalog.ts"
import { ListingCache } from "./listing-cache.ts"
import { ProductCatalog } from "./products.ts"
import { decodeCursor, ProductRepository } from "./repository.ts"

export const CatalogHandlers = CatalogRpcs.toLayer(
  Effect.gen(function* () {
    const catalog = yield* ProductCatalog
    const repository = yield* ProductRepository
    const cache = yield* ListingCache

    const listProducts = Effect.fn("Catalog.listProducts")(function* (request: ListProductsRequest) {
      const { minPrice, maxPrice } = request
      if (minPrice !== undefined && maxPrice !== undefined && minPrice > maxPrice) {
        return yield* new InvalidPriceRange({ minPrice, maxPrice })
      }
      const afterSeq = request.cursor === undefined ? null : yield* decodeCursor(request.cursor)
      return yield* cache.through(
        request,
        Effect.gen(function* () {
          if (request.categoryId !== undefined && !(yield* repository.categoryExists(request.categoryId))) {
            return yield* new CategoryNotFound({ categoryId: request.categoryId })
          }
          return yield* repository.listProducts(request, afterSeq)
        }),
      )
    })

    return {
      CreateProduct: (request) => catalog.create(request),
      UpdateProduct: (request) => catalog.update(request),
      GetProduct: (request) => ("id" in request ? repository.getById(request.id) : repository.getBySku(request.sku)),
      ListProducts: listProducts,
      CreateCategory: ({ name, parentId }) =>
        repository.createCategory(crypto.randomUUID() as CategoryId, name, parentId),
      ListCategories: () => repository.listCategories,
      GetPrices: ({ skus }) => repository.getPrices(skus),
    }
  }),
)
