/** The CartRpcs implementation: each method is one operation of Carts. */
import { Effect } from "effect"
import { CartRpcs } from "../../rpc/cart.ts"
import { Carts } from "./carts.ts"

export const CartHandlers = CartRpcs.toLayer(
  Effect.gen(function* () {
    const carts = yield* Carts
    return {
      AddItem: ({ userId, sku, quantity }) => carts.addItem(userId, sku, quantity),
      UpdateItem: ({ userId, sku, quantity }) => carts.updateItem(userId, sku, quantity),
      RemoveItem: ({ userId, sku }) => carts.removeItem(userId, sku),
      GetCart: ({ userId }) => carts.getCart(userId),
    }
  }),
)
