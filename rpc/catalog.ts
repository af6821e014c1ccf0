/**
 * The catalog service's contract: products (with variants that carry their own SKU and an optional price
 * override), categories (a tree), the product listing with filters and cursor pagination, and the price
 * lookup the cart uses. Product and variant SKUs share one namespace: a SKU names exactly one sellable thing.
 *
 * Updates are optimistic: an UpdateProduct names the `version` it read and fails with
 * `ProductVersionConflict` when someone else wrote in between, so no edit is silently overwritten.
 */
import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import { defineEvent } from "../src/events/envelope.ts"
import { Currency, Identifier, Money, ProductId, Sku } from "./common.ts"

export { Money, ProductId, Sku }

export const CategoryId = Identifier.pipe(Schema.brand("CategoryId"))
export type CategoryId = typeof CategoryId.Type

const Name = Schema.Trimmed.pipe(Schema.nonEmptyString(), Schema.maxLength(200))
const Description = Schema.String.pipe(Schema.maxLength(10_000))

/** Variant attributes such as `{ size: "M", color: "red" }`. */
export const VariantAttributes = Schema.Record({
  key: Schema.Trimmed.pipe(Schema.nonEmptyString(), Schema.maxLength(50)),
  value: Schema.String.pipe(Schema.maxLength(200)),
})

export class Variant extends Schema.Class<Variant>("Variant")({
  sku: Sku,
  attributes: VariantAttributes,
  /** The variant's own price; null means the product's price. Same currency as the product. */
  price: Schema.NullOr(Money),
}) {}

export class Product extends Schema.Class<Product>("Product")({
  id: ProductId,
  sku: Sku,
  name: Schema.String,
  description: Schema.String,
  price: Money,
  categoryId: Schema.NullOr(CategoryId),
  variants: Schema.Array(Variant),
  active: Schema.Boolean,
  /** Starts at 1, bumped by every update; UpdateProduct must name the version it read. */
  version: Schema.Int,
  createdAt: Schema.Date,
  updatedAt: Schema.Date,
}) {}

export class Category extends Schema.Class<Category>("Category")({
  id: CategoryId,
  name: Schema.String,
  parentId: Schema.NullOr(CategoryId),
}) {}

/** What the cart needs to price a line: the SKU's effective price (variant override or product price). */
export class SkuPrice extends Schema.Class<SkuPrice>("SkuPrice")({
  sku: Sku,
  productId: ProductId,
  /** The product name, with the variant's attributes appended for a variant SKU. */
  name: Schema.String,
  price: Money,
  active: Schema.Boolean,
}) {}

/** A variant as a client writes it: no attributes means none, no price means the product's price. */
export const VariantInput = Schema.Struct({
  sku: Sku,
  attributes: Schema.optionalWith(VariantAttributes, { exact: true }),
  price: Schema.optionalWith(Schema.NullOr(Money), { exact: true }),
})
export type VariantInput = typeof VariantInput.Type

const Variants = Schema.Array(VariantInput).pipe(Schema.maxItems(100))

export const CreateProductRequest = Schema.Struct({
  sku: Sku,
  name: Name,
  description: Schema.optionalWith(Description, { default: () => "" }),
  price: Money,
  categoryId: Schema.optionalWith(Schema.NullOr(CategoryId), { default: () => null }),
  variants: Schema.optionalWith(Variants, { default: () => [] }),
  active: Schema.optionalWith(Schema.Boolean, { default: () => true }),
})
export type CreateProductRequest = typeof CreateProductRequest.Type

/** A partial update: absent fields keep their value. `variants`, when present, replaces the whole list. */
export const UpdateProductRequest = Schema.Struct({
  id: ProductId,
  expectedVersion: Schema.Int.pipe(Schema.positive()),
  name: Schema.optionalWith(Name, { exact: true }),
  description: Schema.optionalWith(Description, { exact: true }),
  price: Schema.optionalWith(Money, { exact: true }),
  categoryId: Schema.optionalWith(Schema.NullOr(CategoryId), { exact: true }),
  variants: Schema.optionalWith(Variants, { exact: true }),
  active: Schema.optionalWith(Schema.Boolean, { exact: true }),
})
export type UpdateProductRequest = typeof UpdateProductRequest.Type

export const maxPageSize = 100

