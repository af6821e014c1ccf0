/**
 * Inventory contention benchmark: N concurrent reservers (1, 16, 64, 256) of one unit each, against one
 * hot SKU and against many SKUs, for a fixed duration per case, through
 *   (a) optimistic   the plain per-request version-guarded path (bench/inventory/optimistic.ts)
 *   (b) writer       the coalescing single writer, in this process (StockWriter.reserve)
 *   (c) rpc          the real service over RPC (services/inventory/main.ts as a child process)
 *   (c′) rpc-batched the same, the reservers' concurrent calls sent together as ReserveMany (src/rpc/batched.ts,
 *                    as the order service's checkout saga sends them)
 *   (d) pessimistic  SELECT … FOR UPDATE, then UPDATE (baseline)
 *   (e) atomic       one conditional UPDATE … WHERE available >= 1 (baseline: the fastest row-level scheme)
 * (a)–(c) do a whole reservation (stock row, reservation row, movement rows; (c) also its outbox event);
 * (d) and (e) only move the unit from available to reserved.
 *
 * After every case the invariant is checked on that case's SKUs — booked (restocks) = available +
 * reserved + committed, nothing negative — and the reserved units must equal the successes counted;
 * any break exits non-zero. Each case's CPU per reservation is read from /proc (this process, the service
 * of (c), PostgreSQL, Kafka). Writes its table to bench/RESULTS.md ("## Inventory contention"); the last
 * line is a one-line JSON summary of the hot SKU at 256 clients.
 *
 *   bun run bench/inventory/run.ts [--seconds=5] [--clients=1,16,64,256] [--modes=optimistic,writer,rpc,rpc-batched,pessimistic,atomic]
 *                                  [--targets=hot,many] [--pool=256] [--no-write] [--no-pgbench]
 */
import { SqlClient } from "@effect/sql"
import type { Subprocess } from "bun"
import type { RpcClientError } from "@effect/rpc/RpcClientError"
import { ConfigProvider, Effect, Either, Exit, Layer, ManagedRuntime, Scope } from "effect"
import { loadavg } from "node:os"
import { join } from "node:path"
import {
  type ConcurrencyConflict,
  type InsufficientStock,
  InventoryRpcs,
  type OrderId,
  type Reservation,
  type ReservationId,
  type ReserveRequest,
  type Sku,
  type UnknownSku,
} from "../../rpc/inventory.ts"
import { inventoryRetries } from "../../src/metrics.ts"
import { PostgresLive } from "../../src/postgres.ts"
import { makeBatchedCall } from "../../src/rpc/batched.ts"
import { RpcClientTag } from "../../src/rpc/index.ts"
import { InventoryEvents } from "../../services/inventory/events.ts"
import { StockRepository } from "../../services/inventory/repository.ts"
import { StockWriter } from "../../services/inventory/stock-writer.ts"
import { makeOptimisticReserve } from "./optimistic.ts"
import { databaseUrlFor } from "../../test/support/postgres.ts"
import { cpuMsPer, cpuSeconds } from "../load/process-cpu.ts"

// --- options -------------------------------------------------------------------------------------

const flag = (name: string) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.split("=")[1]
const list = (name: string, fallback: string) => (flag(name) ?? fallback).split(",").filter((s) => s.length > 0)
const seconds = Number(flag("seconds") ?? 5)
const clientCounts = list("clients", "1,16,64,256").map(Number)
const modes = list("modes", "optimistic,writer,rpc,rpc-batched,pessimistic,atomic") as Array<Mode>
const targets = list("targets", "hot,many") as Array<Target>
const poolSize = Number(flag("pool") ?? 256)
const manySkus = 1000
const writeResults = !process.argv.includes("--no-write")
const runPgbench = !process.argv.includes("--no-pgbench")
/** Writes a CPU profile of the service process (c) into this directory. */
const profileService = flag("profile-service")

type Mode = "optimistic" | "writer" | "rpc" | "rpc-batched" | "pessimistic" | "atomic"
/** The cases (c) and (c′): through the service as a child process. */
const overRpc = (mode: Mode) => mode === "rpc" || mode === "rpc-batched"
type Target = "hot" | "many"

