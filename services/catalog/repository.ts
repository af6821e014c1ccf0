/**
 * The catalog's SQL. Constraint violations are the domain checks: a unique violation on a SKU is
 * `DuplicateSku`, a foreign-key violation on a category is `CategoryNotFound` — one round trip, and no
 * window between a check and the write. Other SQL failures are infrastructure and become defects here.
 */
import { SqlClient, type SqlError } from "@effect/sql"
import { Effect, Option } from "effect"
import {
  Category,
  type CategoryId,
  CategoryNotFound,
  DuplicateCategory,
  DuplicateSku,
  InvalidCursor,
  type ListProductsRequest,
  Money,
  Product,
  type ProductId,
  ProductNotFound,
  ProductVersionConflict,
  type Sku,
  SkuPrice,
  Variant,
} from "../../rpc/catalog.ts"
import type { Currency } from "../../rpc/common.ts"
import { isForeignKeyViolation, isUniqueViolation, pgErrorOf, rowDecoder } from "../../src/postgres.ts"

interface VariantJson {
  readonly sku: string
  readonly attributes: Readonly<Record<string, string>>
  readonly price: { readonly amount: number; readonly currency: string } | null
}

interface ProductRow {
  readonly id: string
  readonly seq: string
  readonly sku: string
  readonly name: string
  readonly description: string
  readonly price_amount: string
  readonly currency: string
  readonly category_id: string | null
  readonly variants: ReadonlyArray<VariantJson>
  readonly active: boolean
  readonly version: number
  readonly created_at: Date
  readonly updated_at: Date
}

/** A product's state as written: what CreateProduct builds and UpdateProduct merges. */
export interface ProductFields {
  readonly sku: Sku
  readonly name: string
  readonly description: string
  readonly price: Money
  readonly categoryId: CategoryId | null
  readonly variants: ReadonlyArray<Variant>
  readonly active: boolean
}

const money = (amount: number, currency: string) => new Money({ amount, currency: currency as Currency }, true)

// Rows come from our own tables, already checked by their constraints: no re-validation on the read path.
const toProduct = (row: ProductRow): Product =>
  new Product(
    {
      id: row.id as ProductId,
      sku: row.sku as Sku,
      name: row.name,
      description: row.description,
      // bigint arrives as text; the CHECK and Money's schema keep it within safe integers.
      price: money(Number(row.price_amount), row.currency),
      categoryId: row.category_id as CategoryId | null,
      variants: row.variants.map(
        (variant) =>
          new Variant(
            {
              sku: variant.sku as Sku,
              attributes: variant.attributes,
              price: variant.price === null ? null : money(variant.price.amount, variant.price.currency),
            },
            true,
          ),
      ),
      active: row.active,
      version: row.version,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    },
    true,
  )

const toCategory = rowDecoder(Category)

const variantsJson = (variants: ReadonlyArray<Variant>): string =>
  JSON.stringify(
    variants.map(
      (variant): VariantJson => ({
        sku: variant.sku,
        attributes: variant.attributes,
        price: variant.price === null ? null : { amount: variant.price.amount, currency: variant.price.currency },
      }),
    ),
  )

