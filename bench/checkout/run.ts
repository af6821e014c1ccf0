/**
 * Checkout benchmark, open model: PlaceOrder calls arrive at a fixed rate whatever the answers do,
 * each for a customer whose cart was filled beforehand. Measures the immediate answer (the order
 * PENDING) and the time each order took to reach CONFIRMED, from the order database's timestamps.
 *
 *   bun run bench/checkout/run.ts [rate per second = 100] [seconds = 10]
 *
 * Starts its own catalog, inventory, payment, delivery, cart and order processes (databases with the
 * suffix _bench) on the local servers, like the test suite does.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { loadavg } from "node:os"
import { SQL } from "bun"
import { Effect } from "effect"
import { IdempotencyKey } from "../../rpc/order.ts"
import {
  address,
  CartClient,
  deliveryZone,
  newCustomer,
  OrderClient,
  startCheckoutWorld,
  stockedProduct,
} from "../../test/order/support.ts"

const rate = Number(process.argv[2] ?? 100)
const seconds = Number(process.argv[3] ?? 10)
const total = Math.round(rate * seconds)
const suffix = "_bench"
// Marks this run's orders, so earlier runs in the same database are left out of the figures.
const runToken = `tok_bench_${crypto.randomUUID().slice(0, 8)}`

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN)

/**
 * CPU seconds used so far (user + system, from /proc; Linux only) by each checkout service process and
 * by the servers they lean on, so a run says what a checkout costs in CPU and where.
 */
const cpuSeconds = (servicePids: ReadonlyMap<string, number>): Map<string, number> => {
  const ticks = 100 // USER_HZ on Linux
  const cpuOf = (pid: string | number) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      return (Number(fields[11]) + Number(fields[12])) / ticks
    } catch {
      return 0
    }
  }
  const totals = new Map<string, number>()
  const add = (name: string, seconds: number) => totals.set(name, (totals.get(name) ?? 0) + seconds)
  for (const [name, pid] of servicePids) add(name, cpuOf(pid))
  add("loadgen", cpuOf(process.pid))
  if (!existsSync("/proc/self/stat")) return totals
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    let command = ""
    try {
      command = readFileSync(`/proc/${entry}/cmdline`, "utf8")
    } catch {
      continue
    }
    if (command.startsWith("postgres")) add("postgres", cpuOf(entry))
    else if (command.includes("beam.smp")) add("rabbitmq", cpuOf(entry))
    else if (command.includes("kafka.Kafka")) add("kafka", cpuOf(entry))
  }
  return totals
}

const world = await startCheckoutWorld({ DATABASE_NAME_SUFFIX: suffix, LOG_LEVEL: "ERROR" })
try {
  console.log(`preparing ${total} carts …`)
  const { zone, users } = await world.run(
    Effect.gen(function* () {
      const zone = yield* deliveryZone(total + 10)
      const skus = yield* Effect.all([stockedProduct(total * 2, 1_999), stockedProduct(total * 2, 4_250)])
      const cart = yield* CartClient
      const users = yield* Effect.forEach(
        Array.from({ length: total }, (_, i) => i),
        (i) =>
          Effect.gen(function* () {
            const userId = newCustomer()
            yield* cart.AddItem({ userId, sku: i % 2 === 0 ? skus[0] : skus[1], quantity: 1 })
            return userId
          }),
        { concurrency: 32 },
      )
      return { zone, users }
    }),
  )

  console.log(`placing ${total} orders at ${rate}/s for ${seconds}s (open model) …`)
  const servicePids = new Map([...world.mesh.services].map(([name, service]) => [name, service.child.pid]))
  const cpuBefore = cpuSeconds(servicePids)
  const answers: Array<number> = []
  let failures = 0
  const started = performance.now()
  const inFlight: Array<Promise<void>> = []
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 0) await Bun.sleep(wait)
    const userId = users[i]
    if (userId === undefined) continue
    const sent = performance.now()
    inFlight.push(
      world
        .run(
          Effect.flatMap(OrderClient, (orders) =>
            orders.PlaceOrder({
              userId,
              idempotencyKey: IdempotencyKey.make(crypto.randomUUID()),
              paymentToken: runToken,
              address,
              deliveryZone: zone,
            }),
          ),
        )
        .then(
          () => {
            answers.push(performance.now() - sent)
          },
          () => {
            failures++
          },
        ),
    )
  }
  await Promise.all(inFlight)
  const sendSeconds = (performance.now() - started) / 1000

  // Wait for the sagas to finish, then read their timings from the order database.
  const database = new URL(process.env.DATABASE_URL ?? "postgres://commerce:commerce@127.0.0.1:5432/postgres")
  database.pathname = `/cm_order${suffix}`
  const sql = new SQL(database.toString(), { max: 1 })
  const deadline = Date.now() + 120_000
  let pending = total
  while (Date.now() < deadline) {
    const [row] =
      await sql`SELECT count(*)::int AS n FROM orders WHERE status = 'PENDING' AND payment_token = ${runToken}`
    pending = (row as { n: number }).n
    if (pending === 0) break
    await Bun.sleep(250)
  }
  // Postgres backends that exited meanwhile are missed; its figure is a lower bound.
  const cpuAfter = cpuSeconds(servicePids)
  const cpuMsPerCheckout = Object.fromEntries(
    [...cpuAfter].map(([name, after]) => [
      name,
      Number((((after - (cpuBefore.get(name) ?? 0)) * 1000) / total).toFixed(1)),
    ]),
  )
  const rows = (await sql`
    SELECT status, extract(epoch FROM created_at) AS created, extract(epoch FROM updated_at) AS updated
    FROM orders WHERE payment_token = ${runToken}`) as Array<{
    status: string
    created: string
    updated: string
  }>
  await sql.close()
  const confirmed = rows.filter((r) => r.status === "CONFIRMED")
  const toConfirm = confirmed.map((r) => (Number(r.updated) - Number(r.created)) * 1000).sort((a, b) => a - b)
  const firstCreated = Math.min(...confirmed.map((r) => Number(r.created)))
  const lastConfirmed = Math.max(...confirmed.map((r) => Number(r.updated)))
  const sortedAnswers = answers.sort((a, b) => a - b)
  const result = {
    offeredRate: rate,
    seconds,
    orders: total,
    answerFailures: failures,
    sendSeconds: Number(sendSeconds.toFixed(2)),
    answerP50Ms: Number(percentile(sortedAnswers, 50).toFixed(1)),
    answerP99Ms: Number(percentile(sortedAnswers, 99).toFixed(1)),
    confirmed: confirmed.length,
    notConfirmed: rows.length - confirmed.length,
    stillPending: pending,
    confirmedPerSecond: Number((confirmed.length / (lastConfirmed - firstCreated)).toFixed(1)),
    toConfirmedP50Ms: Number(percentile(toConfirm, 50).toFixed(1)),
    toConfirmedP99Ms: Number(percentile(toConfirm, 99).toFixed(1)),
    cpuMsPerCheckout,
    loadAverage: loadavg().map((n) => Number(n.toFixed(2))),
  }
  console.log(JSON.stringify(result, null, 2))
} finally {
  await world.stop()
}
