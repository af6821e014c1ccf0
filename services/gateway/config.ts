/**
 * The gateway's own settings (the shared ones are in src/config.ts):
 *
 * - GATEWAY_RATE_LIMIT_BURST (120): requests a caller may send at once (the token bucket's size)
 * - GATEWAY_RATE_LIMIT_PER_SECOND (60): tokens added back per second, per caller
 * - GATEWAY_CACHE_TTL_SECONDS (30): how long a public catalog answer is shared through Redis
 * - GATEWAY_LOCAL_CACHE_MS (1000): how long this process reuses a catalog answer without asking Redis
 * - GATEWAY_DEFAULT_DELIVERY_ZONE (standard): the zone a checkout books in when it names none
 * - GATEWAY_SESSION_CACHE_MS (60000): how long a session confirmed live is trusted without asking the user
 *   service again, should the announcement of its logout or role change be lost (normally it arrives in
 *   milliseconds and the session is dropped then)
 * - GATEWAY_SESSION_CACHE_SIZE (100000): sessions remembered at most (the oldest is dropped first)
 * - GATEWAY_TRUSTED_PROXIES (none): comma-separated addresses of proxies in front of the gateway; a request
 *   from one of them is rate-limited by the client address in its X-Forwarded-For, not by the proxy's
 */
import { Config } from "effect"
import { commaSeparated } from "../../src/config.ts"

export const rateLimitBurst = Config.integer("GATEWAY_RATE_LIMIT_BURST").pipe(Config.withDefault(120))
export const rateLimitPerSecond = Config.number("GATEWAY_RATE_LIMIT_PER_SECOND").pipe(Config.withDefault(60))
export const cacheTtlSeconds = Config.integer("GATEWAY_CACHE_TTL_SECONDS").pipe(Config.withDefault(30))
export const localCacheMillis = Config.integer("GATEWAY_LOCAL_CACHE_MS").pipe(Config.withDefault(1000))
export const defaultDeliveryZone = Config.string("GATEWAY_DEFAULT_DELIVERY_ZONE").pipe(Config.withDefault("standard"))
export const sessionCacheMillis = Config.integer("GATEWAY_SESSION_CACHE_MS").pipe(Config.withDefault(60_000))
export const sessionCacheSize = Config.integer("GATEWAY_SESSION_CACHE_SIZE").pipe(Config.withDefault(100_000))
export const trustedProxies = commaSeparated("GATEWAY_TRUSTED_PROXIES").pipe(
  Config.map((addresses): ReadonlySet<string> => new Set(addresses)),
)
