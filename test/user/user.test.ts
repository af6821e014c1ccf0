/**
 * The user service as a real process (services/user/main.ts) on the real PostgreSQL, Redis and Kafka,
 * called over RPC; plus the pure token functions the gateway will use. argon2id runs with tiny costs here.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { Effect, Either, Layer, Redacted } from "effect"
import { Redis } from "ioredis"
import type { UserId } from "../../rpc/common.ts"
import { type AddressId, type PostalAddress, type SessionId, UserRpcs } from "../../rpc/user.ts"
import { RpcClientTag } from "../../src/rpc/index.ts"
import { signToken, verifyToken } from "../../src/auth-token.ts"
import { type ServiceProcess, startService, testDatabaseSuffix } from "../support/service-process.ts"
import { adminQuery } from "../support/postgres.ts"
import { testRuntime } from "../support/run.ts"

class UserClient extends RpcClientTag<UserClient>()("user", UserRpcs) {}

const database = `cm_user${testDatabaseSuffix}`
const secret = "user-test-secret"
const adminEmail = `Admin-${crypto.randomUUID()}@Example.test`
const email = () => `u-${crypto.randomUUID()}@example.test`
const password = Redacted.make("correct horse battery")
const address = (line1: string): PostalAddress => ({ line1, city: "Utrecht", postalCode: "3511 AB", country: "NL" })
const nowSeconds = () => Math.floor(Date.now() / 1000)

let service: ServiceProcess
let runtime: ReturnType<typeof testRuntime<UserClient, unknown>>
let redis: Redis
const run = <A, E>(effect: Effect.Effect<A, E, UserClient>) => runtime.run(effect)

beforeAll(async () => {
  service = await startService("user", {
    AUTH_TOKEN_SECRET: secret,
    USER_ARGON2_MEMORY_KIB: "256",
    USER_ARGON2_TIME_COST: "1",
    USER_BOOTSTRAP_ADMIN_EMAILS: adminEmail,
  })
  runtime = testRuntime(UserClient.layer({ timeout: "20 seconds" }).pipe(Layer.provide(service.clientConfig)))
  redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379")
})

afterAll(async () => {
  await runtime?.dispose()
  await service?.stop()
  await redis?.quit()
})

/** A registered user and a logged-in session of theirs. */
const signedUp = (userEmail = email()) =>
  Effect.gen(function* () {
    const users = yield* UserClient
    const user = yield* users.Register({ email: userEmail, password, name: "Ada" })
    const session = yield* users.Login({ email: userEmail, password })
    return { user, session }
  })

describe("the user process", () => {
  test("is live and ready (postgres, redis, kafka) on its side port", async () => {
    const base = `http://127.0.0.1:${service.httpPort}`
    expect((await fetch(`${base}/healthz`)).status).toBe(200)
    const readiness = await fetch(`${base}/readyz`)
    expect(readiness.status).toBe(200)
    const body = (await readiness.json()) as { checks: Array<{ name: string; ok: boolean }> }
    expect(body.checks.map((check) => check.name).sort()).toEqual(["kafka", "postgres", "redis"])
  })
})

