/**
 * Rate limiting in Redis: one token bucket per caller (its session token when it sends one, else its
 * IP), refilled continuously, checked and spent in one Lua script so concurrent requests through any
 * number of gateway replicas never overspend. The script reads Redis's own clock, so replicas with
 * skewed clocks agree. When Redis does not answer, requests pass (the limiter protects the mesh; it
 * must not become the outage) and the failure is logged.
 */
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { RedisClient } from "../../src/redis.ts"
import { rateLimitBurst, rateLimitPerSecond } from "./config.ts"

const tokenBucket = `
local burst = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2]) / 1000
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * perMs)
local allowed = 0
local waitMs = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  waitMs = math.ceil((1 - tokens) / perMs)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / perMs) + 1000)
return { allowed, waitMs }
`

export interface RateDecision {
  readonly allowed: boolean
  readonly retryAfterSeconds: number
}

const callerKey = (request: Request, ip: string) => {
  const auth = request.headers.get("authorization")
  if (auth !== null && auth.length > 7) {
    return `gateway:rate:token:${createHash("sha256").update(auth).digest("base64url").slice(0, 22)}`
  }
  return `gateway:rate:ip:${ip}`
}

export class RateLimiter extends Effect.Service<RateLimiter>()("gateway/RateLimiter", {
  effect: Effect.gen(function* () {
    const redis = yield* RedisClient
    const burst = yield* rateLimitBurst
    const perSecond = yield* rateLimitPerSecond
    const sha = yield* Effect.promise(() => redis.script("LOAD", tokenBucket) as Promise<string>)

    const run = async (key: string): Promise<ReadonlyArray<number>> => {
      try {
        return (await redis.evalsha(sha, 1, key, burst, perSecond)) as ReadonlyArray<number>
      } catch (error) {
        // After a Redis restart the script cache is empty: load it again by sending the source once.
        if (String(error).includes("NOSCRIPT"))
          return (await redis.eval(tokenBucket, 1, key, burst, perSecond)) as ReadonlyArray<number>
        throw error
      }
    }

    /** Spends one token of the caller's bucket. */
    const take = (request: Request, ip: string) =>
      Effect.tryPromise(() => run(callerKey(request, ip))).pipe(
        Effect.map(
          ([allowed, waitMs]): RateDecision => ({
            allowed: allowed === 1,
            retryAfterSeconds: Math.max(1, Math.ceil((waitMs ?? 1000) / 1000)),
          }),
        ),
        Effect.catchAll((error) =>
          Effect.logWarning("rate limiter unavailable; letting the request through").pipe(
            Effect.annotateLogs("error", String(error.cause)),
            Effect.as<RateDecision>({ allowed: true, retryAfterSeconds: 0 }),
          ),
        ),
      )

    return { take } as const
  }),
}) {}
