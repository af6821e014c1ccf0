/**
 * The errors the gateway adds on top of the services' own: who the caller is (401, 403), how fast they
 * may call (429), and a service that did not answer (503). The services' typed errors are reused as
 * they are, each given its HTTP status where an endpoint declares it.
 */
import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  {
    reason: Schema.Literal("missing_token", "invalid_token", "session_expired"),
    message: Schema.String,
  },
  HttpApiSchema.annotations({ status: 401, description: "No valid session token (Authorization: Bearer <token>)" }),
) {}

export class AdminRequired extends Schema.TaggedError<AdminRequired>()(
  "AdminRequired",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 403, description: "The route needs the admin role" }),
) {}

export class RateLimited extends Schema.TaggedError<RateLimited>()(
  "RateLimited",
  { retryAfterSeconds: Schema.Int, message: Schema.String },
  HttpApiSchema.annotations({ status: 429, description: "Too many requests; see the Retry-After header" }),
) {}

export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()(
  "ServiceUnavailable",
  { service: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 503, description: "A service behind the gateway did not answer; retry later" }),
) {}

/** A resource the caller may not see is answered as absent, so ids of other customers leak nothing. */
export class NotFound extends Schema.TaggedError<NotFound>()(
  "NotFound",
  { resource: Schema.String, id: Schema.String },
  HttpApiSchema.annotations({ status: 404 }),
) {}
