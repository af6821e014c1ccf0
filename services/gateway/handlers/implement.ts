/**
 * What a gateway handler may use: the RPC clients, the response cache, the session cache, the address cache,
 * the payment method seal and the caller's verified session.
 */
import { implement } from "../../../src/http-api-hono.ts"
import type { CurrentUser } from "../api/security.ts"
import type {
  AnalyticsClient,
  CartClient,
  CatalogClient,
  DeliveryClient,
  InventoryClient,
  OrderClient,
  UserClient,
} from "../clients.ts"
import type { ResponseCache } from "../response-cache.ts"
import type { SessionCache } from "../sessions.ts"
import type { AddressCache } from "../addresses.ts"
import type { PaymentMethodSeal } from "../../../src/payment-method-seal.ts"

export type GatewayClients =
  | CatalogClient
  | InventoryClient
  | CartClient
  | UserClient
  | OrderClient
  | DeliveryClient
  | AnalyticsClient

export type GatewayServices = GatewayClients | ResponseCache | SessionCache | AddressCache | PaymentMethodSeal

export const implementGateway = implement<GatewayServices | CurrentUser>()
