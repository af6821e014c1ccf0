/**
 * Each service owns one PostgreSQL database, `cm_<service>`, on the server named by DATABASE_URL.
 * `PostgresLive(service)` creates that database when missing, opens a pool on it, applies the
 * platform's SQL (`migrations/platform/`: the outbox, `cm_guard`) and then the plain SQL files of
 * `migrations/<service>/` in order before the Layer is ready.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as Migrator from "@effect/sql/Migrator"
import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import { Config, Duration, Effect, Layer, Redacted, Schedule, Schema } from "effect"
import { readdir } from "node:fs/promises"
import { isAbsolute, join } from "node:path"
import { databasePoolSize, databasePreparedStatements, databaseUrl, type ServiceName } from "./config.ts"
import { preparingPool } from "./postgres-prepared.ts"

export const migrationsRoot = join(import.meta.dir, "..", "migrations")

/** The database a service owns. Tests may set DATABASE_NAME_SUFFIX to work in a database of their own. */
export const databaseName = (service: ServiceName | string) =>
  Config.string("DATABASE_NAME_SUFFIX").pipe(
    Config.withDefault(""),
    Config.map((suffix) => `cm_${service}${suffix}`),
  )

const withDatabase = (url: Redacted.Redacted, database: string) => {
  const parsed = new URL(Redacted.value(url))
  parsed.pathname = `/${database}`
  return Redacted.make(parsed.toString())
}

const DUPLICATE_DATABASE = "42P04"
const UNIQUE_VIOLATION = "23505"
const FOREIGN_KEY_VIOLATION = "23503"
/** Raised by `cm_guard(ok, what)` (migrations/platform/guard.sql) when a one-statement write finds what it guards changed. */
const GUARD_FAILED = "CMG01"

/** What PostgreSQL said about a failed statement (node-postgres' error, the SqlError's cause). */
export interface PgErrorFields {
  readonly code?: unknown
  /** e.g. `Key (sku)=(abc) already exists.` */
  readonly detail?: unknown
  readonly constraint?: unknown
  readonly message?: unknown
}

export const pgErrorOf = (error: unknown): PgErrorFields => {
  const cause = typeof error === "object" && error !== null ? (error as { cause?: unknown }).cause : undefined
  return typeof cause === "object" && cause !== null ? (cause as PgErrorFields) : {}
}

const pgErrorCode = (error: unknown): string | undefined => {
  const code = pgErrorOf(error).code
  return typeof code === "string" ? code : undefined
}

/** The statement broke a unique constraint (`constraint`: that one only). */
export const isUniqueViolation = (error: unknown, constraint?: string) =>
  pgErrorCode(error) === UNIQUE_VIOLATION && (constraint === undefined || pgErrorOf(error).constraint === constraint)

/** What a failed `cm_guard` said it guarded; undefined for any other error. */
export const guardFailureOf = (error: unknown): string | undefined =>
  pgErrorCode(error) === GUARD_FAILED ? String(pgErrorOf(error).message ?? "") : undefined

/** The statement broke a foreign key (`constraint`: that one only). */
export const isForeignKeyViolation = (error: unknown, constraint?: string) =>
  pgErrorCode(error) === FOREIGN_KEY_VIOLATION &&
  (constraint === undefined || pgErrorOf(error).constraint === constraint)

/**
 * A database that stays away after the pool's own retries is infrastructure, not an answer: repositories
 * turn SQL errors into defects with this, so their callers see only the outcomes they decide on.
 */
export const dieOnSql = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catchIf(effect, (error): error is Extract<E, SqlError> => error instanceof SqlError, Effect.die)

/**
 * Rows as instances of a contract's `Class`: each row — its columns aliased to the field names — checked
 * against the fields' own types (ids branded, dates as Dates), so no cast stands between a table and the
 * contract. A row that does not fit is a defect: our own tables' constraints should have refused it.
 */
export const rowDecoder = <Self, Fields extends Schema.Struct.Fields>(Class: {
  readonly fields: Fields
  new (
    props: { readonly [K in keyof Schema.Struct.Type<Fields>]: Schema.Struct.Type<Fields>[K] },
    options?: boolean,
  ): Self
}) => {
  const decode = Schema.decodeUnknown(Schema.typeSchema(Schema.Struct(Class.fields)))
  return (row: unknown): Effect.Effect<Self> =>
    Effect.map(Effect.orDie(decode(row)), (fields) => new Class(fields, true))
}

/** The first of `rows` through `decode` (a `rowDecoder`), or undefined when there is none. */
export const firstDecoded =
  <A>(decode: (row: unknown) => Effect.Effect<A>) =>
  (rows: ReadonlyArray<unknown>): Effect.Effect<A | undefined> => {
    const row = rows[0]
    return row === undefined ? Effect.succeed(undefined) : decode(row)
  }

/**
 * Rows handed to one statement as a table: `jsonb_to_recordset($1::jsonb) AS <alias (typed columns)>`. One
 * parameter however many rows, so a batch of any size is the same prepared statement.
 */
export const recordset = (sql: SqlClient.SqlClient, rows: ReadonlyArray<object>, aliasAndColumns: string) =>
  sql`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS ${sql.literal(aliasAndColumns)}`

