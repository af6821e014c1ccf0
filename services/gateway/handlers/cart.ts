/** The caller's cart; the user id always comes from the verified session, never from the request. */
import { Effect } from "effect"
import { implementGateway } from "./implement.ts"
import { GatewayApi } from "../api/index.ts"
import { CurrentUser } from "../api/security.ts"
import { CartClient } from "../clients.ts"
import { orUnavailable } from "../unavailable.ts"

const asCaller = Effect.all({ carts: CartClient, session: CurrentUser })

export const CartHandlers = implementGateway(GatewayApi, "cart", {
  getCart: () =>
    Effect.flatMap(asCaller, ({ carts, session }) => carts.GetCart({ userId: session.userId })).pipe(
      orUnavailable("cart"),
    ),
  addItem: ({ payload }) =>
    Effect.flatMap(asCaller, ({ carts, session }) => carts.AddItem({ ...payload, userId: session.userId })).pipe(
      orUnavailable("cart"),
    ),
  setQuantity: ({ path, payload }) =>
    Effect.flatMap(asCaller, ({ carts, session }) =>
      carts.UpdateItem({ userId: session.userId, sku: path.sku, quantity: payload.quantity }),
    ).pipe(orUnavailable("cart")),
  removeItem: ({ path }) =>
    Effect.flatMap(asCaller, ({ carts, session }) => carts.RemoveItem({ userId: session.userId, sku: path.sku })).pipe(
      orUnavailable("cart"),
    ),
})
