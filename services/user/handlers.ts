/**
 * The UserRpcs implementation: accounts and sessions through Accounts and Sessions, profiles and
 * addresses straight to the repository.
 */
import { Effect } from "effect"
import type { UserId } from "../../rpc/common.ts"
import { AddressNotFound, EmailTaken, UserNotFound, UserRpcs } from "../../rpc/user.ts"
import { addressesChangedChannel } from "../../src/announcements.ts"
import { RedisClient } from "../../src/redis.ts"
import { Accounts } from "./accounts.ts"
import { UserRepository } from "./repository.ts"
import { Sessions } from "./sessions.ts"

export const UserHandlers = UserRpcs.toLayer(
  Effect.gen(function* () {
    const accounts = yield* Accounts
    const sessions = yield* Sessions
    const repository = yield* UserRepository

    const redis = yield* RedisClient
    /** Announces a change to the user's addresses once it committed (the gateways drop their copies). */
    const announced =
      (userId: UserId) =>
      <A, E, R>(change: Effect.Effect<A, E, R>) =>
        Effect.tap(change, () => Effect.promise(() => redis.publish(addressesChangedChannel, userId)))

    const existingUser = (userId: UserId) =>
      Effect.flatMap(repository.findById(userId), (user) =>
        user === undefined ? Effect.fail(new UserNotFound({ userId })) : Effect.succeed(user),
      )

    return {
      Register: (request) => accounts.register(request),
      Login: (request) => accounts.login(request),
      Logout: ({ token }) => sessions.close(token).pipe(Effect.catchTag("SessionExpired", () => Effect.void)),
      VerifySession: ({ token }) => sessions.verify(token),
      GetProfile: ({ userId }) => existingUser(userId),
      UpdateProfile: ({ userId, name, email }) =>
        repository
          .updateProfile(userId, {
            ...(name === undefined ? {} : { name }),
            ...(email === undefined ? {} : { email }),
          })
          .pipe(
            Effect.catchTag("EmailInUse", () => Effect.fail(new EmailTaken({ email: email ?? "" }))),
            Effect.flatMap((user) =>
              user === undefined ? Effect.fail(new UserNotFound({ userId })) : Effect.succeed(user),
            ),
          ),
      AddAddress: ({ userId, label, address, makeDefault }) =>
        repository.addAddress(userId, { label: label ?? null, address, makeDefault: makeDefault ?? false }).pipe(
          Effect.flatMap((added) =>
            added === undefined ? Effect.fail(new UserNotFound({ userId })) : Effect.succeed(added),
          ),
          announced(userId),
        ),
      ListAddresses: ({ userId }) => Effect.zipRight(existingUser(userId), repository.listAddresses(userId)),
      RemoveAddress: ({ userId, addressId }) =>
        repository.removeAddress(userId, addressId).pipe(
          Effect.flatMap((removed) => (removed ? Effect.void : Effect.fail(new AddressNotFound({ addressId })))),
          announced(userId),
        ),
      SetDefaultAddress: ({ userId, addressId }) =>
        repository.setDefaultAddress(userId, addressId).pipe(
          Effect.flatMap((address) =>
            address === undefined ? Effect.fail(new AddressNotFound({ addressId })) : Effect.succeed(address),
          ),
          announced(userId),
        ),
      GrantRole: (request) => accounts.changeRole(request, true),
      RevokeRole: (request) => accounts.changeRole(request, false),
    }
  }),
)