describe("Register and Login", () => {
  test("registers a customer whose password is stored as an argon2id hash that verifies", () =>
    run(
      Effect.gen(function* () {
        const users = yield* UserClient
        const user = yield* users.Register({ email: email(), password, name: "Ada" })
        expect(user.roles).toEqual(["customer"])
        const [row] = yield* Effect.promise(() =>
          adminQuery(`SELECT password_hash FROM users WHERE id = '${user.id}'`, database),
        )
        const hash = String(row?.password_hash)
        expect(hash).toStartWith("$argon2id$")
        expect(yield* Effect.promise(() => Bun.password.verify(Redacted.value(password), hash))).toBe(true)
        expect(yield* Effect.promise(() => Bun.password.verify("wrong password", hash))).toBe(false)
        yield* Effect.sleep("1 second")
        const events = yield* Effect.promise(() =>
          adminQuery(
            `SELECT event_type, published_at IS NOT NULL AS published FROM outbox WHERE event_key = '${user.id}'`,
            database,
          ),
        )
        expect(events).toEqual([{ event_type: "user.registered", published: true }])
      }),
    ))

  test("an email taken in any letter case fails with EmailTaken; a short password with WeakPassword", () =>
    run(
      Effect.gen(function* () {
        const users = yield* UserClient
        const taken = email()
        yield* users.Register({ email: taken, password, name: "Ada" })
        const again = yield* users.Register({ email: taken.toUpperCase(), password, name: "Bob" }).pipe(Effect.flip)
        expect(again._tag).toBe("EmailTaken")
        const weak = yield* users
          .Register({ email: email(), password: Redacted.make("1234567"), name: "Ada" })
          .pipe(Effect.flip)
        expect(weak._tag).toBe("WeakPassword")
      }),
    ))

  test("login (any letter case) issues a token of a 24 h session kept in Redis with a 24 h TTL", () =>
    run(
      Effect.gen(function* () {
        const users = yield* UserClient
        const userEmail = email()
        const user = yield* users.Register({ email: userEmail, password, name: "Ada" })
        const session = yield* users.Login({ email: userEmail.toUpperCase(), password })
        expect(session.user).toEqual(user)
        const expiresIn = session.expiresAt.getTime() - Date.now()
        expect(Math.abs(expiresIn - 86_400_000)).toBeLessThan(10_000)
        const ttl = yield* Effect.promise(() => redis.ttl(`user:session:${session.sessionId}`))
        expect(ttl).toBeGreaterThan(86_400 - 10)
        expect(ttl).toBeLessThanOrEqual(86_400)
        const claims = yield* users.VerifySession({ token: session.token })
        expect([claims.userId, claims.sessionId, claims.roles]).toEqual([user.id, session.sessionId, ["customer"]])
        // The gateway's check needs no call: the secret is enough.
        const local = verifyToken(secret, session.token, Date.now())
        expect(Either.isRight(local) && local.right.userId).toBe(user.id)
      }),
    ))

  test("a wrong password and an unknown email both fail with InvalidCredentials", () =>
    run(
      Effect.gen(function* () {
        const users = yield* UserClient
        const { user } = yield* signedUp()
        const wrong = yield* users
          .Login({ email: user.email, password: Redacted.make("not the password") })
          .pipe(Effect.flip)
        expect(wrong._tag).toBe("InvalidCredentials")
        const unknown = yield* users.Login({ email: email(), password }).pipe(Effect.flip)
        expect(unknown._tag).toBe("InvalidCredentials")
      }),
    ))
})

describe("tokens and sessions", () => {
  test("after logout the token is refused with SessionExpired; logging out again is fine", () =>
    run(
      Effect.gen(function* () {
        const users = yield* UserClient
        const { session } = yield* signedUp()
        yield* users.Logout({ token: session.token })
        expect(yield* Effect.promise(() => redis.exists(`user:session:${session.sessionId}`))).toBe(0)
        const refused = yield* users.VerifySession({ token: session.token }).pipe(Effect.flip)
        expect(refused._tag).toBe("SessionExpired")
        yield* users.Logout({ token: session.token })
      }),
    ))

  test("a tampered, foreign or malformed token is refused with InvalidToken; an expired one with SessionExpired", () =>
    run(
      Effect.gen(function* () {
        const users = yield* UserClient
        const { user, session } = yield* signedUp()
        const [body, signature] = session.token.split(".")
        const claims = JSON.parse(Buffer.from(body!, "base64url").toString())
        const promoted = Buffer.from(JSON.stringify({ ...claims, roles: ["customer", "admin"] })).toString("base64url")
        const forged = signToken("another secret", {
          userId: user.id,
          sessionId: session.sessionId,
          roles: ["admin"],
          expiresAt: nowSeconds() + 60,
        })
        for (const token of [`${promoted}.${signature}`, forged, "garbage", `${body}.`, ""]) {
          const error = yield* users.VerifySession({ token }).pipe(Effect.flip)
          expect(error._tag).toBe("InvalidToken")
        }
        const expired = signToken(secret, {
          userId: user.id,
          sessionId: session.sessionId,
          roles: ["customer"],
          expiresAt: nowSeconds() - 1,
        })
        expect((yield* users.VerifySession({ token: expired }).pipe(Effect.flip))._tag).toBe("SessionExpired")
        expect((yield* users.Logout({ token: forged }).pipe(Effect.flip))._tag).toBe("InvalidToken")
      }),
    ))

  test("verifyToken is pure: signature first, then expiry", () => {
    const claims = {
      userId: "u1" as UserId,
      sessionId: "s1" as SessionId,
      roles: ["customer" as const],
      expiresAt: 1_000,
    }
    const token = signToken(secret, claims)
    expect(verifyToken(secret, token, 999_000)).toEqual(Either.right(claims))
    expect(Either.getLeft(verifyToken(secret, token, 1_000_000)).pipe((e) => e._tag === "Some" && e.value._tag)).toBe(
      "SessionExpired",
    )
    expect(Either.getLeft(verifyToken("x", token, 1_000_000)).pipe((e) => e._tag === "Some" && e.value._tag)).toBe(
      "InvalidToken",
    )
  })
})

