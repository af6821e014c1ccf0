import { describe, expect, test } from "bun:test"
import { Effect } from "effect"
import { RedisClient, RedisLive, redisReady } from "../../src/redis.ts"
import { runTest } from "../support/run.ts"

const withRedis = <A, E>(effect: Effect.Effect<A, E, RedisClient>) =>
  runTest(Effect.scoped(Effect.provide(effect, RedisLive)))

describe("RedisLive", () => {
  test("a value written with a TTL reads back and expires", async () => {
    const key = `test:platform:${crypto.randomUUID()}`
    const result = await withRedis(
      Effect.gen(function* () {
        const redis = yield* RedisClient
        yield* Effect.promise(() => redis.set(key, "hello", "PX", 200))
        const before = yield* Effect.promise(() => redis.get(key))
        const ttl = yield* Effect.promise(() => redis.pttl(key))
        yield* Effect.sleep("300 millis")
        const after = yield* Effect.promise(() => redis.get(key))
        return { before, ttl, after }
      }),
    )
    expect(result.before).toBe("hello")
    expect(result.ttl).toBeGreaterThan(0)
    expect(result.ttl).toBeLessThanOrEqual(200)
    expect(result.after).toBeNull()
  })

  test("the readiness probe answers PONG", async () => {
    expect(await withRedis(redisReady)).toBe("PONG")
  })
})
