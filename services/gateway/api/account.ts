/** Accounts: register and log in (public), log out, the profile and the address book (a session). */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { PostalAddress } from "../../../rpc/delivery.ts"
import {
  Address,
  AddressId,
  AddressNotFound,
  AuthSession,
  DisplayName,
  Email,
  EmailTaken,
  InvalidCredentials,
  Password,
  User,
  UserNotFound,
  WeakPassword,
} from "../../../rpc/user.ts"
import { Authenticated } from "./security.ts"

export const RegisterBody = Schema.Struct({ email: Email, password: Password, name: DisplayName })
export const LoginBody = Schema.Struct({ email: Email, password: Password })

export class AuthApi extends HttpApiGroup.make("auth")
  .add(
    HttpApiEndpoint.post("register", "/auth/register")
      .setPayload(RegisterBody)
      .addSuccess(User, { status: 201 })
      .addError(EmailTaken, { status: 409 })
      .addError(WeakPassword, { status: 422 })
      .annotate(OpenApi.Summary, "Create a customer account"),
  )
  .add(
    HttpApiEndpoint.post("login", "/auth/login")
      .setPayload(LoginBody)
      .addSuccess(AuthSession)
      .addError(InvalidCredentials, { status: 401 })
      .annotate(OpenApi.Summary, "Open a 24 h session; send its token as `Authorization: Bearer <token>`"),
  )
  .add(
    HttpApiEndpoint.post("logout", "/auth/logout")
      .addSuccess(HttpApiSchema.NoContent)
      .middleware(Authenticated)
      .annotate(OpenApi.Summary, "End the session of the token sent"),
  ) {}

export const UpdateProfileBody = Schema.Struct({
  name: Schema.optionalWith(DisplayName, { exact: true }),
  email: Schema.optionalWith(Email, { exact: true }),
})

export const AddAddressBody = Schema.Struct({
  label: Schema.optionalWith(Schema.Trimmed.pipe(Schema.maxLength(100)), { exact: true }),
  address: PostalAddress,
  makeDefault: Schema.optionalWith(Schema.Boolean, { exact: true }),
})

export const AddressPath = Schema.Struct({ addressId: AddressId })

export class AccountApi extends HttpApiGroup.make("account")
  .add(HttpApiEndpoint.get("getProfile", "/me").addSuccess(User).addError(UserNotFound, { status: 404 }))
  .add(
    HttpApiEndpoint.patch("updateProfile", "/me")
      .setPayload(UpdateProfileBody)
      .addSuccess(User)
      .addError(UserNotFound, { status: 404 })
      .addError(EmailTaken, { status: 409 }),
  )
  .add(
    HttpApiEndpoint.get("listAddresses", "/me/addresses")
      .addSuccess(Schema.Array(Address))
      .addError(UserNotFound, { status: 404 }),
  )
  .add(
    HttpApiEndpoint.post("addAddress", "/me/addresses")
      .setPayload(AddAddressBody)
      .addSuccess(Address, { status: 201 })
      .addError(UserNotFound, { status: 404 }),
  )
  .add(
    HttpApiEndpoint.del("removeAddress", "/me/addresses/:addressId")
      .setPath(AddressPath)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(AddressNotFound, { status: 404 }),
  )
  .add(
    HttpApiEndpoint.put("setDefaultAddress", "/me/addresses/:addressId/default")
      .setPath(AddressPath)
      .addSuccess(Address)
      .addError(AddressNotFound, { status: 404 }),
  )
  .middleware(Authenticated) {}
