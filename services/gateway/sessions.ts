/**
 * Bearer tokens verified at the edge without a call per request. The signature and expiry are checked
 * here (src/auth-token.ts); a session the user service confirmed live is then remembered until the
 * user service announces on Redis that it ended or its roles changed (logout, role change), or for at
 * most GATEWAY_SESSION_CACHE_MS should an announcement be lost. When the subscription reconnects,
 * everything remembered is forgotten, since announcements may have been missed meanwhile.
 */
import { Clock, Effect, Either } from "effect"
import type { SessionClaims, SessionId } from "../../rpc/user.ts"
import { authTokenSecret, sessionsChangedChannel, verifyToken } from "../../src/auth-token.ts"
import { RedisClient, RedisError } from "../../src/redis.ts"
import { UserClient } from "./clients.ts"
import { sessionCacheMillis, sessionCacheSize } from "./config.ts"

interface Remembered {
  readonly claims: SessionClaims
  /** Epoch ms after which the user service is asked again. */
  readonly until: number
}

export class SessionCache extends Effect.Service<SessionCache>()("gateway/SessionCache", {
  scoped: Effect.gen(function* () {
    const secret = yield* authTokenSecret
    const keepMillis = yield* sessionCacheMillis
    const maxEntries = yield* sessionCacheSize
    const users = yield* UserClient
    const redis = yield* RedisClient
    const remembered = new Map<SessionId, Remembered>()

    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const connection = redis.duplicate()
          connection.on("message", (_channel: string, sessionId: string) => {
            remembered.delete(sessionId as SessionId)
          })
          let connectedBefore = false
          connection.on("ready", () => {
            if (connectedBefore) remembered.clear()
            connectedBefore = true
          })
          await connection.subscribe(sessionsChangedChannel)
          return connection
        },
        catch: (error) =>
          new RedisError({ message: `cannot subscribe to ${sessionsChangedChannel}: ${String(error)}` }),
      }),
      (connection) => Effect.promise(() => connection.quit().catch(() => connection.disconnect())),
    )

    const remember = (claims: SessionClaims, now: number) => {
      if (remembered.size >= maxEntries) {
        // Maps iterate in insertion order: the oldest entry goes first.
        const oldest = remembered.keys().next()
        if (oldest.done !== true) remembered.delete(oldest.value)
      }
      remembered.set(claims.sessionId, {
        claims,
        until: Math.min(now + keepMillis, claims.expiresAt.getTime()),
      })
    }

    /** The live session `token` stands for; InvalidToken or SessionExpired otherwise. */
    const verify = (token: string) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const local = verifyToken(secret, token, now)
        if (Either.isLeft(local)) return yield* local.left
        const known = remembered.get(local.right.sessionId)
        if (known !== undefined && known.until > now && known.claims.userId === local.right.userId) {
          return known.claims
        }
        const claims = yield* users.VerifySession({ token })
        remember(claims, now)
        return claims
      })

    /** Forgets a session at once (this gateway's own logout does not wait for the announcement). */
    const forget = (sessionId: SessionId) => Effect.sync(() => remembered.delete(sessionId))

    return { verify, forget, size: () => remembered.size } as const
  }),
}) {}
