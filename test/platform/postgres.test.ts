import { afterAll, describe, expect, test } from "bun:test"
import { SqlClient } from "@effect/sql"
import { ConfigProvider, Effect, Exit, Layer } from "effect"
import { join } from "node:path"
import { Slot, Zone } from "../../rpc/delivery.ts"
import { ensureDatabase, guardFailureOf, PostgresLive, rowDecoder } from "../../src/postgres.ts"
import { adminQuery } from "../support/postgres.ts"
import { runTest } from "../support/run.ts"

const service = `platform_pg_${crypto.randomUUID().slice(0, 8)}`
const database = `cm_${service}`
const migrations = join(import.meta.dir, "migrations")

const withDatabase = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  runTest(Effect.scoped(Effect.provide(effect, PostgresLive(service, { migrations, poolSize: 2 }))))

describe("PostgresLive", () => {
  afterAll(() => adminQuery(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`))

  test("creates the service's database and applies its migrations in order", async () => {
    const rows = await withDatabase(
      Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql<{ id: string; quantity: number; version: number }>`
        SELECT id, quantity, version FROM widgets`,
      ),
    )
    expect(rows).toEqual([{ id: "seed", quantity: 1, version: 0 }])
    const databases = await adminQuery(`SELECT datname FROM pg_database WHERE datname = '${database}'`)
    expect(databases).toHaveLength(1)
  })

  test("rowDecoder: rows read from PostgreSQL become the contract's classes; a row that breaks it is a defect", async () => {
    const [zone, slot, broken] = await withDatabase(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const [zoneRow] = yield* sql`SELECT 'north' AS id, 'North' AS name, ARRAY['10', '11'] AS "postalCodePrefixes"`
        const [slotRow] = yield* sql`
          SELECT 's1' AS id, 'north' AS "zoneId", now() AS "startsAt", now() + interval '1 hour' AS "endsAt",
                 3 AS capacity, 1 AS booked`
        const [brokenRow] = yield* sql`
          SELECT 's2' AS id, 'north' AS "zoneId", now() AS "startsAt", now() AS "endsAt", -1 AS capacity, 0 AS booked`
        return [
          yield* rowDecoder(Zone)(zoneRow),
          yield* rowDecoder(Slot)(slotRow),
          yield* Effect.exit(rowDecoder(Slot)(brokenRow)),
        ] as const
      }),
    )
    expect(zone).toBeInstanceOf(Zone)
    expect(zone).toMatchObject({ id: "north", name: "North", postalCodePrefixes: ["10", "11"] })
    expect(slot).toBeInstanceOf(Slot)
    expect(slot.startsAt).toBeInstanceOf(Date)
    expect([slot.capacity, slot.booked]).toEqual([3, 1])
    expect(Exit.isFailure(broken) && broken.cause._tag === "Die").toBe(true)
  })

  test("running the migrations again changes nothing", async () => {
    const applied = await withDatabase(
      Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql<{ migration_id: number; name: string }>`
        SELECT migration_id, name FROM schema_migrations ORDER BY migration_id`,
      ),
    )
    expect(applied).toEqual([
      { migration_id: 1, name: "widgets" },
      { migration_id: 2, name: "widget_versions" },
    ])
    const seeds = await withDatabase(
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ n: number }>`SELECT count(*)::int AS n FROM widgets`),
    )
    expect(seeds).toEqual([{ n: 1 }])
  })

  test("two processes racing to create the same database both succeed", async () => {
    const racer = `cm_${service}_race`
    try {
      await runTest(
        Effect.all([ensureDatabase(racer), ensureDatabase(racer), ensureDatabase(racer)], { concurrency: 3 }),
      )
      expect(await adminQuery(`SELECT datname FROM pg_database WHERE datname = '${racer}'`)).toHaveLength(1)
    } finally {
      await adminQuery(`DROP DATABASE IF EXISTS "${racer}" WITH (FORCE)`)
    }
  })

  test("a broken migration fails the Layer and leaves no partial schema", async () => {
    const broken = join(import.meta.dir, "migrations-broken")
    const layer = PostgresLive(`${service}_broken`, { migrations: broken, poolSize: 1 })
    const exit = await Effect.runPromiseExit(Effect.scoped(Layer.build(layer)))
    expect(exit._tag).toBe("Failure")
    const tables = await adminQuery(
      "SELECT table_name FROM information_schema.tables WHERE table_name IN ('half_written', 'schema_migrations')",
      `cm_${service}_broken`,
    )
    expect(tables.map((row) => row.table_name)).toEqual(["schema_migrations"])
    await adminQuery(`DROP DATABASE IF EXISTS "cm_${service}_broken" WITH (FORCE)`)
  })

  const preparedOnOneConnection = (prepared: boolean) =>
    runTest(
      Effect.scoped(
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          // One transaction holds one connection: the statement and the look-up see the same session.
          return yield* sql.withTransaction(
            Effect.gen(function* () {
              yield* sql`SELECT quantity FROM widgets WHERE id = ${"seed"}`
              yield* sql`SELECT quantity FROM widgets WHERE id = ${"seed"}`
              return yield* sql<{ statement: string }>`SELECT statement FROM pg_prepared_statements`
            }),
          )
        }).pipe(
          Effect.provide(PostgresLive(service, { migrations, poolSize: 1 })),
          Effect.withConfigProvider(
            ConfigProvider.fromMap(new Map([["DATABASE_PREPARED_STATEMENTS", String(prepared)]])).pipe(
              ConfigProvider.orElse(() => ConfigProvider.fromEnv()),
            ),
          ),
        ),
      ),
    )

  test("a statement with parameters is prepared once per connection; DATABASE_PREPARED_STATEMENTS=false prepares none", async () => {
    const prepared = await preparedOnOneConnection(true)
    expect(prepared.filter((row) => row.statement.includes("FROM widgets WHERE id = $1"))).toHaveLength(1)
    // The look-up itself has no parameters, so it stays unnamed.
    expect(prepared.filter((row) => row.statement.includes("pg_prepared_statements"))).toHaveLength(0)
    expect(await preparedOnOneConnection(false)).toEqual([])
  })

  test("every service database gets the platform's outbox and cm_guard, whose failure rolls its statement back", async () => {
    const outcome = await withDatabase(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const outbox = yield* sql<{ exists: boolean }>`SELECT to_regclass('outbox') IS NOT NULL AS exists`
        const failed = yield* sql`
          WITH bumped AS (UPDATE widgets SET quantity = quantity + 1 WHERE id = ${"seed"} RETURNING 1)
          SELECT cm_guard((SELECT count(*) FROM bumped) = ${2}, ${"widgets"})`.pipe(Effect.flip)
        const [widget] = yield* sql<{ quantity: number }>`SELECT quantity FROM widgets WHERE id = ${"seed"}`
        return { outbox: outbox[0]?.exists, guarded: guardFailureOf(failed), quantity: widget?.quantity }
      }),
    )
    // The widgets' own migrations know nothing of either; the UPDATE that the guard refused left no trace.
    expect(outcome).toEqual({ outbox: true, guarded: "widgets", quantity: 1 })
  })
})
