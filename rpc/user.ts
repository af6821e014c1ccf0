/**
 * The user service's contract: accounts (argon2id credentials), sessions behind signed tokens, profiles,
 * addresses and roles.
 *
 * A token is `base64url(claims JSON) "." base64url(HMAC-SHA256(secret, first part))` with the claims
 * `{ uid, sid, roles, exp }` (exp in epoch seconds). The gateway can check the signature and expiry
 * without a call (src/auth-token.ts); `VerifySession` additionally checks that the session still
 * exists, so a token of a logged-out session is refused there.
 *
 * Profile and address RPCs take the `userId` the gateway resolved from a verified token; role changes take
 * the acting admin's token itself, since they are privileged.
 */
import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import { defineEvent } from "../src/events/envelope.ts"
import { Identifier, UserId } from "./common.ts"
import { PostalAddress } from "./delivery.ts"

export { PostalAddress, UserId }

export const SessionId = Identifier.pipe(Schema.brand("SessionId"))
export type SessionId = typeof SessionId.Type

export const AddressId = Identifier.pipe(Schema.brand("AddressId"))
export type AddressId = typeof AddressId.Type

/** Stored as given; compared case-insensitively (one account per address whatever its case). */
export const Email = Schema.Trimmed.pipe(
  Schema.maxLength(254),
  Schema.pattern(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { message: () => "Expected an email address" }),
)

/** Any string on the wire (a short one is refused typed, as WeakPassword); bounded so hashing stays cheap. */
export const Password = Schema.String.pipe(Schema.maxLength(1024), Schema.Redacted)

export const minPasswordLength = 8

export const Role = Schema.Literal("customer", "admin")
export type Role = typeof Role.Type

export const DisplayName = Schema.Trimmed.pipe(Schema.nonEmptyString(), Schema.maxLength(200))

export class User extends Schema.Class<User>("User")({
  id: UserId,
  email: Schema.String,
  name: Schema.String,
  roles: Schema.Array(Role),
  createdAt: Schema.Date,
  updatedAt: Schema.Date,
}) {}

export class Address extends Schema.Class<Address>("Address")({
  id: AddressId,
  label: Schema.NullOr(Schema.String),
  address: PostalAddress,
  /** Exactly one of a user's addresses is the default while the user has any. */
  isDefault: Schema.Boolean,
  createdAt: Schema.Date,
}) {}

/** What a login gives: the signed token and what it stands for. */
export class AuthSession extends Schema.Class<AuthSession>("AuthSession")({
  token: Schema.String,
  sessionId: SessionId,
  expiresAt: Schema.Date,
  user: User,
}) {}

/** A verified, live session. */
export class SessionClaims extends Schema.Class<SessionClaims>("SessionClaims")({
  userId: UserId,
  sessionId: SessionId,
  roles: Schema.Array(Role),
  expiresAt: Schema.Date,
}) {}

// Errors -----------------------------------------------------------------------------------------

export class EmailTaken extends Schema.TaggedError<EmailTaken>()("EmailTaken", { email: Schema.String }) {}

export class WeakPassword extends Schema.TaggedError<WeakPassword>()("WeakPassword", {
  minLength: Schema.Int,
}) {}

/** Unknown email or wrong password: deliberately the same answer for both. */
export class InvalidCredentials extends Schema.TaggedError<InvalidCredentials>()("InvalidCredentials", {}) {}

/** Not a token this service signed (malformed, tampered with, or signed with another secret). */
export class InvalidToken extends Schema.TaggedError<InvalidToken>()("InvalidToken", {}) {}

/** A genuine token past its expiry, or of a session that ended (logged out, or expired in Redis). */
export class SessionExpired extends Schema.TaggedError<SessionExpired>()("SessionExpired", {}) {}

export class UserNotFound extends Schema.TaggedError<UserNotFound>()("UserNotFound", { userId: UserId }) {}

export class AddressNotFound extends Schema.TaggedError<AddressNotFound>()("AddressNotFound", {
  addressId: AddressId,
}) {}

/** The acting user lacks the role the operation needs. */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", { requiredRole: Role }) {}

export type UserError =
  | EmailTaken
  | WeakPassword
  | InvalidCredentials
  | InvalidToken
  | SessionExpired
  | UserNotFound
  | AddressNotFound
  | Forbidden

// Events (Kafka topic "users", keyed by user id, written through the outbox) ---------------------

const UserEventFields = { userId: UserId, email: Schema.String, name: Schema.String, roles: Schema.Array(Role) }

export const UserRegistered = defineEvent("user.registered", "users", Schema.Struct(UserEventFields))
export const UserUpdated = defineEvent("user.updated", "users", Schema.Struct(UserEventFields))

// The group --------------------------------------------------------------------------------------

const RoleChange = { token: Schema.String, userId: UserId, role: Role }

export class UserRpcs extends RpcGroup.make(
  /** Creates a customer account. */
  Rpc.make("Register", {
    payload: { email: Email, password: Password, name: DisplayName },
    success: User,
    error: Schema.Union(EmailTaken, WeakPassword),
  }),
  /** Opens a session (24 h) and signs its token. */
  Rpc.make("Login", {
    payload: { email: Email, password: Password },
    success: AuthSession,
    error: InvalidCredentials,
  }),
  /** Ends the session; ending an ended (or expired) session is a no-op success. */
  Rpc.make("Logout", { payload: { token: Schema.String }, error: InvalidToken }),
  /** Checks the signature, the expiry, and that the session still exists. */
  Rpc.make("VerifySession", {
    payload: { token: Schema.String },
    success: SessionClaims,
    error: Schema.Union(InvalidToken, SessionExpired),
  }),
  Rpc.make("GetProfile", { payload: { userId: UserId }, success: User, error: UserNotFound }),
  Rpc.make("UpdateProfile", {
    payload: Schema.Struct({
      userId: UserId,
      name: Schema.optionalWith(DisplayName, { exact: true }),
      email: Schema.optionalWith(Email, { exact: true }),
    }),
    success: User,
    error: Schema.Union(UserNotFound, EmailTaken),
  }),
  /** Adds an address; the user's first address, or one added with `makeDefault`, becomes the default. */
  Rpc.make("AddAddress", {
    payload: Schema.Struct({
      userId: UserId,
      label: Schema.optionalWith(Schema.Trimmed.pipe(Schema.maxLength(100)), { exact: true }),
      address: PostalAddress,
      makeDefault: Schema.optionalWith(Schema.Boolean, { exact: true }),
    }),
    success: Address,
    error: UserNotFound,
  }),
  /** The user's addresses, oldest first. */
  Rpc.make("ListAddresses", { payload: { userId: UserId }, success: Schema.Array(Address), error: UserNotFound }),
  /** Removes an address; when it was the default, the oldest remaining one becomes the default. */
  Rpc.make("RemoveAddress", { payload: { userId: UserId, addressId: AddressId }, error: AddressNotFound }),
  Rpc.make("SetDefaultAddress", {
    payload: { userId: UserId, addressId: AddressId },
    success: Address,
    error: AddressNotFound,
  }),
  /** An admin (named by its session token) gives a user a role; giving a role the user has is a no-op. */
  Rpc.make("GrantRole", {
    payload: RoleChange,
    success: User,
    error: Schema.Union(InvalidToken, SessionExpired, Forbidden, UserNotFound),
  }),
  /** An admin takes a role from a user; taking one the user lacks is a no-op. */
  Rpc.make("RevokeRole", {
    payload: RoleChange,
    success: User,
    error: Schema.Union(InvalidToken, SessionExpired, Forbidden, UserNotFound),
  }),
) {}