const modeLabel: Record<Mode, string> = {
  optimistic: "(a) optimistic, per request",
  writer: "(b) coalescing writer, in-process",
  rpc: "(c) service over RPC",
  "rpc-batched": "(c′) over RPC, concurrent calls as one ReserveMany",
  pessimistic: "(d) SELECT FOR UPDATE + UPDATE",
  atomic: "(e) atomic conditional UPDATE",
}

const suffix = "_bench"
const database = `cm_inventory${suffix}`
const databaseUrl = databaseUrlFor(database)
const rpcPort = 47_402
const httpPort = 47_412

const config = Layer.setConfigProvider(
  ConfigProvider.fromMap(
    new Map([
      ["DATABASE_NAME_SUFFIX", suffix],
      ["INVENTORY_RPC_PORT", String(rpcPort)],
      ["INVENTORY_SWEEP_INTERVAL_MS", String(3_600_000)],
    ]),
  ).pipe(ConfigProvider.orElse(() => ConfigProvider.fromEnv())),
)

class InventoryClient extends RpcClientTag<InventoryClient>()("inventory", InventoryRpcs) {}

// --- the service path in this process, the baselines on the same pool ----------------------------

const Local = Layer.mergeAll(StockRepository.Default, StockWriter.Default).pipe(
  Layer.provideMerge(InventoryEvents.Outbox),
  Layer.provideMerge(PostgresLive("inventory", { poolSize })),
  Layer.provide(config),
)

// --- measuring -----------------------------------------------------------------------------------

interface CaseResult {
  readonly mode: Mode
  readonly target: Target
  readonly clients: number
  readonly successes: number
  readonly perSecond: number
  readonly p50: number
  readonly p99: number
  readonly retriesPerSuccess: number | undefined
  readonly failures: Record<string, number>
  /** CPU µs per successful reservation: this process, the service (c), PostgreSQL, Kafka, and all of them. */
  readonly cpuMicros: {
    readonly bench: number
    readonly service: number
    readonly postgres: number
    readonly kafka: number
    readonly all: number
  }
}

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0)

const counterValue = async (path: string) =>
  (await inventoryRetries.get()).values.find((v) => v.labels.path === path)?.value ?? 0

/** inventory_retries_total{path="writer"} as the child service reports it on its metrics port. */
const childRetries = async () => {
  const text = await fetch(`http://127.0.0.1:${httpPort}/metrics`).then((r) => r.text())
  const line = text.split("\n").find((l) => l.startsWith("inventory_retries_total{") && l.includes('path="writer"'))
  return line === undefined ? 0 : Number(line.split(" ").pop())
}

type Attempt = Effect.Effect<string, never, never>

/** A reservation over RPC: the client's own Reserve, or the batched call. */
type RpcReserve = (
  request: ReserveRequest,
) => Effect.Effect<Reservation, InsufficientStock | UnknownSku | ConcurrencyConflict | RpcClientError>

const newReservation = (sku: Sku) => ({
  reservationId: crypto.randomUUID() as ReservationId,
  orderId: `bench-${crypto.randomUUID()}` as OrderId,
  lines: [{ sku, quantity: 1 }] as [{ sku: Sku; quantity: number }],
})

const outcome = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.either(effect), (result) => (Either.isRight(result) ? "ok" : result.left._tag))

/** One reservation attempt of `sku` through `mode`; answers "ok" or the failure's tag. */
const attemptWith = Effect.fn(function* (mode: Mode) {
  const sql = yield* SqlClient.SqlClient
  const reserveOptimistic = yield* makeOptimisticReserve
  const writer = yield* StockWriter
  return (sku: Sku, reserveRpc: RpcReserve | undefined): Attempt => {
    switch (mode) {
      case "optimistic":
        return outcome(reserveOptimistic(newReservation(sku)))
      case "writer":
        return outcome(writer.reserve(newReservation(sku)))
      case "rpc":
      case "rpc-batched":
        return reserveRpc === undefined
          ? Effect.succeed("no-client")
          : outcome(reserveRpc(newReservation(sku))).pipe(Effect.catchAllDefect(() => Effect.succeed("defect")))
      case "pessimistic":
        return sql
          .withTransaction(
            Effect.gen(function* () {
              const [row] = yield* sql<{ available: number }>`
                SELECT available FROM stock_items WHERE sku = ${sku} FOR UPDATE`
              if (row === undefined || row.available < 1) return "InsufficientStock"
              yield* sql`
                UPDATE stock_items SET available = available - 1, reserved = reserved + 1, version = version + 1
                WHERE sku = ${sku}`
              return "ok"
            }),
          )
          .pipe(Effect.catchAll((error) => Effect.succeed(error._tag)))
      case "atomic":
        return sql`
          UPDATE stock_items SET available = available - 1, reserved = reserved + 1, version = version + 1
          WHERE sku = ${sku} AND available >= 1
          RETURNING sku`.pipe(
          Effect.map((rows) => (rows.length === 1 ? "ok" : "InsufficientStock")),
          Effect.catchAll((error) => Effect.succeed(error._tag)),
        )
    }
  }
})

