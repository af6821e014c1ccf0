/**
 * The catalog service's own settings. (src/config.ts lists the platform's variables; these belong there
 * too once the lead folds service settings in.)
 */
import { Config } from "effect"

/** `CATALOG_LISTING_CACHE_TTL_SECONDS`: how long a cached product listing may be served. */
export const listingCacheTtlSeconds = Config.integer("CATALOG_LISTING_CACHE_TTL_SECONDS").pipe(Config.withDefault(300))

/** `CATALOG_CACHE_PREFIX`: the Redis key prefix of the listing cache (tests use their own). */
export const listingCachePrefix = Config.string("CATALOG_CACHE_PREFIX").pipe(Config.withDefault("catalog:listing"))
