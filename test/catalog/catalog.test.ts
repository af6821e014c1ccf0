import { afterAll, describe, expect, test } from "bun:test"
import { Cause, Effect, Exit, Redacted } from "effect"
import { Redis } from "ioredis"
import { type CategoryId, type ListProductsInput, Money, type ProductId, type Sku } from "../../rpc/catalog.ts"
import type { Currency } from "../../rpc/common.ts"
import { redisUrl } from "../../src/config.ts"
import { adminQuery } from "../support/postgres.ts"
import { testRuntime } from "../support/run.ts"
import { CatalogClient, CatalogTest, cachePrefix, newName, newSku, testDatabase } from "./support.ts"

const catalog = testRuntime(CatalogTest({ relay: true }))

afterAll(() => catalog.dispose())

const eur = (amount: number) => new Money({ amount, currency: "EUR" as Currency })
const usd = (amount: number) => new Money({ amount, currency: "USD" as Currency })

const newCategory = (parentId: CategoryId | null = null) =>
  Effect.flatMap(CatalogClient, (client) => client.CreateCategory({ name: newName("category"), parentId }))

const newProduct = (overrides: { categoryId?: CategoryId; price?: Money; name?: string; description?: string } = {}) =>
  Effect.flatMap(CatalogClient, (client) =>
    client.CreateProduct({
      sku: newSku(),
      name: overrides.name ?? newName("product"),
      description: overrides.description ?? "",
      price: overrides.price ?? eur(1000),
      categoryId: overrides.categoryId ?? null,
    }),
  )

describe("CreateProduct and GetProduct", () => {
  test("a product with variants is created at version 1 and found by id, by its SKU and by a variant's SKU", () =>
    catalog.run(
      Effect.gen(function* () {
        const client = yield* CatalogClient
        const category = yield* newCategory()
        const [sku, small, large] = [newSku("shirt"), newSku("shirt-s"), newSku("shirt-l")]
        const created = yield* client.CreateProduct({
          sku,
          name: "Linen shirt",
          description: "A shirt for warm days",
          price: eur(4_990),
          categoryId: category.id,
          variants: [
            { sku: small, attributes: { size: "S" } },
            { sku: large, attributes: { size: "L" }, price: eur(5_490) },
          ],
        })
        expect(created).toMatchObject({ sku, name: "Linen shirt", categoryId: category.id, active: true, version: 1 })
        expect(created.price).toEqual(eur(4_990))
        expect(created.variants.map((v) => [v.sku, v.attributes, v.price?.amount ?? null])).toEqual([
          [small, { size: "S" }, null],
          [large, { size: "L" }, 5_490],
        ])
        expect(yield* client.GetProduct({ id: created.id })).toEqual(created)
        expect(yield* client.GetProduct({ sku })).toEqual(created)
        expect(yield* client.GetProduct({ sku: large })).toEqual(created)
      }),
    ))

  test("a SKU already taken by a product, by a variant, or twice in one request fails with DuplicateSku", () =>
    catalog.run(
      Effect.gen(function* () {
        const client = yield* CatalogClient
        const variantSku = newSku("variant")
        const existing = yield* client.CreateProduct({
          sku: newSku(),
          name: "Existing",
          price: eur(100),
          variants: [{ sku: variantSku }],
        })
        const attempt = (sku: Sku, variants: ReadonlyArray<Sku> = []) =>
          client
            .CreateProduct({ sku, name: "Duplicate", price: eur(100), variants: variants.map((sku) => ({ sku })) })
            .pipe(Effect.flip)
        const sameSku = yield* attempt(existing.sku)
        expect(sameSku).toMatchObject({ _tag: "DuplicateSku", sku: existing.sku })
        expect(yield* attempt(variantSku)).toMatchObject({ _tag: "DuplicateSku", sku: variantSku })
        expect(yield* attempt(newSku(), [variantSku])).toMatchObject({ _tag: "DuplicateSku", sku: variantSku })
        const repeated = newSku("repeated")
        expect(yield* attempt(newSku(), [repeated, repeated])).toMatchObject({ _tag: "DuplicateSku", sku: repeated })
        // A refused create claims nothing: the fresh SKU of a refused request is still free.
        const fresh = newSku()
        yield* attempt(fresh, [variantSku])
        expect((yield* client.GetProduct({ sku: fresh }).pipe(Effect.flip))._tag).toBe("ProductNotFound")
      }),
    ))

  test("an unknown category fails with CategoryNotFound; a variant in another currency with InvalidProduct", () =>
    catalog.run(
      Effect.gen(function* () {
        const client = yield* CatalogClient
        const categoryId = `missing-${crypto.randomUUID()}` as CategoryId
        const unknown = yield* newProduct({ categoryId }).pipe(Effect.flip)
        expect(unknown).toMatchObject({ _tag: "CategoryNotFound", categoryId })
        const mixed = yield* client
          .CreateProduct({
            sku: newSku(),
            name: "Mixed",
            price: eur(100),
            variants: [{ sku: newSku(), price: usd(1) }],
          })
          .pipe(Effect.flip)
        expect(mixed._tag).toBe("InvalidProduct")
      }),
    ))

  test("a payload that breaks the schema (empty name, negative price) is refused before it is sent", () =>
    catalog.run(
      Effect.gen(function* () {
        const client = yield* CatalogClient
        const emptyName = yield* Effect.exit(client.CreateProduct({ sku: newSku(), name: "  ", price: eur(1) }))
        expect(Exit.isFailure(emptyName) && Cause.isDie(emptyName.cause)).toBe(true)
        const negative = yield* Effect.exit(
          Effect.suspend(() => client.CreateProduct({ sku: newSku(), name: "x", price: eur(-1) })),
        )
        expect(Exit.isFailure(negative)).toBe(true)
      }),
    ))

  test("an unknown id or SKU fails with ProductNotFound", () =>
    catalog.run(
      Effect.gen(function* () {
        const client = yield* CatalogClient
        const id = crypto.randomUUID() as ProductId
        expect(yield* client.GetProduct({ id }).pipe(Effect.flip)).toMatchObject({
          _tag: "ProductNotFound",
          productId: id,
        })
        const sku = newSku()
        expect(yield* client.GetProduct({ sku }).pipe(Effect.flip)).toMatchObject({ _tag: "ProductNotFound", sku })
      }),
    ))
})

