/**
 * The saga engine alone: sagas of five steps, each step one idempotent row INSERT, created and started
 * the way PlaceOrder does (a `create` in the log, then the runner's `start`), at fixed rates (open
 * model), with the real PostgreSQL saga log and runner. No services, no network hops: what is measured
 * is the engine's own cost per saga.
 *
 *   bun run bench/saga/run.ts [rates = 100,200,300] [seconds = 5] [--noop] [--beat=<ms>]
 *
 * `--noop` makes the steps do nothing, so what is left is the engine's own cost (the log's writes).
 * `--beat=100` takes each step on a beat as the order service does (`SAGA_STEP_BEAT_MS`, 100 there); without
 * it every saga steps on as soon as it can.
 * Per rate: sagas completed per second, time from creation to completion (p50/p99), CPU ms per saga of
 * this process (Bun: engine, log, runner, the steps' SQL client) and of PostgreSQL, and SQL statements
 * per saga (pg_stat_statements; the step INSERTs are 5 of them). The last line is a one-line JSON summary.
 */
import { SqlClient } from "@effect/sql"
import { SQL } from "bun"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import { loadavg } from "node:os"
import { PostgresLive } from "../../src/postgres.ts"
import * as Saga from "../../src/saga/index.ts"
import { SagaLog } from "../../src/saga/log.ts"
import { PostgresSagaLogLive } from "../../src/saga/log-postgres.ts"
import { makeSagaRunner } from "../../src/saga/runner.ts"
import { databaseUrlFor } from "../../test/support/postgres.ts"
import { cpuMsPer, cpuSeconds } from "../load/process-cpu.ts"
import { percentile } from "../load/stats.ts"
import { statementCounts, statementsAvailable } from "../load/statements.ts"

const positionals = process.argv.slice(2).filter((arg) => !arg.startsWith("--"))
const noop = process.argv.includes("--noop")
const beatMillis = Number(process.argv.find((arg) => arg.startsWith("--beat="))?.split("=")[1] ?? 0)
const rates = (positionals[0] ?? "100,200,300").split(",").map(Number)
const seconds = Number(positionals[1] ?? 5)
const service = "saga_bench"
const database = `cm_${service}`

const Input = Schema.Struct({ n: Schema.Int })

const insertRow = (sagaId: string, step: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO saga_bench_rows (saga_id, step) VALUES (${sagaId}, ${step}) ON CONFLICT DO NOTHING`.pipe(
      Effect.asVoid,
    ),
  )

const steps = ["one", "two", "three", "four", "five"] as const
const benchSaga = steps.reduce(
  (saga, step) =>
    saga.step(step, {
      result: Schema.Literal("done"),
      action: ({ sagaId }) =>
        noop ? Effect.succeed("done" as const) : Effect.as(insertRow(sagaId, step), "done" as const),
      isTransient: (error) => error._tag === "SqlError" || error._tag === "StepTimeout",
    }),
  Saga.make("bench", Input) as Saga.Saga<typeof Input.Type, Record<string, unknown>, SqlClient.SqlClient>,
)

class BenchRunner extends Effect.Service<BenchRunner>()("bench/SagaRunner", {
  scoped: makeSagaRunner([benchSaga], {
    service: "bench",
    lease: "30 seconds",
    recoveryInterval: "1 hour",
    maxQueueSeconds: Number.POSITIVE_INFINITY,
    stepBeatMillis: beatMillis,
    ...(process.env.BENCH_FIXED_CONCURRENCY === undefined
      ? {}
      : {
          concurrency: {
            min: Number(process.env.BENCH_FIXED_CONCURRENCY),
            max: Number(process.env.BENCH_FIXED_CONCURRENCY),
            initial: Number(process.env.BENCH_FIXED_CONCURRENCY),
          },
        }),
  }),
}) {}

const Clean = Layer.effectDiscard(
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE IF NOT EXISTS saga_bench_rows (saga_id text NOT NULL, step text NOT NULL, PRIMARY KEY (saga_id, step))`
    // Earlier runs' rows only slow the indexes down.
    yield* sql`TRUNCATE saga_bench_rows, saga_steps, saga_instances CASCADE`
  }),
)
const Database = PostgresLive(service, { migrations: "order", poolSize: 10 })
const runtime = ManagedRuntime.make(
  BenchRunner.Default.pipe(
    Layer.provideMerge(PostgresSagaLogLive({ lease: "30 seconds" })),
    Layer.provideMerge(Clean),
    Layer.provideMerge(Database),
  ),
)