/** Fresh SKUs for one case, stocked through the ledger (a restock movement each) so the audit can check them. */
const stockCase = Effect.fn(function* (prefix: string, count: number, quantity: number) {
  const sql = yield* SqlClient.SqlClient
  const skus = Array.from({ length: count }, (_, i) => `${prefix}-${i}` as Sku)
  yield* sql.withTransaction(
    Effect.zipRight(
      sql`INSERT INTO stock_items (sku, available)
          SELECT s, ${quantity} FROM jsonb_array_elements_text(${JSON.stringify(skus)}::jsonb) AS s`,
      sql`INSERT INTO stock_movements (sku, kind, quantity, reference)
          SELECT s, 'restock', ${quantity}, 'bench' FROM jsonb_array_elements_text(${JSON.stringify(skus)}::jsonb) AS s`,
    ),
  )
  return skus
})

const reservedOf = Effect.fn(function* (skus: ReadonlyArray<Sku>) {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<{ reserved: number }>`
    SELECT coalesce(sum(reserved), 0)::int AS reserved FROM stock_items
    WHERE sku IN (SELECT jsonb_array_elements_text(${JSON.stringify(skus)}::jsonb))`
  return row?.reserved ?? 0
})

class InvariantBroken extends Error {}

/** The service's process when (c) runs, for its CPU. */
const measured = (mode: Mode, service: Subprocess | undefined) =>
  new Map(service === undefined || !overRpc(mode) ? [] : [["service", service.pid]])

const runCase = (
  mode: Mode,
  target: Target,
  clients: number,
  client: RpcReserve | undefined,
  service: Subprocess | undefined,
) =>
  Effect.gen(function* () {
    const repository = yield* StockRepository
    const prefix = `bench-${mode}-${target}-${clients}-${crypto.randomUUID().slice(0, 8)}`
    const skus = yield* stockCase(prefix, target === "hot" ? 1 : manySkus, target === "hot" ? 10_000_000 : 1_000_000)
    const attempt = yield* attemptWith(mode)
    // Open the pool's connections before timing: each costs a SCRAM handshake, milliseconds of CPU.
    const sql = yield* SqlClient.SqlClient
    yield* Effect.forEach(Array.from({ length: Math.min(clients, poolSize) }), () => sql`SELECT pg_sleep(0.05)`, {
      concurrency: "unbounded",
      discard: true,
    })
    const retriesBefore = overRpc(mode)
      ? yield* Effect.promise(childRetries)
      : yield* Effect.promise(() => counterValue(mode))
    const latencies: Array<number> = []
    const failures: Record<string, number> = {}
    let successes = 0
    const cpuBefore = cpuSeconds(measured(mode, service))
    const started = performance.now()
    const deadline = started + seconds * 1000
    const reserver = Effect.gen(function* () {
      while (performance.now() < deadline) {
        const sku = skus[target === "hot" ? 0 : Math.floor(Math.random() * skus.length)] as Sku
        const t0 = performance.now()
        const result = yield* attempt(sku, client)
        latencies.push(performance.now() - t0)
        if (result === "ok") successes++
        else failures[result] = (failures[result] ?? 0) + 1
      }
    })
    yield* Effect.forEach(Array.from({ length: clients }), () => reserver, {
      concurrency: "unbounded",
      discard: true,
    })
    const elapsed = (performance.now() - started) / 1000
    const cpu = cpuMsPer(cpuBefore, cpuSeconds(measured(mode, service)), successes)
    const micros = (name: string) => Math.round((cpu[name] ?? 0) * 1000)
    const retriesAfter = overRpc(mode)
      ? yield* Effect.promise(childRetries)
      : yield* Effect.promise(() => counterValue(mode))

    // The invariant, and that every success (and nothing else) holds exactly one unit.
    const violations = yield* repository.auditLedger(skus)
    const reserved = yield* reservedOf(skus)
    if (violations.length > 0 || reserved !== successes) {
      console.error(
        `INVARIANT BROKEN in ${mode}/${target}/${clients}: reserved=${reserved} successes=${successes}`,
        JSON.stringify(violations.slice(0, 5)),
      )
      return yield* Effect.die(new InvariantBroken(`${mode}/${target}/${clients}`))
    }
    latencies.sort((a, b) => a - b)
    const result: CaseResult = {
      mode,
      target,
      clients,
      successes,
      perSecond: successes / elapsed,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      retriesPerSuccess:
        mode === "pessimistic" || mode === "atomic"
          ? undefined
          : successes === 0
            ? Number.NaN
            : (retriesAfter - retriesBefore) / successes,
      failures,
      cpuMicros: {
        bench: micros("loadgen"),
        service: micros("service"),
        postgres: micros("postgres"),
        kafka: micros("kafka"),
        all: micros("loadgen") + micros("mesh"),
      },
    }
    console.log(formatRow(result))
    return result
  })

