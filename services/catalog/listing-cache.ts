/**
 * The product listing cache in Redis. Every key carries the cache generation, a counter that each catalog
 * write bumps (one INCR) after its transaction committed: readers then build keys of the new generation, so
 * every listing cached before the write is unreachable at once, without scanning or deleting keys; the old
 * entries expire with their TTL. A reader that raced a write may store a stale page, but only under the old
 * generation, which nobody reads any more.
 *
 * The cache only ever speeds reads up: when Redis fails, a listing is read from Postgres and the failure is
 * logged, and a write whose invalidation failed is visible after at most one TTL.
 */
import { Effect, Option, Schema } from "effect"
import { type ListProductsRequest, ProductPage } from "../../rpc/catalog.ts"
import { RedisClient, RedisError } from "../../src/redis.ts"
import { listingCachePrefix, listingCacheTtlSeconds } from "./config.ts"

const PageJson = Schema.parseJson(ProductPage)
const encodePage = Schema.encode(PageJson)
const decodePage = Schema.decodeUnknown(PageJson)

/** Every field of the request in a fixed order, defaults applied: equal requests give equal keys. */
const requestKey = (request: ListProductsRequest) =>
  JSON.stringify([
    request.categoryId ?? null,
    request.minPrice ?? null,
    request.maxPrice ?? null,
    request.currency ?? null,
    request.query ?? null,
    request.includeInactive,
    request.limit,
    request.cursor ?? null,
  ])

export class ListingCache extends Effect.Service<ListingCache>()("catalog/ListingCache", {
  effect: Effect.gen(function* () {
    const redis = yield* RedisClient
    const ttlSeconds = yield* listingCacheTtlSeconds
    const prefix = yield* listingCachePrefix
    const generationKey = `${prefix}:generation`

    const call = <A>(operation: string, run: () => Promise<A>) =>
      Effect.tryPromise({
        try: run,
        catch: (error) => new RedisError({ message: `${operation}: ${String(error)}` }),
      }).pipe(
        Effect.tapError((error) =>
          Effect.logWarning("listing cache unavailable").pipe(Effect.annotateLogs("error", error.message)),
        ),
        Effect.option,
      )

    /** The cached page for `request`, or `compute`'s page, stored for the next reader. */
    const through = Effect.fn("ListingCache.through")(function* <E>(
      request: ListProductsRequest,
      compute: Effect.Effect<ProductPage, E>,
    ) {
      const generation = yield* call("GET generation", () => redis.get(generationKey))
      if (Option.isNone(generation)) return yield* compute
      const key = `${prefix}:${generation.value ?? "0"}:${requestKey(request)}`
      const cached = yield* call("GET listing", () => redis.get(key)).pipe(
        Effect.map(Option.flatMap(Option.fromNullable)),
      )
      if (Option.isSome(cached)) {
        // An entry written by another version of the schema is just a miss.
        const page = yield* decodePage(cached.value).pipe(Effect.option)
        if (Option.isSome(page)) {
          yield* Effect.annotateCurrentSpan("cache", "hit")
          return page.value
        }
      }
      yield* Effect.annotateCurrentSpan("cache", "miss")
      const page = yield* compute
      const text = yield* encodePage(page).pipe(Effect.orDie)
      yield* call("SET listing", () => redis.set(key, text, "EX", ttlSeconds))
      return page
    })

    /** Makes every cached listing unreachable. Call after the write's transaction committed. */
    const invalidate = call("INCR generation", () => redis.incr(generationKey)).pipe(
      Effect.asVoid,
      Effect.withSpan("ListingCache.invalidate"),
    )

    return { through, invalidate }
  }),
}) {}
