/**
 * Checkout through the REST gateway, open model: `POST /checkout` calls arrive at a fixed rate whatever
 * the answers do, each from a customer with a bearer token and a cart filled beforehand through the
 * API, each with its own Idempotency-Key. Reports the answers by status, the 201's p50/p99, confirmed
 * checkouts per second, time to CONFIRMED (from the order database's timestamps), CPU ms per accepted checkout
 * per process, SQL statements per checkout per service database (pg_stat_statements) and each process's
 * resident memory once the step's orders are done, then checks
 * the invariants from the databases: no SKU oversold and stock reconciled with the confirmed orders,
 * one order per key, no capture without a confirmed order or a refund.
 *
 *   bun run bench/checkout/run.ts [rate = 100] [seconds = 10] [--monolith] [--find-max] [--rates 50,100,200]
 *
 * --find-max offers each rate of --rates (default 10,25,50,100,150,200,300,400) for `seconds` (default 5
 * there) until the mesh no longer keeps up (every checkout answered 201 and confirmed, confirmed/s at
 * least 95 % of the offer), and reports the highest rate kept up and the highest sustained: kept up
 * with the 201's p99 under 20 ms. --rates without --find-max offers every rate given, in turn (to see what
 * happens past capacity: shedding should keep confirmed/s flat). Two unmeasured warm-up steps (at 50/s, or
 * the largest rate if lower) run first.
 * The last line is a one-line JSON summary.
 */
import { SQL } from "bun"
import { parseArgs } from "node:util"
import { loadavg } from "node:os"
import { stockedProduct } from "../../test/gateway/support.ts"
import { databaseUrlFor } from "../../test/support/postgres.ts"
import { latencyOf, runOpenModel } from "../load/open-model.ts"
import { cpuMsPer, cpuSeconds, rssMb } from "../load/process-cpu.ts"
import { percentile } from "../load/stats.ts"
import { statementCounts, statementsAvailable, statementsPer } from "../load/statements.ts"
import { type Customer, fillCarts, newCustomers } from "../load/customers.ts"
import { type RestWorld, startRestWorld } from "../load/world.ts"

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  options: {
    monolith: { type: "boolean", default: false },
    "find-max": { type: "boolean", default: false },
    rates: { type: "string" },
  },
  allowPositionals: true,
})
const findMax = values["find-max"] === true
// `--rates` alone runs every rate given in turn (to see past capacity); with --find-max it stops at the first not kept up.
const stepped = findMax || values.rates !== undefined
const rates = stepped
  ? (values.rates ?? "10,25,50,100,150,200,300,400").split(",").map(Number)
  : [Number(positionals[0] ?? 100)]
const seconds = Number(positionals[stepped ? 0 : 1] ?? (stepped ? 5 : 10))
const suffix = values.monolith === true ? "_bench_monolith" : "_bench"
const sustainedAnswerP99Ms = 20
const address = { line1: "1 Bench Way", city: "Springfield", postalCode: "12345", country: "US" }