/** The name a variant SKU is sold under: `T-shirt (color: red, size: M)`. */
const variantName = (product: string, attributes: Readonly<Record<string, string>>) => {
  const parts = Object.entries(attributes)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}: ${value}`)
  return parts.length === 0 ? product : `${product} (${parts.join(", ")})`
}

// Cursor ------------------------------------------------------------------------------------------

const cursorPrefix = "p1."

/** Opaque to clients; the version prefix lets a future ordering reject old cursors instead of misreading them. */
export const encodeCursor = (seq: string) => Buffer.from(`${cursorPrefix}${seq}`).toString("base64url")

export const decodeCursor = (cursor: string): Effect.Effect<string, InvalidCursor> => {
  const text = Buffer.from(cursor, "base64url").toString("utf8")
  const seq = text.startsWith(cursorPrefix) ? text.slice(cursorPrefix.length) : ""
  return /^\d{1,18}$/.test(seq) ? Effect.succeed(seq) : Effect.fail(new InvalidCursor({ cursor }))
}

// Postgres errors ---------------------------------------------------------------------------------

/** The SKU named by a unique violation's detail: `Key (sku)=(abc) already exists.` */
const duplicateSkuOf = (error: SqlError.SqlError): Option.Option<Sku> => {
  const pg = pgErrorOf(error)
  if (!isUniqueViolation(error) || typeof pg.detail !== "string") return Option.none()
  const match = /^Key \(sku\)=\((.*)\) already exists\.$/.exec(pg.detail)
  return match?.[1] === undefined ? Option.none() : Option.some(match[1] as Sku)
}

export class ProductRepository extends Effect.Service<ProductRepository>()("catalog/ProductRepository", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const productColumns = sql`
      p.id, p.seq::text AS seq, p.sku, p.name, p.description, p.price_amount::text AS price_amount, p.currency,
      p.category_id, p.variants, p.active, p.version, p.created_at, p.updated_at`

    /** Maps the constraint violations of a product write to the typed errors; anything else is a defect. */
    const productWriteErrors =
      (categoryId: CategoryId | null) =>
      (error: SqlError.SqlError): Effect.Effect<never, DuplicateSku | CategoryNotFound> => {
        const duplicate = duplicateSkuOf(error)
        if (Option.isSome(duplicate)) return Effect.fail(new DuplicateSku({ sku: duplicate.value }))
        if (categoryId !== null && isForeignKeyViolation(error, "products_category_id_fkey")) {
          return Effect.fail(new CategoryNotFound({ categoryId }))
        }
        return Effect.die(error)
      }

    const insertSkus = (productId: ProductId, fields: ProductFields) =>
      sql`INSERT INTO product_skus ${sql.insert([
        { sku: fields.sku, product_id: productId, is_variant: false },
        ...fields.variants.map((variant) => ({ sku: variant.sku, product_id: productId, is_variant: true })),
      ])}`

    /** Inserts the product and claims its SKUs. Run inside the caller's transaction (with its outbox append). */
    const insertProduct = Effect.fn("ProductRepository.insertProduct")(function* (
      id: ProductId,
      fields: ProductFields,
    ) {
      const [row] = yield* sql<ProductRow>`
        WITH p AS (
          INSERT INTO products (id, sku, name, description, price_amount, currency, category_id, variants, active)
          VALUES (${id}, ${fields.sku}, ${fields.name}, ${fields.description}, ${fields.price.amount},
                  ${fields.price.currency}, ${fields.categoryId}, ${variantsJson(fields.variants)}::jsonb, ${fields.active})
          RETURNING *
        )
        SELECT ${productColumns} FROM p`.pipe(Effect.catchAll(productWriteErrors(fields.categoryId)))
      yield* insertSkus(id, fields).pipe(Effect.catchAll(productWriteErrors(fields.categoryId)))
      if (row === undefined) return yield* Effect.dieMessage("INSERT … RETURNING returned no row")
      return toProduct(row)
    })

    /**
     * Writes `fields` over the product if it is still at `expectedVersion` (the optimistic guard) and moves
     * its variant SKUs. Run inside the caller's transaction.
     */
    const updateProduct = Effect.fn("ProductRepository.updateProduct")(function* (
      id: ProductId,
      expectedVersion: number,
      fields: ProductFields,
      variantsChanged: boolean,
    ) {
      const [row] = yield* sql<ProductRow>`
        WITH p AS (
          UPDATE products
          SET name = ${fields.name}, description = ${fields.description}, price_amount = ${fields.price.amount},
              currency = ${fields.price.currency}, category_id = ${fields.categoryId},
              variants = ${variantsJson(fields.variants)}::jsonb, active = ${fields.active},
              version = version + 1, updated_at = now()
          WHERE id = ${id} AND version = ${expectedVersion}
          RETURNING *
        )
        SELECT ${productColumns} FROM p`.pipe(Effect.catchAll(productWriteErrors(fields.categoryId)))
      if (row === undefined) {
        const current = yield* findById(id)
        if (Option.isNone(current)) return yield* new ProductNotFound({ productId: id })
        return yield* new ProductVersionConflict({
          productId: id,
          expectedVersion,
          currentVersion: current.value.version,
        })
      }
      if (variantsChanged) {
        yield* sql`DELETE FROM product_skus WHERE product_id = ${id} AND is_variant`.pipe(Effect.orDie)
        if (fields.variants.length > 0) {
          yield* sql`INSERT INTO product_skus ${sql.insert(
            fields.variants.map((variant) => ({ sku: variant.sku, product_id: id, is_variant: true })),
          )}`.pipe(Effect.catchAll(productWriteErrors(fields.categoryId)))
        }
      }
      return toProduct(row)
    })

    const findById = (id: ProductId) =>
      sql<ProductRow>`SELECT ${productColumns} FROM products p WHERE p.id = ${id}`.pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toProduct)),
        Effect.orDie,
      )

    const getById = Effect.fn("ProductRepository.getById")(function* (id: ProductId) {
      const product = yield* findById(id)
      if (Option.isNone(product)) return yield* new ProductNotFound({ productId: id })
      return product.value
    })

    const getBySku = Effect.fn("ProductRepository.getBySku")(function* (sku: Sku) {
      const [row] = yield* sql<ProductRow>`
        SELECT ${productColumns} FROM product_skus s JOIN products p ON p.id = s.product_id
        WHERE s.sku = ${sku}`.pipe(Effect.orDie)
      if (row === undefined) return yield* new ProductNotFound({ sku })
      return toProduct(row)
    })

    const categoryExists = (id: CategoryId) =>
      sql<{ id: string }>`SELECT id FROM categories WHERE id = ${id}`.pipe(
        Effect.map((rows) => rows.length > 0),
        Effect.orDie,
      )

    /** One page, newest first, plus whether another page follows. Validation is the caller's. */
    const listProducts = Effect.fn("ProductRepository.listProducts")(function* (
      request: ListProductsRequest,
      afterSeq: string | null,
    ) {
      const filters = [
        ...(request.includeInactive ? [] : [sql`p.active`]),
        ...(afterSeq === null ? [] : [sql`p.seq < ${afterSeq}::bigint`]),
        ...(request.categoryId === undefined
          ? []
          : [
              sql`p.category_id IN (
                WITH RECURSIVE tree AS (
                  SELECT id FROM categories WHERE id = ${request.categoryId}
                  UNION ALL
                  SELECT c.id FROM categories c JOIN tree t ON c.parent_id = t.id
                )
                SELECT id FROM tree)`,
            ]),
        ...(request.minPrice === undefined ? [] : [sql`p.price_amount >= ${request.minPrice}`]),
        ...(request.maxPrice === undefined ? [] : [sql`p.price_amount <= ${request.maxPrice}`]),
        ...(request.currency === undefined ? [] : [sql`p.currency = ${request.currency}`]),
        ...(request.query === undefined ? [] : [sql`p.search @@ websearch_to_tsquery('english', ${request.query})`]),
      ]
      const rows = yield* sql<ProductRow>`
        SELECT ${productColumns} FROM products p
        WHERE ${sql.and(filters)}
        ORDER BY p.seq DESC
        LIMIT ${request.limit + 1}`.pipe(Effect.orDie)
      const page = rows.slice(0, request.limit)
      const last = page[page.length - 1]
      return {
        items: page.map(toProduct),
        nextCursor: rows.length > request.limit && last !== undefined ? encodeCursor(last.seq) : null,
      }
    })

    const getPrices = Effect.fn("ProductRepository.getPrices")(function* (skus: ReadonlyArray<Sku>) {
      if (skus.length === 0) return []
      const rows = yield* sql<ProductRow & { readonly requested_sku: string; readonly is_variant: boolean }>`
        SELECT s.sku AS requested_sku, s.is_variant, ${productColumns}
        FROM product_skus s JOIN products p ON p.id = s.product_id
        WHERE ${sql.in("s.sku", skus)}`.pipe(Effect.orDie)
      return rows.map((row) => {
        const product = toProduct(row)
        const variant = row.is_variant ? product.variants.find((v) => v.sku === row.requested_sku) : undefined
        return new SkuPrice(
          {
            sku: row.requested_sku as Sku,
            productId: product.id,
            name: variant === undefined ? product.name : variantName(product.name, variant.attributes),
            price: variant?.price ?? product.price,
            active: product.active,
          },
          true,
        )
      })
    })

    const createCategory = Effect.fn("ProductRepository.createCategory")(function* (
      id: CategoryId,
      name: string,
      parentId: CategoryId | null,
    ) {
      const [row] = yield* sql`
        INSERT INTO categories (id, name, parent_id) VALUES (${id}, ${name}, ${parentId})
        RETURNING id, name, parent_id AS "parentId"`.pipe(
        Effect.catchAll((error): Effect.Effect<never, CategoryNotFound | DuplicateCategory> => {
          if (parentId !== null && isForeignKeyViolation(error, "categories_parent_id_fkey")) {
            return Effect.fail(new CategoryNotFound({ categoryId: parentId }))
          }
          if (isUniqueViolation(error)) return Effect.fail(new DuplicateCategory({ name, parentId }))
          return Effect.die(error)
        }),
      )
      if (row === undefined) return yield* Effect.dieMessage("INSERT … RETURNING returned no row")
      return yield* toCategory(row)
    })

    /** Parents before children (depth first by name), so a client can build the tree in one pass. */
    const listCategories = sql`
      WITH RECURSIVE tree AS (
        SELECT id, name, parent_id, ARRAY[name, id] AS path FROM categories WHERE parent_id IS NULL
        UNION ALL
        SELECT c.id, c.name, c.parent_id, t.path || ARRAY[c.name, c.id] FROM categories c JOIN tree t ON c.parent_id = t.id
      )
      SELECT id, name, parent_id AS "parentId" FROM tree ORDER BY path`.pipe(
      Effect.flatMap((rows) => Effect.forEach(rows, toCategory)),
      Effect.orDie,
      Effect.withSpan("ProductRepository.listCategories"),
    )

    return {
      insertProduct,
      updateProduct,
      getById,
      getBySku,
      categoryExists,
      listProducts,
      getPrices,
      createCategory,
      listCategories,
    }
  }),
}) {}