describe("UpdateProduct (optimistic: the caller names the version it read)", () => {
  test("an update at the current version changes the named fields, bumps the version and moves variant SKUs", () =>
    catalog.run(
      Effect.gen(function* () {
        const client = yield* CatalogClient
        const [oldVariant, newVariant] = [newSku("old"), newSku("new")]
        const created = yield* client.CreateProduct({
          sku: newSku(),
          name: "Mug",
          description: "Stoneware",
          price: eur(1_200),
          variants: [{ sku: oldVariant }],
        })
        const updated = yield* client.UpdateProduct({
          id: created.id,
          expectedVersion: 1,
          price: eur(1_500),
          active: false,
          variants: [{ sku: newVariant, attributes: { color: "blue" } }],
        })
        expect(updated).toMatchObject({ name: "Mug", description: "Stoneware", active: false, version: 2 })
        expect(updated.price.amount).toBe(1_500)
        expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(created.updatedAt.getTime())
        expect((yield* client.GetProduct({ sku: newVariant })).id).toBe(created.id)
        expect((yield* client.GetProduct({ sku: oldVariant }).pipe(Effect.flip))._tag).toBe("ProductNotFound")
        // The released SKU is free for another product.
        yield* client.CreateProduct({ sku: oldVariant, name: "Reuses a released SKU", price: eur(1) })
      }),
    ))

  test("an update naming a stale version fails with ProductVersionConflict and changes nothing", () =>
    catalog.run(
      Effect.gen(function* () {
        const client = yield* CatalogClient
        const created = yield* newProduct()
        yield* client.UpdateProduct({ id: created.id, expectedVersion: 1, name: "First writer" })
        const conflict = yield* client
          .UpdateProduct({ id: created.id, expectedVersion: 1, name: "Second writer" })
          .pipe(Effect.flip)
        expect(conflict).toMatchObject({ _tag: "ProductVersionConflict", expectedVersion: 1, currentVersion: 2 })
        expect((yield* client.GetProduct({ id: created.id })).name).toBe("First writer")
      }),
    ))

  test("two racing updates of the same version: exactly one wins", () =>
    catalog.run(
      Effect.gen(function* () {
        const client = yield* CatalogClient
        const created = yield* newProduct()
        const results = yield* Effect.all(
          ["a", "b", "c", "d"].map((name) =>
            Effect.either(client.UpdateProduct({ id: created.id, expectedVersion: 1, name })),
          ),
          { concurrency: "unbounded" },
        )
        expect(results.filter((r) => r._tag === "Right")).toHaveLength(1)
        expect((yield* client.GetProduct({ id: created.id })).version).toBe(2)
      }),
    ))

  test("an unknown product, a taken variant SKU and an unknown category fail typed", () =>
    catalog.run(
      Effect.gen(function* () {
        const client = yield* CatalogClient
        const id = crypto.randomUUID() as ProductId
        const missing = yield* client.UpdateProduct({ id, expectedVersion: 1, name: "x" }).pipe(Effect.flip)
        expect(missing).toMatchObject({ _tag: "ProductNotFound", productId: id })
        const [mine, other] = [yield* newProduct(), yield* newProduct()]
        const taken = yield* client
          .UpdateProduct({ id: mine.id, expectedVersion: 1, variants: [{ sku: other.sku }] })
          .pipe(Effect.flip)
        expect(taken).toMatchObject({ _tag: "DuplicateSku", sku: other.sku })
        const categoryId = `missing-${crypto.randomUUID()}` as CategoryId
        const noCategory = yield* client
          .UpdateProduct({ id: mine.id, expectedVersion: 1, categoryId })
          .pipe(Effect.flip)
        expect(noCategory).toMatchObject({ _tag: "CategoryNotFound", categoryId })
        expect((yield* client.GetProduct({ id: mine.id })).version).toBe(1)
      }),
    ))
})

