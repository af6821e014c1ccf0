/** Public catalog reads: the listing with search and filters, a product with its stock, the category tree. */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import {
  Category,
  CategoryId,
  CategoryNotFound,
  InvalidCursor,
  InvalidPriceRange,
  maxPageSize,
  Product,
  ProductId,
  ProductNotFound,
  ProductPage,
} from "../../../rpc/catalog.ts"
import { Currency, Sku } from "../../../rpc/common.ts"
import { IntFromQuery } from "./query.ts"

export const ProductListQuery = Schema.Struct({
  q: Schema.optionalWith(Schema.Trimmed.pipe(Schema.nonEmptyString(), Schema.maxLength(200)), {
    exact: true,
  }).annotations({ description: 'Full-text search over name and description (words, "phrases", -exclusions)' }),
  categoryId: Schema.optionalWith(CategoryId, { exact: true }),
  minPrice: Schema.optionalWith(IntFromQuery(0, Number.MAX_SAFE_INTEGER), { exact: true }),
  maxPrice: Schema.optionalWith(IntFromQuery(0, Number.MAX_SAFE_INTEGER), { exact: true }),
  currency: Schema.optionalWith(Currency, { exact: true }),
  limit: Schema.optionalWith(IntFromQuery(1, maxPageSize), { exact: true }),
  cursor: Schema.optionalWith(Schema.String.pipe(Schema.maxLength(200)), { exact: true }),
})
export type ProductListQuery = typeof ProductListQuery.Type

export class SkuStock extends Schema.Class<SkuStock>("SkuStock")({
  sku: Sku,
  /** Units free to buy now; 0 for a SKU the warehouse does not know. */
  available: Schema.NonNegativeInt,
}) {}

export class ProductDetail extends Schema.Class<ProductDetail>("ProductDetail")({
  product: Product,
  /** One entry per SKU: the product's own and each variant's. */
  stock: Schema.Array(SkuStock),
}) {}

export const ProductPath = Schema.Struct({ id: ProductId })

export class CatalogApi extends HttpApiGroup.make("catalog")
  .add(
    HttpApiEndpoint.get("listProducts", "/products")
      .setUrlParams(ProductListQuery)
      .addSuccess(ProductPage)
      .addError(InvalidPriceRange, { status: 400 })
      .addError(InvalidCursor, { status: 400 })
      .addError(CategoryNotFound, { status: 404 })
      .annotate(OpenApi.Summary, "Browse and search active products, newest first (cached)"),
  )
  .add(
    HttpApiEndpoint.get("getProduct", "/products/:id")
      .setPath(ProductPath)
      .addSuccess(ProductDetail)
      .addError(ProductNotFound, { status: 404 })
      .annotate(OpenApi.Summary, "A product with the stock available for each of its SKUs"),
  )
  .add(
    HttpApiEndpoint.get("listCategories", "/categories")
      .addSuccess(Schema.Array(Category))
      .annotate(OpenApi.Summary, "The category tree, parents before children (cached)"),
  ) {}