describe("profiles", () => {
  test("GetProfile and UpdateProfile; unknown users fail with UserNotFound; a taken email with EmailTaken", () =>
    run(
      Effect.gen(function* () {
        const users = yield* UserClient
        const { user } = yield* signedUp()
        const other = yield* signedUp()
        expect(yield* users.GetProfile({ userId: user.id })).toEqual(user)
        const renamed = yield* users.UpdateProfile({ userId: user.id, name: "Ada L." })
        expect([renamed.name, renamed.email]).toEqual(["Ada L.", user.email])
        const moved = email()
        expect((yield* users.UpdateProfile({ userId: user.id, email: moved })).email).toBe(moved)
        yield* users.Login({ email: moved, password })
        const taken = yield* users
          .UpdateProfile({ userId: user.id, email: other.user.email.toUpperCase() })
          .pipe(Effect.flip)
        expect(taken._tag).toBe("EmailTaken")
        const nobody = `usr-${crypto.randomUUID()}` as UserId
        expect((yield* users.GetProfile({ userId: nobody }).pipe(Effect.flip))._tag).toBe("UserNotFound")
        expect((yield* users.UpdateProfile({ userId: nobody, name: "x" }).pipe(Effect.flip))._tag).toBe("UserNotFound")
        const events = yield* Effect.promise(() =>
          adminQuery(`SELECT event_type FROM outbox WHERE event_key = '${user.id}' ORDER BY id`, database),
        )
        expect(events.map((e) => e.event_type)).toEqual(["user.registered", "user.updated", "user.updated"])
      }),
    ))
})