describe("ListProducts", () => {
  test("pages newest first with an opaque cursor until nextCursor is null, every product once", () =>
    catalog.run(
      Effect.gen(function* () {
        const client = yield* CatalogClient
        const category = yield* newCategory()
        const created = yield* Effect.forEach([1, 2, 3, 4, 5], () => newProduct({ categoryId: category.id }))
        const seen: Array<string> = []
        let cursor: string | undefined
        let pages = 0
        do {
          const page = yield* client.ListProducts({
            categoryId: category.id,
            limit: 2,
            ...(cursor === undefined ? {} : { cursor }),
          })
          seen.push(...page.items.map((p) => p.id))
          cursor = page.nextCursor ?? undefined
          pages++
        } while (cursor !== undefined)
        expect(pages).toBe(3)
        expect(seen).toEqual(created.map((p) => p.id).reverse())
        const bad = yield* client.ListProducts({ cursor: "not-a-cursor" }).pipe(Effect.flip)
        expect(bad._tag).toBe("InvalidCursor")
      }),
    ))

  test("filters by category (with subcategories), price range, currency, text and activity", () =>
    catalog.run(
      Effect.gen(function* () {
        const client = yield* CatalogClient
        const root = yield* newCategory()
        const child = yield* newCategory(root.id)
        // Letters only (a token with digits is not stemmed) and ending in "x", so no random suffix ("-ed",
        // "-e") makes the stems of the word and of its plural differ: the test relies on stemming.
        const letters = [...crypto.getRandomValues(new Uint8Array(8))].map((b) => String.fromCharCode(97 + (b % 26)))
        const word = `zebra${letters.join("")}x`
        const cheap = yield* newProduct({ categoryId: root.id, price: eur(500), name: `Cheap ${word} mug` })
        const mid = yield* newProduct({ categoryId: child.id, price: eur(2_000), description: `${word}s on it` })
        const dear = yield* newProduct({ categoryId: child.id, price: eur(9_000) })
        const dollars = yield* newProduct({ categoryId: root.id, price: usd(2_000) })
        const hidden = yield* newProduct({ categoryId: root.id, price: eur(2_000) })
        yield* client.UpdateProduct({ id: hidden.id, expectedVersion: 1, active: false })
        const ids = (request: ListProductsInput) =>
          client.ListProducts(request).pipe(Effect.map((page) => page.items.map((p): string => p.id).sort()))
        const sorted = (...products: ReadonlyArray<{ id: string }>) => products.map((p) => p.id).sort()

        expect(yield* ids({ categoryId: root.id })).toEqual(sorted(cheap, mid, dear, dollars))
        expect(yield* ids({ categoryId: child.id })).toEqual(sorted(mid, dear))
        expect(yield* ids({ categoryId: root.id, includeInactive: true })).toEqual(
          sorted(cheap, mid, dear, dollars, hidden),
        )
        expect(yield* ids({ categoryId: root.id, minPrice: 1_000, maxPrice: 2_000 })).toEqual(sorted(mid, dollars))
        expect(yield* ids({ categoryId: root.id, minPrice: 1_000, currency: "EUR" as Currency })).toEqual(
          sorted(mid, dear),
        )
        // Full text, stemmed: "zebras" in a description matches the word "zebra".
        expect(yield* ids({ query: word })).toEqual(sorted(cheap, mid))
        expect(yield* ids({ query: word, maxPrice: 1_000 })).toEqual(sorted(cheap))
      }),
    ))

  test("a reversed price range fails with InvalidPriceRange; an unknown category with CategoryNotFound", () =>
    catalog.run(
      Effect.gen(function* () {
        const client = yield* CatalogClient
        const reversed = yield* client.ListProducts({ minPrice: 10, maxPrice: 5 }).pipe(Effect.flip)
        expect(reversed).toMatchObject({ _tag: "InvalidPriceRange", minPrice: 10, maxPrice: 5 })
        const categoryId = `missing-${crypto.randomUUID()}` as CategoryId
        expect(yield* client.ListProducts({ categoryId }).pipe(Effect.flip)).toMatchObject({
          _tag: "CategoryNotFound",
          categoryId,
        })
      }),
    ))

  test("a listing is served from Redis (5 minute TTL) until a write, which is visible on the next read", async () => {
    const redis = new Redis(Redacted.value(await Effect.runPromise(redisUrl)))
    try {
      await catalog.run(
        Effect.gen(function* () {
          const client = yield* CatalogClient
          const category = yield* newCategory()
          const first = yield* newProduct({ categoryId: category.id })
          const listed = () => client.ListProducts({ categoryId: category.id }).pipe(Effect.map((p) => p.items))
          expect((yield* listed()).map((p): string => p.id)).toEqual([first.id])

          // A row written behind the service's back does not invalidate: the cached page is still served.
          const sneaked = crypto.randomUUID()
          yield* Effect.promise(() =>
            adminQuery(
              `INSERT INTO products (id, sku, name, price_amount, currency, category_id)
               VALUES ('${sneaked}', '${newSku()}', 'sneaked in', 1, 'EUR', '${category.id}')`,
              testDatabase,
            ),
          )
          expect((yield* listed()).map((p): string => p.id)).toEqual([first.id])
          const keys = yield* Effect.promise(() => redis.keys(`${cachePrefix}:*${category.id}*`))
          expect(keys.length).toBeGreaterThan(0)
          for (const key of keys) {
            const ttl = yield* Effect.promise(() => redis.ttl(key))
            expect(ttl).toBeGreaterThan(250)
            expect(ttl).toBeLessThanOrEqual(300)
          }

          // A write through the service bumps the generation: the next read sees the database again.
          yield* client.UpdateProduct({ id: first.id, expectedVersion: 1, name: "renamed" })
          const after = yield* listed()
          expect(after.map((p): string => p.id)).toEqual([sneaked, first.id])
          expect(after[1]?.name).toBe("renamed")
          const second = yield* newProduct({ categoryId: category.id })
          expect((yield* listed()).map((p): string => p.id)).toEqual([second.id, sneaked, first.id])
        }),
      )
    } finally {
      redis.disconnect()
    }
  })
})

