/**
 * The cache of public catalog answers, kept as the encoded JSON bytes so a hit costs no decoding or
 * encoding. Two levels: this process reuses an answer for GATEWAY_LOCAL_CACHE_MS (the hot path is a Map
 * lookup), and all gateway replicas share it through Redis for its TTL. Every key carries a generation
 * that admin catalog writes bump, so a write makes every older answer unreachable at once; a replica
 * sees the bump within its local window. Redis failing only makes the cache miss.
 *
 * A local copy past its window is still answered for one more window while ONE background refresh
 * fetches the next (stale-while-revalidate): otherwise every request arriving as the window closes —
 * all the connections of a busy shop front — missed at once and each went to Redis (and, for short-lived
 * stock, to the services), which was the gateway's p99 (bench/RESULTS.md, "Gateway").
 */
import { Deferred, Effect, FiberId, Option, Runtime, Schema } from "effect"
import { RedisClient } from "../../src/redis.ts"
import { PreparedJson } from "../../src/http-api-hono.ts"
import { cacheTtlSeconds, localCacheMillis } from "./config.ts"

const generationKey = "gateway:cache:generation"
const maxLocalEntries = 5_000
const localHitHeaders = { "x-cache": "hit-local" }
const staleHitHeaders = { "x-cache": "hit-stale" }

interface LocalEntry {
  /** The answer while fresh and while stale, made once: a hit allocates nothing. */
  readonly fresh: PreparedJson
  readonly stale: PreparedJson
  readonly expires: number
  /** Fetches the next copy (from Redis or the services) and stores it here. */
  readonly refresh: Effect.Effect<void>
}

export class ResponseCache extends Effect.Service<ResponseCache>()("gateway/ResponseCache", {
  effect: Effect.gen(function* () {
    const redis = yield* RedisClient
    const sharedTtl = yield* cacheTtlSeconds
    const localMillis = yield* localCacheMillis
    const local = new Map<string, LocalEntry>()
    const refreshing = new Set<string>()
    const fetching = new Map<string, Deferred.Deferred<PreparedJson, unknown>>()
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
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

    /** Kept only while `generationRead` is still current: a copy fetched across a write is not kept. */
    const remember = (key: string, body: string, refresh: Effect.Effect<void>, generationRead: string) => {
      if (generation.value !== generationRead) return
      if (local.size >= maxLocalEntries) local.clear()
      local.set(key, {
        fresh: new PreparedJson(body, localHitHeaders),
        stale: new PreparedJson(body, staleHitHeaders),
        expires: Date.now() + localMillis,
        refresh,
      })
    }

    /**
     * This process's copy of the answer for `key`: the hot path, no I/O and no Effect. Fresh, or stale by
     * less than one more window while its refresh runs; undefined otherwise.
     */
    const peek = (key: string): PreparedJson | undefined => {
      const hit = local.get(key)
      if (hit === undefined) return undefined
      const now = Date.now()
      if (hit.expires > now) return hit.fresh
      if (hit.expires + localMillis <= now) return undefined
      if (!refreshing.has(key)) {
        refreshing.add(key)
        runFork(
          Effect.ensuring(
            hit.refresh,
            Effect.sync(() => refreshing.delete(key)),
          ),
        )
      }
      return hit.stale
    }

    /** The answer from Redis, or computed, encoded with `schema` and stored in both levels. */
    const fetch = <A, I, E, R>(
      key: string,
      schema: Schema.Schema<A, I>,
      compute: Effect.Effect<A, E, R>,
      ttlSeconds: number,
    ): Effect.Effect<PreparedJson, E, R> =>
      Effect.gen(function* () {
        const context = yield* Effect.context<R>()
        // The next refresh runs the same fetch in the caller's context; its failures leave the copy to age out.
        const refresh: Effect.Effect<void> = Effect.suspend(() => fetch(key, schema, compute, ttlSeconds)).pipe(
          Effect.provide(context),
          Effect.catchAllCause((cause) => Effect.logWarning("cached answer not refreshed", cause)),
          Effect.asVoid,
        )
        const generationRead = yield* currentGeneration
        const shared = `gateway:cache:${generationRead}:${key}`
        const stored = Option.flatMap(yield* redisCall(() => redis.get(shared)), Option.fromNullable)
        if (Option.isSome(stored)) {
          remember(key, stored.value, refresh, generationRead)
          return new PreparedJson(stored.value, { "x-cache": "hit" })
        }
        const value = yield* compute
        const body = JSON.stringify(yield* Schema.encode(schema)(value).pipe(Effect.orDie))
        yield* redisCall(() => redis.set(shared, body, "EX", ttlSeconds))
        remember(key, body, refresh, generationRead)
        return new PreparedJson(body, { "x-cache": "miss" })
      })

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
        // Requests missing the same key at once (a cold start, every answer after a catalog write) share one
        // fetch. A key is always computed the same way, so the shared fetch fails as each one's would.
        const running = fetching.get(key)
        if (running !== undefined) return Deferred.await(running) as Effect.Effect<PreparedJson, E>
        const done = Deferred.unsafeMake<PreparedJson, unknown>(FiberId.none)
        fetching.set(key, done)
        return fetch(key, schema, compute, ttlSeconds).pipe(
          Effect.onExit((exit) =>
            Effect.zipRight(
              Effect.sync(() => fetching.delete(key)),
              Deferred.done(done, exit),
            ),
          ),
        )
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
