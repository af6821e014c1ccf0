/** The caller's cart: lines priced by the catalog when added; frozen while a checkout holds it. */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import {
  Cart,
  CartFrozen,
  CatalogUnavailable,
  CurrencyMismatch,
  InvalidQuantity,
  ItemNotFound,
  maxQuantity,
  ProductNotFound,
} from "../../../rpc/cart.ts"
import { Sku } from "../../../rpc/common.ts"
import { Authenticated } from "./security.ts"

const Quantity = Schema.Int.pipe(Schema.between(1, maxQuantity))
export const AddItemBody = Schema.Struct({ sku: Sku, quantity: Quantity })
export const SetQuantityBody = Schema.Struct({ quantity: Quantity })
export const CartItemPath = Schema.Struct({ sku: Sku })

export class CartApi extends HttpApiGroup.make("cart")
  .add(HttpApiEndpoint.get("getCart", "/cart").addSuccess(Cart).annotate(OpenApi.Summary, "The caller's cart"))
  .add(
    HttpApiEndpoint.post("addItem", "/cart/items")
      .setPayload(AddItemBody)
      .addSuccess(Cart)
      .addError(ProductNotFound, { status: 404 })
      .addError(CartFrozen, { status: 409 })
      .addError(CurrencyMismatch, { status: 409 })
      .addError(InvalidQuantity, { status: 422 })
      .addError(CatalogUnavailable, { status: 503 })
      .annotate(OpenApi.Summary, "Add units of a SKU (to its line if the cart has one)"),
  )
  .add(
    HttpApiEndpoint.put("setQuantity", "/cart/items/:sku")
      .setPath(CartItemPath)
      .setPayload(SetQuantityBody)
      .addSuccess(Cart)
      .addError(ItemNotFound, { status: 404 })
      .addError(ProductNotFound, { status: 404 })
      .addError(CartFrozen, { status: 409 })
      .addError(CurrencyMismatch, { status: 409 })
      .addError(InvalidQuantity, { status: 422 })
      .addError(CatalogUnavailable, { status: 503 }),
  )
  .add(
    HttpApiEndpoint.del("removeItem", "/cart/items/:sku")
      .setPath(CartItemPath)
      .addSuccess(Cart)
      .addError(ItemNotFound, { status: 404 })
      .addError(CartFrozen, { status: 409 }),
  )
  .middleware(Authenticated) {}