// --- the service as a child process ----------------------------------------------------------------

const startService = async (): Promise<Subprocess> => {
  const main = join(import.meta.dir, "..", "..", "services", "inventory", "main.ts")
  const command = profileService === undefined ? [process.execPath, main] : [process.execPath, "--cpu-prof", main]
  const child = Bun.spawn(command, {
    ...(profileService === undefined ? {} : { cwd: profileService }),
    env: {
      ...process.env,
      DATABASE_NAME_SUFFIX: suffix,
      INVENTORY_RPC_PORT: String(rpcPort),
      INVENTORY_HTTP_PORT: String(httpPort),
      LOG_LEVEL: "Warn",
    },
    stdout: "inherit",
    stderr: "inherit",
  })
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`inventory service exited with ${child.exitCode}`)
    const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then(
      (r) => r.ok,
      () => false,
    )
    if (ready) return child
    await Bun.sleep(100)
  }
  child.kill("SIGKILL")
  throw new Error("inventory service did not become ready within 30 s")
}

// --- pgbench: (e) without any client library, for reference ----------------------------------------

const pgbench = async (clients: number) => {
  const sku = `bench-pgbench-${crypto.randomUUID().slice(0, 8)}`
  const { SQL } = await import("bun")
  const db = new SQL(databaseUrl, { max: 1 })
  await db.unsafe(`INSERT INTO stock_items (sku, available) VALUES ('${sku}', 100000000)`)
  await db.unsafe(
    `INSERT INTO stock_movements (sku, kind, quantity, reference) VALUES ('${sku}', 'restock', 100000000, 'bench')`,
  )
  const script = join(process.env.TMPDIR ?? "/tmp", `inventory-pgbench-${sku}.sql`)
  await Bun.write(
    script,
    `UPDATE stock_items SET available = available - 1, reserved = reserved + 1, version = version + 1 WHERE sku = '${sku}' AND available >= 1;\n`,
  )
  const proc = Bun.spawn(
    [
      "/usr/lib/postgresql/15/bin/pgbench",
      "-n",
      "-c",
      String(clients),
      "-j",
      "2",
      // A transaction count, not -T: on a busy machine opening 256 connections (SCRAM) can outlast a
      // short -T entirely. pgbench's tps excludes the connection time either way.
      "-t",
      "200",
      "-f",
      script,
      databaseUrl,
    ],
    { stdout: "pipe", stderr: "pipe" },
  )
  const out = await new Response(proc.stdout).text()
  const err = await new Response(proc.stderr).text()
  if ((await proc.exited) !== 0) console.error(`pgbench failed: ${err}`)
  const tps = /tps = ([\d.]+)/.exec(out)?.[1]
  const latency = /latency average = ([\d.]+) ms/.exec(out)?.[1]
  const [row] = await db.unsafe(
    `SELECT (available + reserved + committed = 100000000 AND available >= 0) AS ok FROM stock_items WHERE sku = '${sku}'`,
  )
  await db.close()
  if (row?.ok !== true) throw new InvariantBroken(`pgbench ${sku}`)
  return {
    tps: tps === undefined ? Number.NaN : Number(tps),
    latency: latency === undefined ? Number.NaN : Number(latency),
  }
}

