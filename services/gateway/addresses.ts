/**
 * A customer's saved addresses as the gateway last read them from the user service, so a checkout that
 * ships to the default address does not call the user service every time. Dropped when the user service
 * announces a change to that customer's addresses (src/announcements.ts), when this gateway itself
 * changes them, and after GATEWAY_SESSION_CACHE_MS at most, should an announcement be lost.
 */
import { Effect } from "effect"
import type { UserId } from "../../rpc/common.ts"
import { addressesChangedChannel } from "../../src/announcements.ts"
import { makeAnnouncedCache } from "./announced-cache.ts"
import { UserClient } from "./clients.ts"
import { sessionCacheMillis, sessionCacheSize } from "./config.ts"

export class AddressCache extends Effect.Service<AddressCache>()("gateway/AddressCache", {
  effect: Effect.gen(function* () {
    const keepMillis = yield* sessionCacheMillis
    const users = yield* UserClient
    type Saved = Effect.Effect.Success<ReturnType<typeof users.ListAddresses>>
    const remembered = yield* makeAnnouncedCache<UserId, Saved>(addressesChangedChannel, yield* sessionCacheSize)

    /** The customer's saved addresses (the user service's ListAddresses, remembered). */
    const list = (userId: UserId) =>
      remembered.getOrFetch(userId, users.ListAddresses({ userId }), (_, now) => now + keepMillis)

    /** Forgets a customer's addresses at once (this gateway changed them). */
    const forget = remembered.forget

    return { list, forget } as const
  }),
}) {}
