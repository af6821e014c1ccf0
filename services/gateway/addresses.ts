/**
 * A customer's saved addresses as the gateway last read them from the user service, so a checkout that
 * ships to the default address does not call the user service every time. Dropped when the user service
 * announces a change to that customer's addresses (src/announcements.ts), when this gateway itself
 * changes them, and after GATEWAY_SESSION_CACHE_MS at most, should an announcement be lost.
 */
import { Clock, Effect } from "effect"
import type { UserId } from "../../rpc/common.ts"
import { addressesChangedChannel } from "../../src/announcements.ts"
import { Announcements } from "./announcements.ts"
import { UserClient } from "./clients.ts"
import { sessionCacheMillis, sessionCacheSize } from "./config.ts"
import { makeExpiringMap } from "./expiring-map.ts"

export class AddressCache extends Effect.Service<AddressCache>()("gateway/AddressCache", {
  effect: Effect.gen(function* () {
    const keepMillis = yield* sessionCacheMillis
    const users = yield* UserClient
    const announcements = yield* Announcements
    type Saved = Effect.Effect.Success<ReturnType<typeof users.ListAddresses>>
    const remembered = makeExpiringMap<string, Saved>(yield* sessionCacheSize)

    yield* announcements.on(
      addressesChangedChannel,
      (userId) => remembered.delete(userId),
      () => remembered.clear(),
    )

    /** The customer's saved addresses (the user service's ListAddresses, remembered). */
    const list = (userId: UserId) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const known = remembered.get(userId, now)
        if (known !== undefined) return known
        const saved = yield* users.ListAddresses({ userId })
        remembered.set(userId, saved, now + keepMillis)
        return saved
      })

    /** Forgets a customer's addresses at once (this gateway changed them). */
    const forget = (userId: UserId) => Effect.sync(() => remembered.delete(userId))

    return { list, forget } as const
  }),
}) {}
