/**
 * Bearer tokens verified at the edge without a call per request. The signature and expiry are checked
 * here (src/auth-token.ts); a session the user service confirmed live is then remembered until the
 * user service announces on Redis that it ended or its roles changed (logout, role change), or for at
 * most GATEWAY_SESSION_CACHE_MS should an announcement be lost (announced-cache.ts).
 */
import { Clock, Effect, Either } from "effect"
import type { SessionClaims, SessionId } from "../../rpc/user.ts"
import { sessionsChangedChannel } from "../../src/announcements.ts"
import { authTokenSecret, verifyToken } from "../../src/auth-token.ts"
import { makeAnnouncedCache } from "./announced-cache.ts"
import { UserClient } from "./clients.ts"
import { sessionCacheMillis, sessionCacheSize } from "./config.ts"

export class SessionCache extends Effect.Service<SessionCache>()("gateway/SessionCache", {
  effect: Effect.gen(function* () {
    const secret = yield* authTokenSecret
    const keepMillis = yield* sessionCacheMillis
    const users = yield* UserClient
    const remembered = yield* makeAnnouncedCache<SessionId, SessionClaims>(
      sessionsChangedChannel,
      yield* sessionCacheSize,
    )

    /** The live session `token` stands for; InvalidToken or SessionExpired otherwise. */
    const verify = (token: string) =>
      Effect.gen(function* () {
        const local = verifyToken(secret, token, yield* Clock.currentTimeMillis)
        if (Either.isLeft(local)) return yield* local.left
        return yield* remembered.getOrFetch(
          local.right.sessionId,
          users.VerifySession({ token }),
          (claims, now) => Math.min(now + keepMillis, claims.expiresAt.getTime()),
          (known) => known.userId === local.right.userId,
        )
      })

    /** Forgets a session at once (this gateway's own logout does not wait for the announcement). */
    const forget = remembered.forget

    return { verify, forget } as const
  }),
}) {}