const runner = await runtime.runPromise(BenchRunner)
const stats = new SQL(databaseUrlFor("postgres"), { max: 1 })
const sagas = new SQL(databaseUrlFor(database), { max: 1 })
const counted = await statementsAvailable(stats)
const results: Array<Record<string, unknown>> = []
try {
  for (const rate of [Math.min(50, rates[0] ?? 50), ...rates]) {
    const warmUp = results.length === 0 && rate !== rates[0]
    const total = Math.round(rate * seconds)
    const prefix = `bench-${crypto.randomUUID().slice(0, 8)}-`
    const statementsBefore = counted ? await statementCounts(stats) : undefined
    const cpuBefore = cpuSeconds(new Map())
    const started = performance.now()
    const starts: Array<Promise<void>> = []
    for (let i = 0; i < total; i++) {
      const wait = started + (i * 1000) / rate - performance.now()
      if (wait > 1) await Bun.sleep(wait)
      const id = `${prefix}${i}`
      starts.push(
        runtime.runPromise(
          Effect.gen(function* () {
            const log = yield* SagaLog
            const input = { n: i }
            yield* log.create(id, "bench", input, new Date(Date.now() + 120_000))
            yield* runner.start(id, "bench", input)
          }),
        ),
      )
    }
    await Promise.all(starts)
    let ownPolls = 0
    for (;;) {
      ownPolls++
      const [row] = (await sagas`
        SELECT count(*)::int AS n FROM saga_instances WHERE id LIKE ${`${prefix}%`} AND state <> 'completed'`) as Array<{
        n: number
      }>
      if (row?.n === 0) break
      await Bun.sleep(50)
    }
    const cpuAfter = cpuSeconds(new Map())
    const statementsAfter = counted ? await statementCounts(stats) : undefined
    const rows = (await sagas`
      SELECT extract(epoch FROM created_at) AS created, extract(epoch FROM updated_at) AS updated
      FROM saga_instances WHERE id LIKE ${`${prefix}%`}`) as Array<{ created: string; updated: string }>
    const latencies = rows.map((r) => (Number(r.updated) - Number(r.created)) * 1000).sort((a, b) => a - b)
    const firstCreated = Math.min(...rows.map((r) => Number(r.created)))
    const lastDone = Math.max(...rows.map((r) => Number(r.updated)))
    const cpu = cpuMsPer(cpuBefore, cpuAfter, total)
    const statements =
      statementsBefore === undefined || statementsAfter === undefined
        ? null
        : Number(
            (((statementsAfter.get(database) ?? 0) - (statementsBefore.get(database) ?? 0) - ownPolls) / total).toFixed(
              2,
            ),
          )
    const result = {
      offeredRate: rate,
      sagas: total,
      completedPerSecond: Number((rows.length / Math.max(0.001, lastDone - firstCreated)).toFixed(1)),
      latencyP50Ms: Number(percentile(latencies, 50).toFixed(1)),
      latencyP99Ms: Number(percentile(latencies, 99).toFixed(1)),
      cpuMsPerSaga: { bun: cpu.loadgen, postgres: cpu.postgres },
      statementsPerSaga: statements,
      loadAverage: loadavg().map((n) => Number(n.toFixed(2))),
    }
    if (warmUp) continue
    console.log(JSON.stringify(result))
    results.push(result)
  }
  console.log(JSON.stringify({ bench: "saga-engine", seconds, steps: steps.length, noop, beatMillis, results }))
} finally {
  await Promise.all([stats.close(), sagas.close()])
  await runtime.dispose()
}
