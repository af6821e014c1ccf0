/**
 * The Redis connection of a service, opened when its Layer is built and closed with its scope.
 */
import { Context, Data, Effect, Layer, Redacted, Schedule } from "effect"
import { Redis } from "ioredis"
import { redisUrl } from "./config.ts"

export class RedisError extends Data.TaggedError("RedisError")<{ readonly message: string }> {}

export class RedisClient extends Context.Tag("platform/RedisClient")<RedisClient, Redis>() {}

const connect = Effect.gen(function* () {
  const url = yield* redisUrl
  return yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const client = new Redis(Redacted.value(url), { lazyConnect: true, maxRetriesPerRequest: 3 })
        await client.connect()
        return client
      },
      catch: (error) => new RedisError({ message: `cannot connect to Redis: ${String(error)}` }),
    }),
    (client) => Effect.promise(() => client.quit().catch(() => client.disconnect())),
  )
})

export const RedisLive = Layer.scoped(
  RedisClient,
  connect.pipe(Effect.retry(Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(6))))),
)

/** Readiness probe for the side port. */
export const redisReady = Effect.flatMap(RedisClient, (client) => Effect.promise(() => client.ping()))
