/**
 * Signed session tokens: `base64url(claims JSON) "." base64url(HMAC-SHA256(secret, first part))`.
 * The user service signs them; the gateway verifies them with the same pure functions, without a call.
 * What a signature cannot say is whether the session was ended or its roles changed since: the user
 * service announces both on `sessionsChangedChannel` (src/announcements.ts) with the session's id.
 */
import { Config, Either, Redacted, Schema } from "effect"
import { createHmac, timingSafeEqual } from "node:crypto"
import type { UserId } from "../rpc/common.ts"
import { InvalidToken, Role, SessionExpired, type SessionId } from "../rpc/user.ts"

/**
 * `AUTH_TOKEN_SECRET`: the HMAC-SHA256 key the user service signs session tokens with and the gateway
 * verifies them with. The default only suits a laptop: set it anywhere else.
 */
export const authTokenSecret = Config.redacted("AUTH_TOKEN_SECRET").pipe(
  Config.withDefault(Redacted.make("commerce-mesh-local-token-secret")),
)

export interface TokenClaims {
  readonly userId: UserId
  readonly sessionId: SessionId
  readonly roles: ReadonlyArray<Role>
  /** Epoch seconds after which the token is refused. */
  readonly expiresAt: number
}

/** The claims as they travel: short keys, JSON. */
const WireClaims = Schema.Struct({
  uid: Schema.String,
  sid: Schema.String,
  roles: Schema.Array(Role),
  exp: Schema.Int,
})
const decodeWireClaims = Schema.decodeUnknownEither(Schema.parseJson(WireClaims))

const secretBytes = (secret: Redacted.Redacted<string> | string) =>
  typeof secret === "string" ? secret : Redacted.value(secret)

const mac = (secret: Redacted.Redacted<string> | string, body: string) =>
  createHmac("sha256", secretBytes(secret)).update(body).digest()

export const signToken = (secret: Redacted.Redacted<string> | string, claims: TokenClaims): string => {
  const body = Buffer.from(
    JSON.stringify({ uid: claims.userId, sid: claims.sessionId, roles: claims.roles, exp: claims.expiresAt }),
  ).toString("base64url")
  return `${body}.${mac(secret, body).toString("base64url")}`
}

/**
 * The token's claims when this secret signed it and it has not expired at `nowMillis`. The signature is
 * checked first (in constant time), so a forged token learns nothing about expiry.
 */
export const verifyToken = (
  secret: Redacted.Redacted<string> | string,
  token: string,
  nowMillis: number,
): Either.Either<TokenClaims, InvalidToken | SessionExpired> => {
  const parts = token.split(".")
  const [body, signature] = parts
  if (parts.length !== 2 || body === undefined || signature === undefined) return Either.left(new InvalidToken())
  const expected = mac(secret, body)
  const given = Buffer.from(signature, "base64url")
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return Either.left(new InvalidToken())
  const claims = decodeWireClaims(Buffer.from(body, "base64url").toString("utf8"))
  if (Either.isLeft(claims)) return Either.left(new InvalidToken())
  const { uid, sid, roles, exp } = claims.right
  if (exp * 1000 <= nowMillis) return Either.left(new SessionExpired())
  return Either.right({ userId: uid as UserId, sessionId: sid as SessionId, roles, expiresAt: exp })
}
