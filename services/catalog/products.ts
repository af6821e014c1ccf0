/**
 * Product writes: validation across fields, the row and its event in one transaction (so product.created /
 * product.updated exist exactly when the change does), then the listing cache invalidated once committed.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import {
  type CreateProductRequest,
  DuplicateSku,
  InvalidProduct,
  type Product,
  ProductCreated,
  type ProductId,
  ProductUpdated,
  ProductVersionConflict,
  type UpdateProductRequest,
  Variant,
  type VariantInput,
} from "../../rpc/catalog.ts"
import { Outbox } from "../../src/events/outbox.ts"
import { ListingCache } from "./listing-cache.ts"
import { type ProductFields, ProductRepository } from "./repository.ts"

/** One SKU names one sellable thing, and a product is priced in one currency. */
const validate = (fields: ProductFields): Effect.Effect<ProductFields, DuplicateSku | InvalidProduct> => {
  const seen = new Set<string>([fields.sku])
  for (const variant of fields.variants) {
    if (seen.has(variant.sku)) return Effect.fail(new DuplicateSku({ sku: variant.sku }))
    seen.add(variant.sku)
    if (variant.price !== null && variant.price.currency !== fields.price.currency) {
      return Effect.fail(
        new InvalidProduct({
          message: `variant ${variant.sku} is priced in ${variant.price.currency}, the product in ${fields.price.currency}`,
        }),
      )
    }
  }
  return Effect.succeed(fields)
}

const toVariants = (variants: ReadonlyArray<VariantInput>) =>
  variants.map(
    (variant) => new Variant({ sku: variant.sku, attributes: variant.attributes ?? {}, price: variant.price ?? null }),
  )

export class ProductCatalog extends Effect.Service<ProductCatalog>()("catalog/ProductCatalog", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const repository = yield* ProductRepository
    const outbox = yield* Outbox
    const cache = yield* ListingCache

    const create = Effect.fn("Catalog.createProduct")(function* (request: CreateProductRequest) {
      const fields = yield* validate({ ...request, variants: toVariants(request.variants) })
      const id = crypto.randomUUID() as ProductId
      const product = yield* sql
        .withTransaction(
          Effect.gen(function* () {
            const product = yield* repository.insertProduct(id, fields)
            // Our own values always fit our own schemas: a failure to encode is a bug.
            const event = yield* ProductCreated.make({ product }, { key: product.id }).pipe(Effect.orDie)
            yield* outbox.append(event)
            return product
          }),
        )
        .pipe(Effect.catchTag("SqlError", Effect.die))
      yield* cache.invalidate
      return product
    })

    const update = Effect.fn("Catalog.updateProduct")(function* (request: UpdateProductRequest) {
      const current = yield* repository.getById(request.id)
      // The guarded UPDATE would refuse too; failing here saves a transaction for a caller that is already late.
      if (current.version !== request.expectedVersion) {
        return yield* new ProductVersionConflict({
          productId: request.id,
          expectedVersion: request.expectedVersion,
          currentVersion: current.version,
        })
      }
      const fields = yield* validate({
        sku: current.sku,
        name: request.name ?? current.name,
        description: request.description ?? current.description,
        price: request.price ?? current.price,
        categoryId: request.categoryId === undefined ? current.categoryId : request.categoryId,
        variants: request.variants === undefined ? current.variants : toVariants(request.variants),
        active: request.active ?? current.active,
      })
      const product: Product = yield* sql
        .withTransaction(
          Effect.gen(function* () {
            const product = yield* repository.updateProduct(
              request.id,
              request.expectedVersion,
              fields,
              request.variants !== undefined,
            )
            const event = yield* ProductUpdated.make(
              { product, previousVersion: request.expectedVersion },
              { key: product.id },
            ).pipe(Effect.orDie)
            yield* outbox.append(event)
            return product
          }),
        )
        .pipe(Effect.catchTag("SqlError", Effect.die))
      yield* cache.invalidate
      return product
    })

    return { create, update }
  }),
  dependencies: [ProductRepository.Default, ListingCache.Default, Outbox.Default],
}) {}