describe("categories", () => {
  test("CreateCategory makes roots and children; ListCategories lists parents before children", () =>
    catalog.run(
      Effect.gen(function* () {
        const client = yield* CatalogClient
        const root = yield* newCategory()
        const child = yield* newCategory(root.id)
        const grandchild = yield* newCategory(child.id)
        expect(child.parentId).toBe(root.id)
        const all = yield* client.ListCategories({})
        const position = (id: string) => all.findIndex((c) => c.id === id)
        expect(position(root.id)).toBeGreaterThanOrEqual(0)
        expect(position(root.id)).toBeLessThan(position(child.id))
        expect(position(child.id)).toBeLessThan(position(grandchild.id))
        expect(all[position(grandchild.id)]).toEqual(grandchild)
      }),
    ))

  test("an unknown parent fails with CategoryNotFound; a sibling's name with DuplicateCategory", () =>
    catalog.run(
      Effect.gen(function* () {
        const client = yield* CatalogClient
        const parentId = `missing-${crypto.randomUUID()}` as CategoryId
        const orphan = yield* client.CreateCategory({ name: "orphan", parentId }).pipe(Effect.flip)
        expect(orphan).toMatchObject({ _tag: "CategoryNotFound", categoryId: parentId })
        const root = yield* newCategory()
        const twin = yield* client.CreateCategory({ name: root.name }).pipe(Effect.flip)
        expect(twin).toMatchObject({ _tag: "DuplicateCategory", name: root.name, parentId: null })
      }),
    ))
})

