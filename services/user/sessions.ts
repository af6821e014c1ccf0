/**
 * Sessions in Redis: `user:session:<sessionId>` holds who the session belongs to and its roles, with a
 * TTL equal to the token's lifetime; `user:sessions:<userId>` lists a user's sessions so a role change
 * reaches the sessions already open. Logging out deletes the session, and VerifySession refuses a token
 * whose session is gone even though its signature is still good. Both a logout and a role change are
 * published on `sessionsChangedChannel`, so the gateways drop what they remembered of those sessions.
 */
import { Clock, Effect, Either, Schema } from "effect"
import type { UserId } from "../../rpc/common.ts"
import { Role, SessionClaims, SessionExpired, type SessionId } from "../../rpc/user.ts"
import { RedisClient } from "../../src/redis.ts"
import { sessionsChangedChannel } from "../../src/announcements.ts"
import { authTokenSecret, signToken, verifyToken } from "../../src/auth-token.ts"
import { sessionTtlSeconds } from "./config.ts"

const sessionKey = (sessionId: string) => `user:session:${sessionId}`
const userSessionsKey = (userId: string) => `user:sessions:${userId}`

const StoredSession = Schema.parseJson(Schema.Struct({ userId: Schema.String, roles: Schema.Array(Role) }))
const decodeStored = Schema.decodeUnknownEither(StoredSession)
const encodeStored = Schema.encodeSync(StoredSession)

export class Sessions extends Effect.Service<Sessions>()("user/Sessions", {
  effect: Effect.gen(function* () {
    const redis = yield* RedisClient
    const secret = yield* authTokenSecret
    const ttl = yield* sessionTtlSeconds

    // Redis away past ioredis's own retries is an infrastructure defect for a single call.
    const call = <A>(run: () => Promise<A>) => Effect.promise(run)

    const open = Effect.fn("Sessions.open")(function* (userId: UserId, roles: ReadonlyArray<Role>) {
      const sessionId = crypto.randomUUID() as SessionId
      const now = yield* Clock.currentTimeMillis
      const expiresAt = Math.floor(now / 1000) + ttl
      yield* call(() =>
        redis
          .multi()
          .set(sessionKey(sessionId), encodeStored({ userId, roles }), "EX", ttl)
          .sadd(userSessionsKey(userId), sessionId)
          .expire(userSessionsKey(userId), ttl)
          .exec(),
      )
      const token = signToken(secret, { userId, sessionId, roles, expiresAt })
      return { token, sessionId, expiresAt: new Date(expiresAt * 1000) }
    })

    /** The live session a token stands for: a good signature, not expired, and not ended since. */
    const verify = Effect.fn("Sessions.verify")(function* (token: string) {
      const claims = yield* Effect.flatMap(Clock.currentTimeMillis, (now) => verifyToken(secret, token, now))
      const stored = yield* call(() => redis.get(sessionKey(claims.sessionId)))
      const session = stored === null ? undefined : Either.getOrUndefined(decodeStored(stored))
      if (session === undefined || session.userId !== claims.userId) return yield* new SessionExpired()
      return new SessionClaims(
        {
          userId: claims.userId,
          sessionId: claims.sessionId,
          roles: session.roles,
          expiresAt: new Date(claims.expiresAt * 1000),
        },
        true,
      )
    })

    /** Ends the token's session; an expired or already ended one is fine. Only a forged token is refused. */
    const close = Effect.fn("Sessions.close")(function* (token: string) {
      const claims = yield* Effect.flatMap(Clock.currentTimeMillis, (now) =>
        verifyToken(secret, token, now).pipe(
          // An expired token is still genuine: logging it out is allowed, and removes what is left of it.
          Either.orElse((error) =>
            error._tag === "SessionExpired" ? verifyToken(secret, token, 0) : Either.left(error),
          ),
        ),
      )
      yield* call(() =>
        redis
          .multi()
          .del(sessionKey(claims.sessionId))
          .srem(userSessionsKey(claims.userId), claims.sessionId)
          .publish(sessionsChangedChannel, claims.sessionId)
          .exec(),
      )
    })

    /** Gives the user's open sessions their new roles, keeping each one's remaining lifetime. */
    const updateRoles = Effect.fn("Sessions.updateRoles")(function* (userId: UserId, roles: ReadonlyArray<Role>) {
      const sessionIds = yield* call(() => redis.smembers(userSessionsKey(userId)))
      if (sessionIds.length === 0) return
      const value = encodeStored({ userId, roles })
      // XX: only sessions that still exist; KEEPTTL: a role change does not extend a session.
      yield* call(() => {
        const batch = redis.multi()
        for (const sessionId of sessionIds) {
          batch.set(sessionKey(sessionId), value, "KEEPTTL", "XX").publish(sessionsChangedChannel, sessionId)
        }
        return batch.exec()
      })
    })

    return { open, verify, close, updateRoles } as const
  }),
}) {}