export const ListProductsRequest = Schema.Struct({
  /** Products of this category and of all its descendants. */
  categoryId: Schema.optionalWith(CategoryId, { exact: true }),
  /** Inclusive bounds on the product's price, in minor units. */
  minPrice: Schema.optionalWith(Schema.NonNegativeInt, { exact: true }),
  maxPrice: Schema.optionalWith(Schema.NonNegativeInt, { exact: true }),
  currency: Schema.optionalWith(Currency, { exact: true }),
  /** Full-text search over name and description (web search syntax: words, "phrases", -exclusions). */
  query: Schema.optionalWith(Schema.Trimmed.pipe(Schema.nonEmptyString(), Schema.maxLength(200)), { exact: true }),
  includeInactive: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  limit: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, maxPageSize)), { default: () => 20 }),
  /** `nextCursor` of the previous page. Opaque. */
  cursor: Schema.optionalWith(Schema.String.pipe(Schema.maxLength(200)), { exact: true }),
})
export type ListProductsRequest = typeof ListProductsRequest.Type
/** What a client passes: the defaults may be left out. */
export type ListProductsInput = Schema.Struct.Constructor<typeof ListProductsRequest.fields>

/** Newest first; `nextCursor` is null on the last page. */
export const ProductPage = Schema.Struct({ items: Schema.Array(Product), nextCursor: Schema.NullOr(Schema.String) })
export type ProductPage = typeof ProductPage.Type

// Errors -----------------------------------------------------------------------------------------

export class ProductNotFound extends Schema.TaggedError<ProductNotFound>()("ProductNotFound", {
  productId: Schema.optional(ProductId),
  sku: Schema.optional(Sku),
}) {}

/** The SKU is already taken by a product or a variant (possibly of the same request). */
export class DuplicateSku extends Schema.TaggedError<DuplicateSku>()("DuplicateSku", { sku: Sku }) {}

export class CategoryNotFound extends Schema.TaggedError<CategoryNotFound>()("CategoryNotFound", {
  categoryId: CategoryId,
}) {}

/** A sibling category of the same parent already has this name. */
export class DuplicateCategory extends Schema.TaggedError<DuplicateCategory>()("DuplicateCategory", {
  name: Schema.String,
  parentId: Schema.NullOr(CategoryId),
}) {}

/** The product was updated since the caller read it. */
export class ProductVersionConflict extends Schema.TaggedError<ProductVersionConflict>()("ProductVersionConflict", {
  productId: ProductId,
  expectedVersion: Schema.Int,
  currentVersion: Schema.Int,
}) {}

export class InvalidPriceRange extends Schema.TaggedError<InvalidPriceRange>()("InvalidPriceRange", {
  minPrice: Schema.Int,
  maxPrice: Schema.Int,
}) {}

/** Rules that span several fields, e.g. a variant priced in another currency than its product. */
export class InvalidProduct extends Schema.TaggedError<InvalidProduct>()("InvalidProduct", {
  message: Schema.String,
}) {}

/** A cursor that this service did not issue (or a different version of it did). */
export class InvalidCursor extends Schema.TaggedError<InvalidCursor>()("InvalidCursor", {
  cursor: Schema.String,
}) {}

// Events (Kafka topic "catalog", keyed by product id, written through the outbox) ----------------

export const catalogTopic = "catalog"

export const ProductCreated = defineEvent("product.created", catalogTopic, Schema.Struct({ product: Product }))
export const ProductUpdated = defineEvent(
  "product.updated",
  catalogTopic,
  Schema.Struct({ product: Product, previousVersion: Schema.Int }),
)

// The group --------------------------------------------------------------------------------------

export class CatalogRpcs extends RpcGroup.make(
  Rpc.make("CreateProduct", {
    payload: CreateProductRequest,
    success: Product,
    error: Schema.Union(DuplicateSku, CategoryNotFound, InvalidProduct),
  }),
  Rpc.make("UpdateProduct", {
    payload: UpdateProductRequest,
    success: Product,
    error: Schema.Union(ProductNotFound, ProductVersionConflict, DuplicateSku, CategoryNotFound, InvalidProduct),
  }),
  /** By product id, or by SKU (a product's or one of its variants'). */
  Rpc.make("GetProduct", {
    payload: Schema.Union(Schema.Struct({ id: ProductId }), Schema.Struct({ sku: Sku })),
    success: Product,
    error: ProductNotFound,
  }),
  Rpc.make("ListProducts", {
    payload: ListProductsRequest,
    success: ProductPage,
    error: Schema.Union(InvalidPriceRange, InvalidCursor, CategoryNotFound),
  }),
  Rpc.make("CreateCategory", {
    payload: Schema.Struct({
      name: Name,
      parentId: Schema.optionalWith(Schema.NullOr(CategoryId), { default: () => null }),
    }),
    success: Category,
    error: Schema.Union(CategoryNotFound, DuplicateCategory),
  }),
  /** The whole tree, parents before children. */
  Rpc.make("ListCategories", {
    payload: {},
    success: Schema.Array(Category),
  }),
  /** Prices of the known SKUs among `skus` (inactive products included, flagged); unknown SKUs are left out. */
  Rpc.make("GetPrices", {
    payload: { skus: Schema.Array(Sku).pipe(Schema.maxItems(500)) },
    success: Schema.Array(SkuPrice),
  }),
) {}