/** `f` with its SQL errors turned into defects (`dieOnSql`). */
export const dying =
  <Args extends ReadonlyArray<unknown>, A, E, R>(f: (...args: Args) => Effect.Effect<A, E, R>) =>
  (...args: Args) =>
    dieOnSql(f(...args))

/** `effect` failing with `refused(what)` where a `cm_guard` of its statement refused; other errors as they were. */
export const onGuardFailure =
  <E2>(refused: (what: string) => E2) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.catchIf(
      effect,
      (error) => guardFailureOf(error) !== undefined,
      (error) => Effect.fail(refused(guardFailureOf(error) ?? "")),
    )

/** Connect to the server's maintenance database and create `database` if it does not exist yet. */
export const ensureDatabase = Effect.fn("Postgres.ensureDatabase")(
  function* (database: string) {
    const url = yield* databaseUrl
    const admin = yield* PgClient.make({ url, maxConnections: 1, applicationName: "commerce-mesh-admin" })
    const existing = yield* admin<{
      exists: boolean
    }>`SELECT true AS exists FROM pg_database WHERE datname = ${database}`
    if (existing.length > 0) return
    // Two processes may race to create the same database; the loser sees a duplicate and is done too.
    yield* admin.unsafe(`CREATE DATABASE "${database.replaceAll('"', '""')}"`).pipe(
      Effect.catchIf(
        (error) => pgErrorCode(error) === DUPLICATE_DATABASE || isUniqueViolation(error),
        () => Effect.void,
      ),
    )
  },
  Effect.scoped,
  Effect.provide(Reactivity.layer),
)

/**
 * Reads `migrations/<folder>/NNNN_name.sql` files (or an absolute folder, for test fixtures);
 * each file runs as one multi-statement script inside the migrator's transaction.
 */
export const sqlFileLoader = (folder: string): Migrator.Loader =>
  Effect.gen(function* () {
    const directory = isAbsolute(folder) ? folder : join(migrationsRoot, folder)
    const files = yield* Effect.tryPromise({
      try: () => readdir(directory),
      catch: (error) =>
        new Migrator.MigrationError({ reason: "bad-state", message: `cannot read ${directory}: ${error}` }),
    })
    const migrations: Array<Migrator.ResolvedMigration> = []
    for (const file of files) {
      const match = /^(\d+)_(.+)\.sql$/.exec(file)
      if (match === null) continue
      const [, id, name] = match
      const path = join(directory, file)
      const run = Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const text = yield* Effect.promise(() => Bun.file(path).text())
        yield* sql.unsafe(text)
      })
      migrations.push([Number(id), name ?? file, Effect.succeed(run)])
    }
    return migrations.sort(([a], [b]) => a - b)
  })

const runMigrations = Migrator.make({})

export const migrate = (folder: string) =>
  runMigrations({ loader: sqlFileLoader(folder), table: "schema_migrations" }).pipe(
    // A replica starting at the same moment holds the migrations lock; wait for it instead of failing.
    Effect.retry({
      schedule: Schedule.spaced("200 millis").pipe(Schedule.intersect(Schedule.recurs(50))),
      while: (error) => error._tag === "MigrationError" && error.reason === "locked",
    }),
    Effect.withSpan("Postgres.migrate", { attributes: { folder } }),
  )

/**
 * The platform's own tables and functions (`migrations/platform/*.sql`: the outbox, `cm_guard`), in every
 * service database. Written to be re-run (`IF NOT EXISTS`, `OR REPLACE`), they are applied at every start,
 * before the service's migrations, under a lock so that replicas starting together do not race.
 */
const applyPlatformSql = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const directory = join(migrationsRoot, "platform")
  const files = (yield* Effect.promise(() => readdir(directory))).filter((file) => file.endsWith(".sql")).sort()
  const scripts = yield* Effect.forEach(files, (file) => Effect.promise(() => Bun.file(join(directory, file)).text()))
  yield* sql.withTransaction(
    Effect.gen(function* () {
      yield* sql`SELECT pg_advisory_xact_lock(hashtext('commerce-mesh platform sql'))`
      for (const script of scripts) yield* sql.unsafe(script)
    }),
  )
}).pipe(Effect.withSpan("Postgres.applyPlatformSql"))

export interface PostgresOptions {
  /** Folder under migrations/ (defaults to the service name). */
  readonly migrations?: string
  readonly poolSize?: number
}

/** SqlClient + PgClient for a service's own database, migrated before anything uses it. */
export const PostgresLive = (service: ServiceName | string, options: PostgresOptions = {}) =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const url = yield* databaseUrl
      const database = yield* databaseName(service)
      const poolSize = options.poolSize ?? (yield* databasePoolSize)
      yield* ensureDatabase(database).pipe(
        Effect.retry(Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(6)))),
      )
      const applicationName = `commerce-mesh-${service}`
      const client = PgClient.layerFromPool({
        acquire: preparingPool({
          url: withDatabase(url, database),
          maxConnections: poolSize,
          applicationName,
          connectTimeout: Duration.seconds(5),
          prepared: yield* databasePreparedStatements,
        }),
        applicationName,
      })
      const migrated = Layer.effectDiscard(Effect.zipRight(applyPlatformSql, migrate(options.migrations ?? service)))
      return migrated.pipe(Layer.provideMerge(client))
    }),
  )

/** Readiness probe for the side port. */
export const postgresReady = Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1`)
