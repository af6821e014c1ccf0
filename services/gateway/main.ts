/**
 * The gateway process: `bun run services/gateway/main.ts`.
 * Only wiring: the REST API (hono) on GATEWAY_HTTP_PORT with /healthz, /readyz, /metrics, /openapi.json
 * and /docs beside it (services/gateway/service.ts), and RPC clients of the services behind it.
 */
import { Layer } from "effect"
import { runService } from "../../src/service.ts"
import {
  AnalyticsClient,
  CartClient,
  CatalogClient,
  DeliveryClient,
  InventoryClient,
  OrderClient,
  UserClient,
} from "./clients.ts"
import { GatewayService } from "./service.ts"

const Clients = Layer.mergeAll(
  CatalogClient.Live,
  InventoryClient.Live,
  CartClient.Live,
  UserClient.Live,
  OrderClient.Live,
  DeliveryClient.Live,
  AnalyticsClient.Live,
)

runService("gateway", GatewayService.pipe(Layer.provide(Clients)))
