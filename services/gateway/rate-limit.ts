/**
 * Rate limiting in Redis: one token bucket per caller (its session token when it sends one, else its
 * IP), refilled continuously, checked and spent in one Lua script so concurrent requests through any
 * number of gateway replicas never overspend. The script reads Redis's own clock, so replicas with
 * skewed clocks agree.
 *
 * A busy caller does not cost a Redis call per request: the script hands out up to a tenth of the burst
 * at once, which this process spends locally within a second and then forgets. So a caller can exceed
 * its limit by at most a tenth of its burst per gateway replica, and a caller under a burst of 10 is
 * checked in Redis request by request. (The lease was capped at 50 tokens; a client sending tens of
 * thousands of requests a second under a limit that allows them then cost a Redis call every 50, 12 % of
 * the gateway's CPU. A tenth of the burst is the bound that matters.) When Redis does not answer,
 * requests pass (the limiter protects the mesh; it must not become the outage) and the failure is logged.
 */
import { Effect, Runtime } from "effect"
import { createHash } from "node:crypto"
import { RedisClient } from "../../src/redis.ts"
import { rateLimitBurst, rateLimitPerSecond, trustedProxies } from "./config.ts"

/** KEYS[1] the bucket; ARGV burst, refill per second, tokens wanted. Returns { granted, waitMs }. */
const tokenBucket = `
local burst = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2]) / 1000
local want = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * perMs)
local granted = math.min(want, math.floor(tokens))
local waitMs = 0
if granted >= 1 then
  tokens = tokens - granted
else
  granted = 0
  waitMs = math.ceil((1 - tokens) / perMs)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / perMs) + 1000)
return { granted, waitMs }
`

export interface RateDecision {
  readonly allowed: boolean
  readonly retryAfterSeconds: number
}

const allowed: RateDecision = { allowed: true, retryAfterSeconds: 0 }

/** How long tokens taken from Redis may be spent here before they are forgotten. */
const leaseMillis = 1_000
const maxLeases = 10_000

/**
 * The client's address: the peer's, unless the peer is a trusted proxy; then the right-most address of
 * `X-Forwarded-For` that is not itself a trusted proxy (what a client puts further left is its own claim).
 */
const clientAddress = (request: Request, peer: string, trusted: ReadonlySet<string>) => {
  if (!trusted.has(peer)) return peer
  const forwarded = request.headers.get("x-forwarded-for")
  if (forwarded === null) return peer
  const hops = forwarded
    .split(",")
    .map((hop) => hop.trim())
    .filter((hop) => hop.length > 0)
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string
    if (!trusted.has(hop)) return hop
  }
  return hops[0] ?? peer
}

const callerKey = (request: Request, peer: (request: Request) => string, trusted: ReadonlySet<string>) => {
  const auth = request.headers.get("authorization")
  if (auth !== null && auth.length > 7) {
    return `gateway:rate:token:${createHash("sha256").update(auth).digest("base64url").slice(0, 22)}`
  }
  return `gateway:rate:ip:${clientAddress(request, peer(request), trusted)}`
}

export class RateLimiter extends Effect.Service<RateLimiter>()("gateway/RateLimiter", {
  effect: Effect.gen(function* () {
    const redis = yield* RedisClient
    const burst = yield* rateLimitBurst
    const perSecond = yield* rateLimitPerSecond
    const trusted = yield* trustedProxies
    const leaseSize = Math.max(1, Math.floor(burst / 10))
    const sha = yield* Effect.promise(() => redis.script("LOAD", tokenBucket) as Promise<string>)
    const leases = new Map<string, { tokens: number; expires: number }>()

    const take = async (key: string): Promise<ReadonlyArray<number>> => {
      try {
        return (await redis.evalsha(sha, 1, key, burst, perSecond, leaseSize)) as ReadonlyArray<number>
      } catch (error) {
        // After a Redis restart the script cache is empty: load it again by sending the source once.
        if (String(error).includes("NOSCRIPT")) {
          return (await redis.eval(tokenBucket, 1, key, burst, perSecond, leaseSize)) as ReadonlyArray<number>
        }
        throw error
      }
    }

    /** Spends a token of this process's lease for the caller, when it holds one (no I/O: the hot path). */
    const fromLease = (key: string): RateDecision | undefined => {
      const lease = leases.get(key)
      if (lease === undefined || lease.tokens < 1 || lease.expires <= Date.now()) return undefined
      lease.tokens--
      return allowed
    }

    /** Spends one token of the caller's bucket in Redis, leasing more for the next requests. */
    const fromRedis = (key: string): Effect.Effect<RateDecision> =>
      Effect.tryPromise(() => take(key)).pipe(
        Effect.map(([granted = 0, waitMs = 1000]): RateDecision => {
          if (granted < 1) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) }
          if (granted > 1) {
            // Concurrent requests of one caller may each have leased: keep every token granted.
            const now = Date.now()
            const held = leases.get(key)
            const kept = held !== undefined && held.expires > now ? held.tokens : 0
            if (leases.size >= maxLeases) leases.clear()
            leases.set(key, { tokens: kept + granted - 1, expires: now + leaseMillis })
          }
          return allowed
        }),
        Effect.catchAll((error) =>
          Effect.logWarning("rate limiter unavailable; letting the request through").pipe(
            Effect.annotateLogs("error", String(error.cause)),
            Effect.as(allowed),
          ),
        ),
      )

    const runPromise = Runtime.runPromise(yield* Effect.runtime<never>())
    const asking = new Map<string, Promise<RateDecision>>()

    /**
     * The decision for the caller `key`: from this process's lease when it holds a token (no I/O, no
     * promise), else from Redis. One call per caller at a time: the requests that run out of the lease
     * together (all the connections of one busy client) wait for that call and spend the lease it
     * brings; one that still finds none asks Redis itself. Before, each of them called Redis, and those
     * calls were 12 % of the gateway's CPU on a cached read.
     */
    const decide = (key: string): RateDecision | Promise<RateDecision> => {
      const leased = fromLease(key)
      if (leased !== undefined) return leased
      const running = asking.get(key)
      if (running !== undefined) return running.then(() => fromLease(key) ?? runPromise(fromRedis(key)))
      const call = runPromise(fromRedis(key)).finally(() => asking.delete(key))
      asking.set(key, call)
      return call
    }

    return {
      decide,
      /** The caller's bucket: its session token when it sends one, else its address (`peer` asked only then). */
      keyOf: (request: Request, peer: (request: Request) => string) => callerKey(request, peer, trusted),
    } as const
  }),
}) {}
