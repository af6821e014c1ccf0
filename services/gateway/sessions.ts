/**
 * Bearer tokens verified at the edge without a call per request. The signature and expiry are checked
 * here (src/auth-token.ts); a session the user service confirmed live is then remembered until the
 * user service announces on Redis that it ended or its roles changed (logout, role change), or for at
 * most GATEWAY_SESSION_CACHE_MS should an announcement be lost. When the subscription reconnects,
 * everything remembered is forgotten, since announcements may have been missed meanwhile.
 */
import { Clock, Effect, Either } from "effect"
import type { SessionClaims, SessionId } from "../../rpc/user.ts"
import { sessionsChangedChannel } from "../../src/announcements.ts"
import { authTokenSecret, verifyToken } from "../../src/auth-token.ts"
import { Announcements } from "./announcements.ts"
import { makeExpiringMap } from "./expiring-map.ts"
import { UserClient } from "./clients.ts"
import { sessionCacheMillis, sessionCacheSize } from "./config.ts"

export class SessionCache extends Effect.Service<SessionCache>()("gateway/SessionCache", {
  effect: Effect.gen(function* () {
    const secret = yield* authTokenSecret
    const keepMillis = yield* sessionCacheMillis
    const maxEntries = yield* sessionCacheSize
    const users = yield* UserClient
    const announcements = yield* Announcements
    const remembered = makeExpiringMap<SessionId, SessionClaims>(maxEntries)

    yield* announcements.on(
      sessionsChangedChannel,
      (sessionId) => remembered.delete(sessionId as SessionId),
      () => remembered.clear(),
    )

    /** The live session `token` stands for; InvalidToken or SessionExpired otherwise. */
    const verify = (token: string) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const local = verifyToken(secret, token, now)
        if (Either.isLeft(local)) return yield* local.left
        const known = remembered.get(local.right.sessionId, now)
        if (known !== undefined && known.userId === local.right.userId) return known
        const claims = yield* users.VerifySession({ token })
        remembered.set(claims.sessionId, claims, Math.min(now + keepMillis, claims.expiresAt.getTime()))
        return claims
      })

    /** Forgets a session at once (this gateway's own logout does not wait for the announcement). */
    const forget = (sessionId: SessionId) => Effect.sync(() => remembered.delete(sessionId))

    return { verify, forget } as const
  }),
}) {}
