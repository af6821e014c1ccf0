/**
 * The user service's SQL: accounts and addresses. Changes to an account write user.registered /
 * user.updated to the outbox in the same transaction. Address changes lock the user's row first, so two
 * concurrent "make this the default" calls cannot leave two defaults (the partial unique index is the
 * backstop) or none.
 */
import { SqlClient, type SqlError } from "@effect/sql"
import { Data, Effect } from "effect"
import { Address, type PostalAddress, type Role, User, UserRegistered, UserUpdated } from "../../rpc/user.ts"
import { Outbox } from "../../src/events/outbox.ts"
import { dying, isUniqueViolation, firstDecoded, rowDecoder } from "../../src/postgres.ts"

/** Another account has this email (compared case-insensitively). */
export class EmailInUse extends Data.TaggedError("EmailInUse")<{}> {}

const toUser = rowDecoder(User)
const toAddress = rowDecoder(Address)

export class UserRepository extends Effect.Service<UserRepository>()("user/UserRepository", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const outbox = yield* Outbox

    const userColumns = sql`id, email, name, roles, created_at AS "createdAt", updated_at AS "updatedAt"`
    const addressColumns = sql`id, label, address, is_default AS "isDefault", created_at AS "createdAt"`
    const first = <A>(rows: ReadonlyArray<A>): A | undefined => rows[0]

    const announce = (kind: "registered" | "updated", user: User) =>
      (kind === "registered" ? UserRegistered : UserUpdated)
        .make({ userId: user.id, email: user.email, name: user.name, roles: user.roles }, { key: user.id })
        .pipe(
          // Our own values always fit our own event schemas: a failure to encode is a bug.
          Effect.orDie,
          Effect.flatMap((event) => outbox.append(event)),
        )

    /** Creates the account; EmailInUse when the email is taken in any case. */
    const insertUser = Effect.fn("User.insert")(function* (user: {
      readonly id: string
      readonly email: string
      readonly name: string
      readonly passwordHash: string
      readonly roles: ReadonlyArray<Role>
    }) {
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          const row = first(
            yield* sql`
              INSERT INTO users (id, email, name, password_hash, roles)
              VALUES (${user.id}, ${user.email}, ${user.name}, ${user.passwordHash},
                      ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(user.roles)}::jsonb)))
              ON CONFLICT ((lower(email))) DO NOTHING
              RETURNING ${userColumns}`,
          )
          if (row === undefined) return yield* new EmailInUse()
          const created = yield* toUser(row)
          yield* announce("registered", created)
          return created
        }),
      )
    })

    const findById = (id: string) =>
      sql`SELECT ${userColumns} FROM users WHERE id = ${id}`.pipe(Effect.flatMap(firstDecoded(toUser)))

    const findCredentials = (email: string) =>
      sql<{ password_hash: string }>`
        SELECT ${userColumns}, password_hash FROM users WHERE lower(email) = lower(${email})`.pipe(
        Effect.flatMap((rows) => {
          const row = first(rows)
          if (row === undefined) return Effect.succeed(undefined)
          return Effect.map(toUser(row), (user) => ({ user, passwordHash: row.password_hash }))
        }),
      )

    /** Changes name and/or email; undefined when the user does not exist. */
    const updateProfile = Effect.fn("User.updateProfile")(function* (
      id: string,
      changes: { readonly name?: string; readonly email?: string },
    ) {
      return yield* sql
        .withTransaction(
          Effect.gen(function* () {
            const row = first(
              yield* sql`
                UPDATE users SET name = coalesce(${changes.name ?? null}, name),
                                 email = coalesce(${changes.email ?? null}, email), updated_at = now()
                WHERE id = ${id}
                RETURNING ${userColumns}`,
            )
            if (row === undefined) return undefined
            const updated = yield* toUser(row)
            yield* announce("updated", updated)
            return updated
          }),
        )
        .pipe(
          Effect.catchTag(
            "SqlError",
            (error): Effect.Effect<never, EmailInUse | SqlError.SqlError> =>
              isUniqueViolation(error) ? Effect.fail(new EmailInUse()) : Effect.fail(error),
          ),
        )
    })

    /** Adds or removes a role; undefined when the user does not exist. Announces only a real change. */
    const changeRole = Effect.fn("User.changeRole")(function* (id: string, role: Role, grant: boolean) {
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          const row = first(
            yield* grant
              ? sql`
                  UPDATE users SET roles = array_append(roles, ${role}), updated_at = now()
                  WHERE id = ${id} AND NOT (${role} = ANY (roles))
                  RETURNING ${userColumns}`
              : sql`
                  UPDATE users SET roles = array_remove(roles, ${role}), updated_at = now()
                  WHERE id = ${id} AND ${role} = ANY (roles)
                  RETURNING ${userColumns}`,
          )
          if (row === undefined) return yield* findById(id)
          const updated = yield* toUser(row)
          yield* announce("updated", updated)
          return updated
        }),
      )
    })

    /** Locks the user's row for the rest of the transaction; false when there is no such user. */
    const lockUser = (id: string) =>
      sql`SELECT 1 FROM users WHERE id = ${id} FOR UPDATE`.pipe(Effect.map((rows) => rows.length > 0))

    /** Adds an address; undefined when the user does not exist. */
    const addAddress = Effect.fn("User.addAddress")(function* (
      userId: string,
      address: { readonly label: string | null; readonly address: PostalAddress; readonly makeDefault: boolean },
    ) {
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          if (!(yield* lockUser(userId))) return undefined
          const [existing] = yield* sql<{
            n: number
          }>`SELECT count(*)::int AS n FROM addresses WHERE user_id = ${userId}`
          const isDefault = address.makeDefault || (existing?.n ?? 0) === 0
          if (isDefault) yield* sql`UPDATE addresses SET is_default = false WHERE user_id = ${userId} AND is_default`
          const row = first(
            yield* sql`
              INSERT INTO addresses (id, user_id, label, address, is_default)
              VALUES (${`adr_${crypto.randomUUID()}`}, ${userId}, ${address.label},
                      ${JSON.stringify(address.address)}::jsonb, ${isDefault})
              RETURNING ${addressColumns}`,
          )
          if (row === undefined) return yield* Effect.dieMessage("address insert returned nothing")
          return yield* toAddress(row)
        }),
      )
    })

    const listAddresses = (userId: string) =>
      sql`SELECT ${addressColumns} FROM addresses WHERE user_id = ${userId} ORDER BY created_at, id`.pipe(
        Effect.flatMap((rows) => Effect.forEach(rows, toAddress)),
      )

    /** Removes an address, promoting the oldest remaining one when it was the default; false when not found. */
    const removeAddress = Effect.fn("User.removeAddress")(function* (userId: string, addressId: string) {
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          yield* lockUser(userId)
          const removed = first(
            yield* sql<{ is_default: boolean }>`
              DELETE FROM addresses WHERE id = ${addressId} AND user_id = ${userId} RETURNING is_default`,
          )
          if (removed === undefined) return false
          if (removed.is_default) {
            yield* sql`
              UPDATE addresses SET is_default = true
              WHERE id = (SELECT id FROM addresses WHERE user_id = ${userId} ORDER BY created_at, id LIMIT 1)`
          }
          return true
        }),
      )
    })

    /** Makes the address the user's default; undefined when not found. */
    const setDefaultAddress = Effect.fn("User.setDefaultAddress")(function* (userId: string, addressId: string) {
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          yield* lockUser(userId)
          const found = yield* sql`SELECT 1 FROM addresses WHERE id = ${addressId} AND user_id = ${userId}`
          if (found.length === 0) return undefined
          yield* sql`
            UPDATE addresses SET is_default = false WHERE user_id = ${userId} AND is_default AND id <> ${addressId}`
          const row = first(
            yield* sql`
              UPDATE addresses SET is_default = true WHERE id = ${addressId} RETURNING ${addressColumns}`,
          )
          return row === undefined ? undefined : yield* toAddress(row)
        }),
      )
    })

    return {
      insertUser: dying(insertUser),
      findById: dying(findById),
      findCredentials: dying(findCredentials),
      updateProfile: dying(updateProfile),
      changeRole: dying(changeRole),
      addAddress: dying(addAddress),
      listAddresses: dying(listAddresses),
      removeAddress: dying(removeAddress),
      setDefaultAddress: dying(setDefaultAddress),
    } as const
  }),
  dependencies: [Outbox.Default],
}) {}
