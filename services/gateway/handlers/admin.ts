/** Admin routes. Catalog writes empty the response cache so shoppers see them at once. */
import { Effect } from "effect"
import { implementGateway } from "./implement.ts"
import { GatewayApi } from "../api/index.ts"
import { tokenOf } from "../auth.ts"
import { CatalogClient, DeliveryClient, InventoryClient, OrderClient, UserClient } from "../clients.ts"
import { ResponseCache } from "../response-cache.ts"
import { orUnavailable } from "../unavailable.ts"

const thenInvalidate = <A, E, R>(write: Effect.Effect<A, E, R>) =>
  Effect.tap(write, () => Effect.flatMap(ResponseCache, (cache) => cache.invalidate))

export const AdminHandlers = implementGateway(GatewayApi, "admin", {
  createProduct: ({ payload }) =>
    thenInvalidate(Effect.flatMap(CatalogClient, (catalog) => catalog.CreateProduct(payload))).pipe(
      orUnavailable("catalog"),
    ),
  updateProduct: ({ path, payload }) =>
    thenInvalidate(Effect.flatMap(CatalogClient, (catalog) => catalog.UpdateProduct({ ...payload, id: path.id }))).pipe(
      orUnavailable("catalog"),
    ),
  createCategory: ({ payload }) =>
    thenInvalidate(Effect.flatMap(CatalogClient, (catalog) => catalog.CreateCategory(payload))).pipe(
      orUnavailable("catalog"),
    ),
  getStock: ({ path }) =>
    Effect.flatMap(InventoryClient, (inventory) => inventory.GetStock({ sku: path.sku })).pipe(
      orUnavailable("inventory"),
    ),
  restock: ({ path, payload }) =>
    Effect.flatMap(InventoryClient, (inventory) => inventory.Restock({ ...payload, sku: path.sku })).pipe(
      orUnavailable("inventory"),
    ),
  adjustStock: ({ path, payload }) =>
    Effect.flatMap(InventoryClient, (inventory) => inventory.Adjust({ ...payload, sku: path.sku })).pipe(
      orUnavailable("inventory"),
    ),
  listOrders: ({ urlParams }) =>
    Effect.flatMap(OrderClient, (orders) => orders.ListOrders(urlParams)).pipe(orUnavailable("order")),
  getOrder: ({ path }) =>
    Effect.flatMap(OrderClient, (orders) => orders.GetOrder({ orderId: path.id })).pipe(orUnavailable("order")),
  shipOrder: ({ path }) =>
    Effect.flatMap(OrderClient, (orders) => orders.MarkShipped({ orderId: path.id })).pipe(orUnavailable("order")),
  createZone: ({ payload }) =>
    Effect.flatMap(DeliveryClient, (delivery) => delivery.CreateZone(payload)).pipe(orUnavailable("delivery")),
  createSlot: ({ payload }) =>
    Effect.flatMap(DeliveryClient, (delivery) => delivery.CreateSlot(payload)).pipe(orUnavailable("delivery")),
  grantRole: ({ path, raw }) =>
    Effect.flatMap(UserClient, (users) => users.GrantRole({ token: tokenOf(raw), ...path })).pipe(
      orUnavailable("user"),
      Effect.catchTags({ InvalidToken: Effect.die, SessionExpired: Effect.die, Forbidden: Effect.die }),
    ),
  revokeRole: ({ path, raw }) =>
    Effect.flatMap(UserClient, (users) => users.RevokeRole({ token: tokenOf(raw), ...path })).pipe(
      orUnavailable("user"),
      Effect.catchTags({ InvalidToken: Effect.die, SessionExpired: Effect.die, Forbidden: Effect.die }),
    ),
})
