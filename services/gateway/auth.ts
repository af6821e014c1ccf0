/**
 * The guards of the REST API: a bearer token's signature and expiry are verified here, and that its
 * session was not ended by a logout through the session cache (sessions.ts), so a forged, expired or
 * logged-out token is refused at the edge. The admin guard also needs the admin role in the session.
 */
import { Effect } from "effect"
import type { SessionClaims } from "../../rpc/user.ts"
import { guard } from "../../src/http-api-hono.ts"
import { AdminRequired, Unauthorized } from "./api/errors.ts"
import { AdminOnly, Authenticated, CurrentUser } from "./api/security.ts"
import { SessionCache } from "./sessions.ts"
import { orUnavailable } from "./unavailable.ts"

const bearer = (request: Request) => {
  const header = request.headers.get("authorization")
  if (header === null) return undefined
  const match = /^Bearer\s+(\S+)$/i.exec(header)
  return match?.[1]
}

export const verifySession = (request: Request) =>
  Effect.gen(function* () {
    const token = bearer(request)
    if (token === undefined) {
      return yield* new Unauthorized({ reason: "missing_token", message: "send Authorization: Bearer <token>" })
    }
    const sessions = yield* SessionCache
    return yield* sessions.verify(token).pipe(
      orUnavailable("user"),
      Effect.catchTags({
        InvalidToken: () => new Unauthorized({ reason: "invalid_token", message: "the token is not valid" }),
        SessionExpired: () =>
          new Unauthorized({ reason: "session_expired", message: "the session has ended; log in again" }),
      }),
    )
  })

const requireAdmin = (session: SessionClaims) =>
  session.roles.includes("admin")
    ? Effect.succeed(session)
    : Effect.fail(new AdminRequired({ message: "this route needs the admin role" }))

export const guards = [
  guard(Authenticated, CurrentUser, verifySession),
  guard(AdminOnly, CurrentUser, (request) => Effect.flatMap(verifySession(request), requireAdmin)),
]

/** The bearer token of the request (the logout route ends exactly that session). */
export const tokenOf = (request: Request) => bearer(request) ?? ""
