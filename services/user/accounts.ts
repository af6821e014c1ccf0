/**
 * Accounts: registration, login and role changes — the rules around credentials, sessions and roles.
 */
import { Effect, Redacted } from "effect"
import type { UserId } from "../../rpc/common.ts"
import {
  AuthSession,
  EmailTaken,
  Forbidden,
  InvalidCredentials,
  minPasswordLength,
  type Role,
  UserNotFound,
  WeakPassword,
} from "../../rpc/user.ts"
import { bootstrapAdminEmails } from "./config.ts"
import { Passwords } from "./passwords.ts"
import { UserRepository } from "./repository.ts"
import { Sessions } from "./sessions.ts"

export class Accounts extends Effect.Service<Accounts>()("user/Accounts", {
  effect: Effect.gen(function* () {
    const repository = yield* UserRepository
    const passwords = yield* Passwords
    const sessions = yield* Sessions
    const admins = yield* bootstrapAdminEmails

    const register = Effect.fn("User.register")(function* (request: {
      email: string
      password: Redacted.Redacted<string>
      name: string
    }) {
      if (Redacted.value(request.password).length < minPasswordLength) {
        return yield* new WeakPassword({ minLength: minPasswordLength })
      }
      const roles: ReadonlyArray<Role> = admins.has(request.email.toLowerCase()) ? ["customer", "admin"] : ["customer"]
      return yield* repository
        .insertUser({
          id: `usr_${crypto.randomUUID()}`,
          email: request.email,
          name: request.name,
          passwordHash: yield* passwords.hash(request.password),
          roles,
        })
        .pipe(Effect.catchTag("EmailInUse", () => Effect.fail(new EmailTaken({ email: request.email }))))
    })

    const login = Effect.fn("User.login")(function* (request: { email: string; password: Redacted.Redacted<string> }) {
      const found = yield* repository.findCredentials(request.email)
      if (found === undefined) {
        yield* passwords.verifyAgainstNothing(request.password)
        return yield* new InvalidCredentials()
      }
      if (!(yield* passwords.verify(request.password, found.passwordHash))) return yield* new InvalidCredentials()
      const session = yield* sessions.open(found.user.id, found.user.roles)
      return new AuthSession({ ...session, user: found.user })
    })

    /** Only an admin with a live session may change roles; the acting user's roles are read fresh. */
    const changeRole = Effect.fn("User.changeRole")(function* (
      request: { token: string; userId: UserId; role: Role },
      grant: boolean,
    ) {
      const actor = yield* sessions.verify(request.token)
      const current = yield* repository.findById(actor.userId)
      if (current === undefined || !current.roles.includes("admin")) {
        return yield* new Forbidden({ requiredRole: "admin" })
      }
      const updated = yield* repository.changeRole(request.userId, request.role, grant)
      if (updated === undefined) return yield* new UserNotFound({ userId: request.userId })
      yield* sessions.updateRoles(updated.id, updated.roles)
      return updated
    })

    return { register, login, changeRole } as const
  }),
  dependencies: [UserRepository.Default, Passwords.Default, Sessions.Default],
}) {}
