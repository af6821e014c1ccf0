/**
 * The cache of public catalog answers, kept as the encoded JSON bytes so a hit costs no decoding or
 * encoding. Two levels: this process reuses an answer for GATEWAY_LOCAL_CACHE_MS (the hot path is a Map
 * lookup), and all gateway replicas share it through Redis for its TTL. Every key carries a generation
 * that admin catalog writes bump, so a write makes every older answer unreachable at once; a replica
 * sees the bump within its local window. Redis failing only makes the cache miss.
 */
import { Effect, Option, Schema } from "effect"
import { RedisClient } from "../../src/redis.ts"
import { PreparedJson } from "../../src/http-api-hono.ts"
import { cacheTtlSeconds, localCacheMillis } from "./config.ts"

const generationKey = "gateway:cache:generation"
const maxLocalEntries = 5_000
const localHitHeaders = { "x-cache": "hit-local" }

interface LocalEntry {
  readonly body: string
  readonly expires: number
}

export class ResponseCache extends Effect.Service<ResponseCache>()("gateway/ResponseCache", {
  effect: Effect.gen(function* () {
    const redis = yield* RedisClient
    const sharedTtl = yield* cacheTtlSeconds
    const localMillis = yield* localCacheMillis
    const local = new Map<string, LocalEntry>()
    let generation: { value: string; expires: number } = { value: "0", expires: 0 }

    const redisCall = <A>(run: () => Promise<A>) =>
      Effect.tryPromise(run).pipe(
        Effect.tapError((error) =>
          Effect.logWarning("response cache unavailable").pipe(Effect.annotateLogs("error", String(error.cause))),
        ),
        Effect.option,
      )

    const currentGeneration = Effect.suspend(() => {
      if (generation.expires > Date.now()) return Effect.succeed(generation.value)
      return redisCall(() => redis.get(generationKey)).pipe(
        Effect.map((found) => {
          const value = Option.getOrNull(found) ?? "0"
          generation = { value, expires: Date.now() + localMillis }
          return value
        }),
      )
    })

    const remember = (key: string, body: string) => {
      if (local.size >= maxLocalEntries) local.clear()
      local.set(key, { body, expires: Date.now() + localMillis })
    }

    /** This process's copy of the answer for `key`, if it is fresh: the hot path, no I/O and no Effect. */
    const peek = (key: string): PreparedJson | undefined => {
      const hit = local.get(key)
      return hit !== undefined && hit.expires > Date.now() ? new PreparedJson(hit.body, localHitHeaders) : undefined
    }

    /**
     * The answer for `key`: from this process, from Redis, or computed, encoded with `schema` and stored.
     * `ttlSeconds` bounds how stale the shared copy may be (short for stock, longer for listings).
     */
    const json = <A, I, E, R>(
      key: string,
      schema: Schema.Schema<A, I>,
      compute: Effect.Effect<A, E, R>,
      ttlSeconds = sharedTtl,
    ): Effect.Effect<PreparedJson, E, R> =>
      Effect.suspend(() => {
        const hit = peek(key)
        if (hit !== undefined) return Effect.succeed(hit)
        return Effect.gen(function* () {
          const shared = `gateway:cache:${yield* currentGeneration}:${key}`
          const stored = Option.flatMap(yield* redisCall(() => redis.get(shared)), Option.fromNullable)
          if (Option.isSome(stored)) {
            remember(key, stored.value)
            return new PreparedJson(stored.value, { "x-cache": "hit" })
          }
          const value = yield* compute
          const body = JSON.stringify(yield* Schema.encode(schema)(value).pipe(Effect.orDie))
          yield* redisCall(() => redis.set(shared, body, "EX", ttlSeconds))
          remember(key, body)
          return new PreparedJson(body, { "x-cache": "miss" })
        })
      })

    /** After a catalog write: every cached answer, here and in every replica, is out. */
    const invalidate = Effect.suspend(() => {
      local.clear()
      generation = { value: "", expires: 0 }
      return redisCall(() => redis.incr(generationKey)).pipe(Effect.asVoid)
    })

    return { json, peek, invalidate } as const
  }),
}) {}