// --- output ------------------------------------------------------------------------------------------

const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : "–")

const formatRow = (r: CaseResult) =>
  `| ${modeLabel[r.mode]} | ${r.target === "hot" ? "1 hot SKU" : `${manySkus} SKUs`} | ${r.clients} | ${fixed(r.perSecond, 0)} | ${fixed(r.p50, 2)} | ${fixed(r.p99, 2)} | ${r.retriesPerSuccess === undefined ? "n/a" : fixed(r.retriesPerSuccess, 2)} | ${
    Object.entries(r.failures)
      .map(([tag, n]) => `${tag} ${n}`)
      .join(", ") || "0"
  } | ${r.cpuMicros.bench} / ${r.cpuMicros.service} / ${r.cpuMicros.postgres} / ${r.cpuMicros.kafka} / ${r.cpuMicros.all} |`

const header = [
  "| path | target | clients | reservations/s | p50 ms | p99 ms | conflict retries / success | failures | CPU µs per reservation: bench / service / PostgreSQL / Kafka / all |",
  "|---|---|---:|---:|---:|---:|---:|---|---|",
]

const writeSection = async (body: string) => {
  const path = join(import.meta.dir, "..", "RESULTS.md")
  const file = Bun.file(path)
  const current = (await file.exists()) ? await file.text() : "# Benchmark results\n"
  const heading = "## Inventory contention"
  const start = current.indexOf(heading)
  let next: string
  if (start === -1) {
    next = `${current.trimEnd()}\n\n${body}\n`
  } else {
    const after = current.indexOf("\n## ", start + heading.length)
    next = `${current.slice(0, start)}${body}\n${after === -1 ? "" : `\n${current.slice(after + 1)}`}`
  }
  await Bun.write(path, next)
}

// --- main ------------------------------------------------------------------------------------------

const loadAverage = () =>
  loadavg()
    .map((n) => n.toFixed(1))
    .join(" / ")

