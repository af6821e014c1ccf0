/**
 * The gateway's Layers apart from how it reaches the services: the REST server with its rate limiter,
 * response cache, session and address caches (fed by the user service's announcements) and Redis. The process (main.ts) gives it network RPC clients; the monolith gives it
 * in-process ones.
 */
import { Layer } from "effect"
import { RedisLive } from "../../src/redis.ts"
import { RateLimiter } from "./rate-limit.ts"
import { ResponseCache } from "./response-cache.ts"
import { SessionCache } from "./sessions.ts"
import { AddressCache } from "./addresses.ts"
import { PaymentMethodSeal } from "../../src/payment-method-seal.ts"
import { Announcements } from "./announcements.ts"
import { GatewayServerLive } from "./server.ts"

export const GatewayService = GatewayServerLive.pipe(
  Layer.provide(
    Layer.mergeAll(
      RateLimiter.Default,
      ResponseCache.Default,
      SessionCache.Default,
      AddressCache.Default,
      PaymentMethodSeal.Default,
    ),
  ),
  Layer.provide(Announcements.Default),
  Layer.provide(RedisLive),
)