const step = async (
  world: RestWorld,
  customers: ReadonlyArray<Customer>,
  skus: ReadonlyArray<string>,
  stockPerSku: number,
  rate: number,
  databases: { readonly order: SQL; readonly inventory: SQL; readonly payment: SQL; readonly stats: SQL | undefined },
) => {
  const total = Math.round(rate * seconds)
  const mine = customers.slice(0, total)
  await fillCarts(world.api, mine, skus)
  // Marks this step's orders: every Idempotency-Key of the step starts with it.
  const token = `bench-${crypto.randomUUID().slice(0, 8)}-`
  const statementsBefore = databases.stats === undefined ? undefined : await statementCounts(databases.stats)
  const cpuBefore = cpuSeconds(world.processes)
  const load = await runOpenModel({
    rate,
    seconds,
    send: async (i) => {
      const customer = mine[i] as Customer
      const response = await fetch(`${world.gatewayUrl}/checkout`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${customer.token}`,
          "content-type": "application/json",
          "idempotency-key": `${token}${crypto.randomUUID()}`,
        },
        body: JSON.stringify({ paymentToken: "tok_bench", address, deliveryZone: world.zone }),
      })
      await response.arrayBuffer()
      return response.status
    },
  })

  // The sagas run on after the 201s: wait for every order of this step to leave PENDING.
  let ownOrderStatements = 0
  const deadline = Date.now() + 180_000
  let pending = total
  while (Date.now() < deadline) {
    ownOrderStatements++
    const [row] =
      await databases.order`SELECT count(*)::int AS n FROM orders WHERE status = 'PENDING' AND idempotency_key LIKE ${`${token}%`}`
    pending = (row as { n: number }).n
    if (pending === 0) break
    await Bun.sleep(100)
  }
  const cpuAfter = cpuSeconds(world.processes)
  const memory = rssMb(world.processes)
  const statementsAfter = databases.stats === undefined ? undefined : await statementCounts(databases.stats)
  const rows = (await databases.order`
    SELECT id, status, extract(epoch FROM created_at) AS created, extract(epoch FROM updated_at) AS updated
    FROM orders WHERE idempotency_key LIKE ${`${token}%`}`) as Array<{
    id: string
    status: string
    created: string
    updated: string
  }>
  // Per order the mesh accepted (answered 201); the refusals' small cost is counted with them.
  const accepted = Math.max(1, rows.length)
  const cpu = cpuMsPer(cpuBefore, cpuAfter, accepted)
  const statements =
    statementsBefore === undefined || statementsAfter === undefined
      ? null
      : (() => {
          // The bench's own polling of the order database is not the mesh's work.
          const orderDb = world.databases.order as string
          const adjusted = new Map(statementsAfter)
          adjusted.set(orderDb, (adjusted.get(orderDb) ?? 0) - ownOrderStatements)
          return statementsPer(statementsBefore, adjusted, world.databases, accepted)
        })()
  const confirmed = rows.filter((r) => r.status === "CONFIRMED")
  const toConfirm = confirmed.map((r) => (Number(r.updated) - Number(r.created)) * 1000).sort((a, b) => a - b)
  // The rate confirmations came at: the spread of their times, which is the send window when the
  // mesh keeps up and longer when a backlog builds (first and last are excluded as its edges).
  const confirmTimes = confirmed.map((r) => Number(r.updated))
  const spread = Math.max(...confirmTimes) - Math.min(...confirmTimes)
  const confirmedPerSecond = confirmed.length < 2 || spread <= 0 ? 0 : (confirmed.length - 1) / spread

  const invariants = await checkInvariants(databases, token, rows, skus, stockPerSku)
  const created = load.byStatus["201"] ?? 0
  // Kept up: everything answered 201 and confirmed at (nearly) the offered rate, so no backlog grew
  // behind the answers. Sustained: kept up while answering fast.
  const keptUp = created === total && confirmed.length === total && confirmedPerSecond >= 0.95 * rate
  const sustained = keptUp && (latencyOf(load, "201").p99Ms ?? Number.POSITIVE_INFINITY) < sustainedAnswerP99Ms
  return {
    offeredRate: rate,
    seconds,
    offered: total,
    answers: load.byStatus,
    created201: latencyOf(load, "201"),
    maxSendLagMs: load.maxSendLagMs,
    confirmed: confirmed.length,
    notConfirmed: rows.length - confirmed.length,
    stillPending: pending,
    confirmedPerSecond: Number(confirmedPerSecond.toFixed(1)),
    toConfirmedP50Ms: Number(percentile(toConfirm, 50).toFixed(1)),
    toConfirmedP99Ms: Number(percentile(toConfirm, 99).toFixed(1)),
    cpuMsPerCheckout: cpu,
    statementsPerCheckout: statements,
    rssMb: memory,
    invariants,
    keptUp,
    sustained,
    loadAverage: loadavg().map((n) => Number(n.toFixed(2))),
  }
}

/** Correctness from the databases: what every load or fault run must leave true. */
const checkInvariants = async (
  databases: { readonly order: SQL; readonly inventory: SQL; readonly payment: SQL },
  token: string,
  rows: ReadonlyArray<{ readonly id: string; readonly status: string }>,
  skus: ReadonlyArray<string>,
  stockPerSku: number,
) => {
  const [dup] = (await databases.order`
    SELECT count(*)::int AS n FROM (
      SELECT user_id, idempotency_key FROM orders WHERE idempotency_key LIKE ${`${token}%`}
      GROUP BY user_id, idempotency_key HAVING count(*) > 1) d`) as Array<{ n: number }>
  // Stock: every bench SKU's units are available, reserved or committed, and what is committed is
  // exactly what confirmed orders (of every step so far) bought.
  const stock = (await databases.inventory`
    SELECT sku, available, reserved, committed FROM stock_items WHERE sku IN ${databases.inventory(skus)}`) as Array<{
    sku: string
    available: number
    reserved: number
    committed: number
  }>
  const bought = (await databases.order`
    SELECT i.sku, sum(i.quantity)::int AS units FROM order_items i JOIN orders o ON o.id = i.order_id
    WHERE o.status IN ('CONFIRMED', 'SHIPPED') AND i.sku IN ${databases.order(skus)} GROUP BY i.sku`) as Array<{
    sku: string
    units: number
  }>
  const boughtOf = new Map(bought.map((row) => [row.sku, row.units]))
  const stockReconciles = stock.every(
    (row) =>
      row.available >= 0 &&
      row.available + row.reserved + row.committed === stockPerSku &&
      row.committed === (boughtOf.get(row.sku) ?? 0),
  )
  const confirmedIds = new Set(rows.filter((r) => r.status === "CONFIRMED").map((r) => r.id))
  const ids = rows.map((r) => r.id)
  const captured =
    ids.length === 0
      ? []
      : ((await databases.payment`
          SELECT p.order_id FROM payments p
          WHERE p.status = 'captured' AND p.order_id IN ${databases.payment(ids)}
            AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = p.id)`) as Array<{ order_id: string }>)
  return {
    ordersPerKeyAboveOne: dup?.n ?? -1,
    stockReconciles,
    oversoldSkus: stock.filter((row) => row.committed + row.reserved > stockPerSku).length,
    capturesWithoutConfirmation: captured.filter((row) => !confirmedIds.has(row.order_id)).length,
  }
}

const world = await startRestWorld({ monolith: values.monolith === true, suffix })
const databases = {
  order: new SQL(databaseUrlFor(world.databases.order as string), { max: 1 }),
  inventory: new SQL(databaseUrlFor(world.databases.inventory as string), { max: 1 }),
  payment: new SQL(databaseUrlFor(world.databases.payment as string), { max: 1 }),
  stats: undefined as SQL | undefined,
}
try {
  const stats = new SQL(databaseUrlFor("postgres"), { max: 1 })
  if (await statementsAvailable(stats)) databases.stats = stats
  else console.log("pg_stat_statements is not available (scripts/infra/up.sh sets it up): no statement counts")

  const largest = Math.max(...rates.map((rate) => Math.round(rate * seconds)))
  // Warm-up: two unmeasured steps, enough checkouts for the JIT to settle (a cold first step at 100/s completed
  // 65/s where a warm one completed 100/s).
  const warmRate = Math.min(50, largest / seconds)
  const warmSteps = 2
  const stockPerSku =
    rates.reduce((sum, rate) => sum + Math.round(rate * seconds), 0) + warmSteps * Math.round(warmRate * seconds) + 10
  const skus = [
    (await stockedProduct(world, stockPerSku, 1_999)).sku,
    (await stockedProduct(world, stockPerSku, 4_250)).sku,
  ]
  console.log(`${world.kind}: preparing ${largest} customers …`)
  const customers = await newCustomers(world.api, largest)
  // Warm-up (JIT, pools, connections), not reported.
  for (let i = 0; i < warmSteps; i++) await step(world, customers, skus, stockPerSku, warmRate, databases)
  const steps: Array<Awaited<ReturnType<typeof step>>> = []
  for (const rate of rates) {
    console.log(`${world.kind}: ${rate}/s for ${seconds}s (open model) …`)
    const result = await step(world, customers, skus, stockPerSku, rate, databases)
    console.log(JSON.stringify(result))
    steps.push(result)
    if (findMax && !result.keptUp) break
  }
  const best = steps.filter((s) => s.sustained).at(-1)
  const last = steps.at(-1)
  const summary = {
    bench: "checkout",
    system: world.kind,
    findMax,
    maxSustainedRate: findMax ? (best?.offeredRate ?? 0) : undefined,
    maxKeptUpRate: findMax ? (steps.filter((s) => s.keptUp).at(-1)?.offeredRate ?? 0) : undefined,
    bestConfirmedPerSecond: Math.max(0, ...steps.map((s) => s.confirmedPerSecond)),
    at: best ?? last,
    invariantsHeld: steps.every(
      (s) =>
        s.invariants.ordersPerKeyAboveOne === 0 &&
        s.invariants.stockReconciles &&
        s.invariants.oversoldSkus === 0 &&
        s.invariants.capturesWithoutConfirmation === 0,
    ),
  }
  console.log(JSON.stringify(summary))
  await stats.close()
} finally {
  await Promise.all([databases.order.close(), databases.inventory.close(), databases.payment.close()])
  await world.stop()
}
