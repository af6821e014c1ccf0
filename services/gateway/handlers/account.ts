/** Register, log in and out, and the caller's own profile and addresses. */
import { Effect } from "effect"
import { implementGateway } from "./implement.ts"
import { GatewayApi } from "../api/index.ts"
import { CurrentUser } from "../api/security.ts"
import { tokenOf } from "../auth.ts"
import { UserClient } from "../clients.ts"
import { SessionCache } from "../sessions.ts"
import { AddressCache } from "../addresses.ts"
import { orUnavailable } from "../unavailable.ts"

/** The user service, and the id of the caller the guard verified. */
const asCaller = Effect.all({ users: UserClient, session: CurrentUser })

/** After a change to the caller's addresses, this gateway's copy goes at once (others' on the announcement). */
const forgetAddresses = <A, E, R>(change: Effect.Effect<A, E, R>) =>
  Effect.ensuring(
    change,
    Effect.flatMap(Effect.all([AddressCache, CurrentUser]), ([addresses, session]) => addresses.forget(session.userId)),
  )

export const AuthHandlers = implementGateway(GatewayApi, "auth", {
  register: ({ payload }) => Effect.flatMap(UserClient, (users) => users.Register(payload)).pipe(orUnavailable("user")),
  login: ({ payload }) => Effect.flatMap(UserClient, (users) => users.Login(payload)).pipe(orUnavailable("user")),
  logout: ({ raw }) =>
    Effect.gen(function* () {
      const { session, users } = yield* asCaller
      yield* users.Logout({ token: tokenOf(raw) }).pipe(
        // The guard verified this token a moment ago; one that turned invalid since has nothing left to end.
        Effect.catchTag("InvalidToken", () => Effect.void),
      )
      yield* Effect.flatMap(SessionCache, (sessions) => sessions.forget(session.sessionId))
    }).pipe(orUnavailable("user")),
})

export const AccountHandlers = implementGateway(GatewayApi, "account", {
  getProfile: () =>
    Effect.flatMap(asCaller, ({ users, session }) => users.GetProfile({ userId: session.userId })).pipe(
      orUnavailable("user"),
    ),
  updateProfile: ({ payload }) =>
    Effect.flatMap(asCaller, ({ users, session }) => users.UpdateProfile({ ...payload, userId: session.userId })).pipe(
      orUnavailable("user"),
    ),
  listAddresses: () =>
    Effect.flatMap(asCaller, ({ users, session }) => users.ListAddresses({ userId: session.userId })).pipe(
      orUnavailable("user"),
    ),
  addAddress: ({ payload }) =>
    Effect.flatMap(asCaller, ({ users, session }) => users.AddAddress({ ...payload, userId: session.userId })).pipe(
      forgetAddresses,
      orUnavailable("user"),
    ),
  removeAddress: ({ path }) =>
    Effect.flatMap(asCaller, ({ users, session }) =>
      users.RemoveAddress({ userId: session.userId, addressId: path.addressId }),
    ).pipe(forgetAddresses, orUnavailable("user")),
  setDefaultAddress: ({ path }) =>
    Effect.flatMap(asCaller, ({ users, session }) =>
      users.SetDefaultAddress({ userId: session.userId, addressId: path.addressId }),
    ).pipe(forgetAddresses, orUnavailable("user")),
})
