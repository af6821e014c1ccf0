/**
 * The gateway process: `bun run services/gateway/main.ts`.
 * Only wiring: the REST API (hono) on GATEWAY_HTTP_PORT with /healthz, /readyz, /metrics, /openapi.json
 * and /docs beside it, RPC clients of the services behind it, and Redis for the rate limit and the cache.
 */
import { Layer } from "effect"
import { RedisLive } from "../../src/redis.ts"
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
import { RateLimiter } from "./rate-limit.ts"
import { ResponseCache } from "./response-cache.ts"
import { GatewayServerLive } from "./server.ts"

const Clients = Layer.mergeAll(
  CatalogClient.Live,
  InventoryClient.Live,
  CartClient.Live,
  UserClient.Live,
  OrderClient.Live,
  DeliveryClient.Live,
  AnalyticsClient.Live,
)

const Main = GatewayServerLive.pipe(
  Layer.provide(Layer.mergeAll(Clients, RateLimiter.Default, ResponseCache.Default)),
  Layer.provide(RedisLive),
)

runService("gateway", Main)
