/**
 * Who is calling: a bearer token from the user service's Login, verified on every request (signature,
 * expiry, and that the session was not ended). `Authenticated` guards customer routes, `AdminOnly` the
 * admin routes; both provide the verified session to the handler as `CurrentUser`.
 */
import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Context, Schema } from "effect"
import type { SessionClaims } from "../../../rpc/user.ts"
import { AdminRequired, ServiceUnavailable, Unauthorized } from "./errors.ts"

export class CurrentUser extends Context.Tag("gateway/CurrentUser")<CurrentUser, SessionClaims>() {}

export class Authenticated extends HttpApiMiddleware.Tag<Authenticated>()("gateway/Authenticated", {
  failure: Schema.Union(Unauthorized, ServiceUnavailable),
  provides: CurrentUser,
  security: { bearer: HttpApiSecurity.bearer },
}) {}

export class AdminOnly extends HttpApiMiddleware.Tag<AdminOnly>()("gateway/AdminOnly", {
  failure: Schema.Union(Unauthorized, AdminRequired, ServiceUnavailable),
  provides: CurrentUser,
  security: { bearer: HttpApiSecurity.bearer },
}) {}