describe("addresses", () => {
  test("the first address is the default, one default at a time, removal of the default promotes the oldest", () =>
    run(
      Effect.gen(function* () {
        const users = yield* UserClient
        const { user } = yield* signedUp()
        const userId = user.id
        const home = yield* users.AddAddress({ userId, label: "home", address: address("1 Home St") })
        expect(home.isDefault).toBe(true)
        const work = yield* users.AddAddress({ userId, address: address("2 Work St") })
        expect([work.isDefault, work.label]).toEqual([false, null])
        const cabin = yield* users.AddAddress({ userId, address: address("3 Cabin Rd"), makeDefault: true })
        expect(cabin.isDefault).toBe(true)
        const defaults = (list: ReadonlyArray<{ id: AddressId; isDefault: boolean }>) =>
          list.filter((a) => a.isDefault).map((a) => a.id)
        expect(defaults(yield* users.ListAddresses({ userId }))).toEqual([cabin.id])
        expect((yield* users.SetDefaultAddress({ userId, addressId: work.id })).isDefault).toBe(true)
        expect(defaults(yield* users.ListAddresses({ userId }))).toEqual([work.id])
        yield* users.RemoveAddress({ userId, addressId: work.id })
        const left = yield* users.ListAddresses({ userId })
        expect(left.map((a) => a.id)).toEqual([home.id, cabin.id])
        expect(defaults(left)).toEqual([home.id])
      }),
    ))

  test("unknown addresses fail with AddressNotFound, unknown users with UserNotFound", () =>
    run(
      Effect.gen(function* () {
        const users = yield* UserClient
        const { user } = yield* signedUp()
        const other = yield* signedUp()
        const theirs = yield* users.AddAddress({ userId: other.user.id, address: address("9 Other St") })
        const missing = `adr-${crypto.randomUUID()}` as AddressId
        for (const addressId of [missing, theirs.id]) {
          expect((yield* users.RemoveAddress({ userId: user.id, addressId }).pipe(Effect.flip))._tag).toBe(
            "AddressNotFound",
          )
          expect((yield* users.SetDefaultAddress({ userId: user.id, addressId }).pipe(Effect.flip))._tag).toBe(
            "AddressNotFound",
          )
        }
        const nobody = `usr-${crypto.randomUUID()}` as UserId
        expect((yield* users.ListAddresses({ userId: nobody }).pipe(Effect.flip))._tag).toBe("UserNotFound")
        const add = yield* users.AddAddress({ userId: nobody, address: address("1 Nowhere") }).pipe(Effect.flip)
        expect(add._tag).toBe("UserNotFound")
      }),
    ))

  test("concurrent 'make default' calls leave exactly one default", () =>
    run(
      Effect.gen(function* () {
        const users = yield* UserClient
        const { user } = yield* signedUp()
        const added = yield* Effect.forEach([1, 2, 3, 4, 5], (n) =>
          users.AddAddress({ userId: user.id, address: address(`${n} Race St`) }),
        )
        yield* Effect.all(
          added.map((a) => users.SetDefaultAddress({ userId: user.id, addressId: a.id })),
          { concurrency: "unbounded" },
        )
        const list = yield* users.ListAddresses({ userId: user.id })
        expect(list.filter((a) => a.isDefault).length).toBe(1)
      }),
    ))
})

describe("roles", () => {
  test("an admin grants and revokes; open sessions see the change; a customer is Forbidden", () =>
    run(
      Effect.gen(function* () {
        const users = yield* UserClient
        const admin = yield* signedUp(adminEmail)
        expect(admin.user.roles).toEqual(["customer", "admin"])
        const customer = yield* signedUp()
        const denied = yield* users
          .GrantRole({ token: customer.session.token, userId: customer.user.id, role: "admin" })
          .pipe(Effect.flip)
        expect(denied._tag).toBe("Forbidden")
        const promoted = yield* users.GrantRole({
          token: admin.session.token,
          userId: customer.user.id,
          role: "admin",
        })
        expect(promoted.roles).toEqual(["customer", "admin"])
        expect((yield* users.VerifySession({ token: customer.session.token })).roles).toEqual(["customer", "admin"])
        // Now an admin, the customer may grant too; granting a role the user has is a no-op.
        yield* users.GrantRole({ token: customer.session.token, userId: customer.user.id, role: "admin" })
        const demoted = yield* users.RevokeRole({
          token: admin.session.token,
          userId: customer.user.id,
          role: "admin",
        })
        expect(demoted.roles).toEqual(["customer"])
        expect((yield* users.VerifySession({ token: customer.session.token })).roles).toEqual(["customer"])
        const nobody = `usr-${crypto.randomUUID()}` as UserId
        const missing = yield* users
          .GrantRole({ token: admin.session.token, userId: nobody, role: "admin" })
          .pipe(Effect.flip)
        expect(missing._tag).toBe("UserNotFound")
        const forged = yield* users
          .GrantRole({ token: "forged.token", userId: customer.user.id, role: "admin" })
          .pipe(Effect.flip)
        expect(forged._tag).toBe("InvalidToken")
      }),
    ))
})
