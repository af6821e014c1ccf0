/**
 * A pg pool whose connections name every parameterised statement after its text, so PostgreSQL parses
 * and plans a statement once per connection instead of on every call: node-postgres (under
 * @effect/sql-pg) sends each query as an unnamed statement, and the parse and plan of this project's
 * CTE statements cost PostgreSQL as much CPU as running them (bench/RESULTS.md, "prepared statements").
 * Statements without parameters — BEGIN, COMMIT, migration scripts of several statements — stay unnamed.
 */
import { SqlError } from "@effect/sql/SqlError"
import { Duration, Effect, Redacted } from "effect"
import Pg from "pg"

/** Statement texts that vary without bound (an IN list per length) stop being named past this many. */
const maxNamed = 2000
const names = new Map<string, string>()

const nameOf = (text: string) => {
  const known = names.get(text)
  if (known !== undefined || names.size >= maxNamed) return known
  const name = `cm_${names.size}`
  names.set(text, name)
  return name
}

type Query = (this: Pg.Client, ...args: ReadonlyArray<unknown>) => unknown
const plainQuery = Pg.Client.prototype.query as unknown as Query

class PreparingClient extends Pg.Client {}
// `query` has a dozen overloads in pg's types; replacing it on the prototype keeps every one of them.
Object.defineProperty(PreparingClient.prototype, "query", {
  value: function (this: Pg.Client, ...args: ReadonlyArray<unknown>) {
    const [text, values, callback] = args
    if (typeof text === "string" && Array.isArray(values) && values.length > 0) {
      const name = nameOf(text)
      if (name !== undefined) return plainQuery.call(this, { name, text, values }, callback)
    }
    return plainQuery.call(this, ...args)
  },
})

export interface PreparingPoolOptions {
  readonly url: Redacted.Redacted
  readonly maxConnections: number
  readonly applicationName: string
  readonly connectTimeout: Duration.DurationInput
  /** false: plain pg connections (every statement unnamed). */
  readonly prepared: boolean
}

/** The pool, checked with one query before it is handed out, and ended with its scope. */
export const preparingPool = (options: PreparingPoolOptions) =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const pool = new Pg.Pool({
        connectionString: Redacted.value(options.url),
        max: options.maxConnections,
        application_name: options.applicationName,
        connectionTimeoutMillis: Duration.toMillis(options.connectTimeout),
        ...(options.prepared ? { Client: PreparingClient } : {}),
      })
      // An idle connection that breaks is dropped by the pool; without a listener it would crash the process.
      pool.on("error", () => {})
      return Effect.tryPromise({
        try: () => pool.query("SELECT 1"),
        catch: (cause) => new SqlError({ cause, message: "PgClient: Failed to connect" }),
      }).pipe(
        Effect.timeoutFail({
          duration: options.connectTimeout,
          onTimeout: () => new SqlError({ cause: new Error("Connection timed out"), message: "PgClient: timed out" }),
        }),
        Effect.tapError(() => Effect.promise(() => pool.end())),
        Effect.as(pool),
      )
    }),
    (pool) => Effect.promise(() => pool.end()).pipe(Effect.timeoutOption(1000)),
  )
