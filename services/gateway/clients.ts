/** The services behind the gateway, each an RPC client whose address comes from Config. */
import { Layer } from "effect"
import { AnalyticsRpcs } from "../../rpc/analytics.ts"
import { CartRpcs } from "../../rpc/cart.ts"
import { CatalogRpcs } from "../../rpc/catalog.ts"
import { DeliveryRpcs } from "../../rpc/delivery.ts"
import { InventoryRpcs } from "../../rpc/inventory.ts"
import { OrderRpcs } from "../../rpc/order.ts"
import { UserRpcs } from "../../rpc/user.ts"
import { RpcClientTag } from "../../src/rpc/index.ts"

const options = { timeout: "5 seconds" } as const

export class CatalogClient extends RpcClientTag<CatalogClient>()("catalog", CatalogRpcs, options) {}
export class InventoryClient extends RpcClientTag<InventoryClient>()("inventory", InventoryRpcs, options) {}
export class CartClient extends RpcClientTag<CartClient>()("cart", CartRpcs, options) {}
export class UserClient extends RpcClientTag<UserClient>()("user", UserRpcs, options) {}
export class OrderClient extends RpcClientTag<OrderClient>()("order", OrderRpcs, options) {}
export class DeliveryClient extends RpcClientTag<DeliveryClient>()("delivery", DeliveryRpcs, options) {}
export class AnalyticsClient extends RpcClientTag<AnalyticsClient>()("analytics", AnalyticsRpcs, options) {}

/** Network clients of every service the gateway calls (the monolith gives it in-process ones instead). */
export const GatewayClientsLive = Layer.mergeAll(
  CatalogClient.Live,
  InventoryClient.Live,
  CartClient.Live,
  UserClient.Live,
  OrderClient.Live,
  DeliveryClient.Live,
  AnalyticsClient.Live,
)