describe("GetPrices", () => {
  test("prices each known SKU (variant override or product price), flags inactive ones, skips unknown ones", () =>
    catalog.run(
      Effect.gen(function* () {
        const client = yield* CatalogClient
        const [plain, override] = [newSku("plain"), newSku("override")]
        const product = yield* client.CreateProduct({
          sku: newSku(),
          name: "Tee",
          price: eur(2_000),
          variants: [
            { sku: plain, attributes: { size: "M", color: "red" } },
            { sku: override, attributes: { size: "XL" }, price: eur(2_500) },
          ],
        })
        const retired = yield* newProduct()
        yield* client.UpdateProduct({ id: retired.id, expectedVersion: 1, active: false })
        const prices = yield* client.GetPrices({ skus: [product.sku, plain, override, retired.sku, newSku()] })
        const bySku = new Map(prices.map((p) => [p.sku, p]))
        expect(prices).toHaveLength(4)
        expect(bySku.get(product.sku)).toMatchObject({ productId: product.id, name: "Tee", active: true })
        expect(bySku.get(product.sku)?.price.amount).toBe(2_000)
        expect(bySku.get(plain)).toMatchObject({ name: "Tee (color: red, size: M)" })
        expect(bySku.get(plain)?.price.amount).toBe(2_000)
        expect(bySku.get(override)?.price.amount).toBe(2_500)
        expect(bySku.get(retired.sku)?.active).toBe(false)
        expect(yield* client.GetPrices({ skus: [] })).toEqual([])
      }),
    ))
})

describe("product events", () => {
  test("product.created and product.updated are in the outbox with the change, keyed by product id, and reach Kafka", async () => {
    const product = await catalog.run(
      Effect.gen(function* () {
        const client = yield* CatalogClient
        const created = yield* newProduct()
        yield* client.UpdateProduct({ id: created.id, expectedVersion: 1, name: "updated" })
        // A refused write leaves no event behind.
        yield* client.UpdateProduct({ id: created.id, expectedVersion: 1, name: "stale" }).pipe(Effect.flip)
        return created
      }),
    )
    const rows = () =>
      adminQuery(
        `SELECT event_type, topic, envelope, published_at FROM outbox WHERE event_key = '${product.id}' ORDER BY id`,
        testDatabase,
      )
    const events = await rows()
    expect(events.map((row) => [row.event_type, row.topic])).toEqual([
      ["product.created", "catalog"],
      ["product.updated", "catalog"],
    ])
    const updated = events[1]?.envelope as { payload: { product: { name: string; version: number } } }
    expect(updated.payload.product).toMatchObject({ name: "updated", version: 2 })
    // The relay marks a row published only after Kafka acknowledged it.
    const deadline = Date.now() + 15_000
    while ((await rows()).some((row) => row.published_at === null)) {
      if (Date.now() > deadline) throw new Error("outbox rows were not published to Kafka within 15 s")
      await Bun.sleep(100)
    }
  })
})
