/**
 * The gateway's one subscription to the user service's announcements (src/announcements.ts): caches
 * register what to drop per channel, and what to forget wholesale when the subscription reconnects
 * (announcements may have been missed meanwhile).
 */
import { Effect } from "effect"
import { addressesChangedChannel, sessionsChangedChannel } from "../../src/announcements.ts"
import { RedisClient, RedisError } from "../../src/redis.ts"

const channels = [sessionsChangedChannel, addressesChangedChannel]

export class Announcements extends Effect.Service<Announcements>()("gateway/Announcements", {
  scoped: Effect.gen(function* () {
    const redis = yield* RedisClient
    const listeners = new Map<string, Array<(id: string) => void>>()
    const resets: Array<() => void> = []

    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const connection = redis.duplicate()
          connection.on("message", (channel: string, id: string) => {
            for (const listener of listeners.get(channel) ?? []) listener(id)
          })
          let connectedBefore = false
          connection.on("ready", () => {
            if (connectedBefore) for (const reset of resets) reset()
            connectedBefore = true
          })
          await connection.subscribe(...channels)
          return connection
        },
        catch: (error) => new RedisError({ message: `cannot subscribe to ${channels.join(", ")}: ${String(error)}` }),
      }),
      (connection) => Effect.promise(() => connection.quit().catch(() => connection.disconnect())),
    )

    /** Calls `drop` with the id of each announcement on `channel`, and `reset` after a reconnection. */
    const on = (channel: string, drop: (id: string) => void, reset: () => void) =>
      Effect.sync(() => {
        listeners.set(channel, [...(listeners.get(channel) ?? []), drop])
        resets.push(reset)
      })

    return { on } as const
  }),
}) {}