const main = async () => {
  const loadAtStart = loadAverage()
  const runtime = ManagedRuntime.make(Local)
  let service: Subprocess | undefined
  let rpcRuntime: ManagedRuntime.ManagedRuntime<InventoryClient, unknown> | undefined
  const results: Array<CaseResult> = []
  const batchScope = await Effect.runPromise(Scope.make())
  let pg: { tps: number; latency: number } | undefined
  try {
    await runtime.runPromise(Effect.void)
    console.log(header.join("\n"))
    for (const target of targets) {
      for (const mode of modes) {
        let client: RpcReserve | undefined
        if (overRpc(mode)) {
          if (service === undefined) {
            // The relay of the child would otherwise spend the run publishing earlier cases' backlog.
            await runtime.runPromise(
              Effect.flatMap(
                SqlClient.SqlClient,
                (sql) => sql`UPDATE outbox SET published_at = now() WHERE published_at IS NULL`,
              ),
            )
            service = await startService()
            rpcRuntime = ManagedRuntime.make(InventoryClient.Live.pipe(Layer.provide(config)))
          }
          const inventory = await rpcRuntime?.runPromise(InventoryClient)
          client =
            inventory === undefined
              ? undefined
              : mode === "rpc"
                ? inventory.Reserve
                : await runtime.runPromise(
                    makeBatchedCall("bench.reserve", (requests: ReadonlyArray<ReserveRequest>) =>
                      inventory.ReserveMany({ requests }),
                    ).pipe(Scope.extend(batchScope)),
                  )
        }
        for (const clients of clientCounts) {
          results.push(await runtime.runPromise(runCase(mode, target, clients, client, service)))
        }
      }
    }
  } finally {
    await Effect.runPromise(Scope.close(batchScope, Exit.void))
    await rpcRuntime?.dispose()
    if (service !== undefined) {
      service.kill("SIGTERM")
      await service.exited
    }
    await runtime.dispose()
  }
  // After the pool is closed: pgbench needs its own 256 connections.
  if (runPgbench && clientCounts.includes(256)) pg = await pgbench(256)

  const at = (mode: Mode) => results.find((r) => r.mode === mode && r.target === "hot" && r.clients === 256)
  const atomic = at("atomic")
  const ratioOf = (mode: Mode) => {
    const r = at(mode)
    return r === undefined || atomic === undefined ? undefined : Number((r.perSecond / atomic.perSecond).toFixed(2))
  }
  const ratio = (mode: Mode) => {
    const value = ratioOf(mode)
    return value === undefined ? "–" : `${value.toFixed(2)}×`
  }
  const meets = (mode: Mode) => {
    const r = at(mode)
    return r !== undefined && atomic !== undefined && r.perSecond >= 2 * atomic.perSecond
  }
  const command = `bun run bench/inventory/run.ts ${process.argv.slice(2).join(" ")}`.trim()
  const lines = [
    "## Inventory contention",
    "",
    `Command: \`${command}\` — ${seconds} s per case, one unit per reservation, pool ${poolSize} connections for`,
    `the in-process paths and baselines; ${new Date().toISOString().slice(0, 16)}Z, ${navigator.hardwareConcurrency} cores shared by`,
    `the benchmark, PostgreSQL and (for (c)) the service process — and with other work: load average (1/5/15 min)`,
    `${loadAtStart} at the start, ${loadAverage()} at the end. Absolute figures are noisy; compare within the table.`,
    "(a)–(c) make a whole reservation (stock row + reservation row + movement row; (c) also its outbox event);",
    "(d) and (e) only move the unit from available to reserved. After every case the ledger invariant and",
    "reserved = successes were checked on the case's SKUs: no case broke them. CPU per reservation is read from",
    '/proc over each case\'s timed seconds: "bench" is this process (all of the work of (a), (b), (d), (e) outside',
    'PostgreSQL; the callers\' side of (c)), "service" the inventory process of (c), "all" includes the other servers.',
    "",
    ...header,
    ...results.map(formatRow),
    "",
    `On the hot SKU at 256 clients: (b) / (e) = ${ratio("writer")}, (c) / (e) = ${ratio("rpc")}, (c′) / (e) = ${ratio("rpc-batched")}, (a) / (e) = ${ratio("optimistic")}.`,
    `Target (b) and (c) or (c′) ≥ 2× (e) on the hot SKU at 256 clients: ${meets("writer") && (meets("rpc") || meets("rpc-batched")) ? "met" : "NOT met"} in this run.`,
    pg === undefined
      ? ""
      : `pgbench, (e)'s UPDATE as a custom script, 256 clients × 200 transactions: ${pg.tps.toFixed(0)} tps, average latency ${pg.latency.toFixed(2)} ms.`,
  ]
  const body = lines.join("\n")
  console.log(`\n${body}`)
  if (writeResults) await writeSection(body)
  const perSecond = (mode: Mode) => {
    const r = at(mode)
    return r === undefined ? undefined : Math.round(r.perSecond)
  }
  console.log(
    JSON.stringify({
      bench: "inventory",
      seconds,
      hotSku256: {
        atomicPerSecond: perSecond("atomic"),
        writerPerSecond: perSecond("writer"),
        rpcPerSecond: perSecond("rpc"),
        rpcBatchedPerSecond: perSecond("rpc-batched"),
        writerVsAtomic: ratioOf("writer"),
        rpcVsAtomic: ratioOf("rpc"),
        rpcBatchedVsAtomic: ratioOf("rpc-batched"),
        cpuMicrosPerReservation: Object.fromEntries(
          results.filter((r) => r.target === "hot" && r.clients === 256).map((r) => [r.mode, r.cpuMicros]),
        ),
      },
      invariantsHeld: true,
    }),
  )
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error("BENCHMARK FAILED:", error)
    process.exit(1)
  },
)
