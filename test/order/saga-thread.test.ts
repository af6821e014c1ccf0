/**
 * With SAGA_THREAD=true the order process answers its RPCs on one thread and drives the checkout sagas on
 * another (src/saga/thread.ts): what the thread does shows on the process's /metrics and /readyz, and a
 * graceful stop drains it — its sagas' leases given back, so the next process finishes them at once
 * instead of after the lease.
 */
import { readdirSync } from "node:fs"
import { afterAll, beforeAll, expect, test } from "bun:test"
import { SQL } from "bun"
import { Effect, Schedule } from "effect"
import { databaseUrlFor } from "../support/postgres.ts"
import {
  checkout,
  type CheckoutWorld,
  type Clients,
  deliveryZone,
  newCustomer,
  settled,
  startCheckoutWorld,
  stockedProduct,
} from "./support.ts"

let world: CheckoutWorld
let orders: SQL
const run = <A, E>(effect: Effect.Effect<A, E, Clients>) => world.run(effect)

beforeAll(async () => {
  world = await startCheckoutWorld({
    DATABASE_NAME_SUFFIX: "_saga_thread_test",
    SAGA_THREAD: "true",
    // Slow enough that a saga is still at its charge when the order process is stopped.
    PAYMENT_PROVIDER_LATENCY_MS: "1500",
    // Far longer than the test: only a released lease lets the next process take a saga up soon.
    SAGA_LEASE_MS: "120000",
  })
  orders = new SQL(databaseUrlFor("cm_order_saga_thread_test"), { max: 1 })
}, 180_000)

afterAll(async () => {
  await orders?.close()
  await world?.stop()
})

const orderUrl = () => world.mesh.services.get("order")?.httpUrl ?? ""

test("the saga thread's work shows on the order process's /metrics beside the process's own figures, once", async () => {
  // The thread is there: Bun names a Worker's OS thread "Worker".
  const pid = world.mesh.services.get("order")?.child.pid
  const threads = await Promise.all(
    readdirSync(`/proc/${pid}/task`).map((tid) => Bun.file(`/proc/${pid}/task/${tid}/comm`).text()),
  )
  expect(threads.map((name) => name.trim())).toContain("Worker")
  const placed = await run(
    Effect.gen(function* () {
      const sku = yield* stockedProduct(5, 1_000)
      const zone = yield* deliveryZone(5)
      return yield* checkout(newCustomer(), [{ sku, quantity: 1 }], zone)
    }),
  )
  expect((await run(settled(placed.id))).status).toBe("CONFIRMED")
  // The run is counted once the saga has logged its end, a moment after the order reads CONFIRMED.
  let text = ""
  for (let attempt = 0; attempt < 50; attempt++) {
    text = await (await fetch(`${orderUrl()}/metrics`)).text()
    if (text.includes('saga_runs_total{service="order",saga="checkout",outcome="completed"}')) break
    await Bun.sleep(100)
  }
  const value = (series: string) =>
    Number(
      text
        .split("\n")
        .find((line) => line.startsWith(`${series} `))
        ?.split(" ")[1] ?? Number.NaN,
    )
  expect(value('saga_starts_total{service="order",saga="checkout"}')).toBeGreaterThanOrEqual(1)
  expect(value('saga_runs_total{service="order",saga="checkout",outcome="completed"}')).toBeGreaterThanOrEqual(1)
  expect(value('rpc_requests_total{service="order",method="PlaceOrder",outcome="ok"}')).toBeGreaterThanOrEqual(1)
  expect(text.split("\n").filter((line) => line.startsWith("process_cpu_seconds_total "))).toHaveLength(1)

  const ready = (await (await fetch(`${orderUrl()}/readyz`)).json()) as {
    status: string
    checks: Array<{ name: string; ok: boolean }>
  }
  expect(ready.status).toBe("ready")
  expect(ready.checks.map((check) => `${check.name}:${check.ok}`).sort()).toEqual([
    "kafka:true",
    "postgres:true",
    "rabbitmq:true",
  ])
}, 60_000)

test("a graceful stop drains the saga thread: leases given back, the next process finishes the saga at once", async () => {
  const placed = await run(
    Effect.gen(function* () {
      const sku = yield* stockedProduct(5, 1_000)
      const zone = yield* deliveryZone(5)
      return yield* checkout(newCustomer(), [{ sku, quantity: 1 }], zone)
    }),
  )
  // Wait until the saga is at its (slow) charge, then stop the process while the thread drives it.
  for (let attempt = 0; attempt < 100; attempt++) {
    const [row] = (await orders`
      SELECT count(*)::int AS n FROM saga_steps WHERE saga_id = ${placed.id} AND step = 'charge'`) as Array<{
      n: number
    }>
    if (row?.n === 1) break
    await Bun.sleep(50)
  }
  await world.mesh.services.get("order")?.stop()
  const [saga] = (await orders`
    SELECT state, lease_owner FROM saga_instances WHERE id = ${placed.id}`) as Array<{
    state: string
    lease_owner: string | null
  }>
  expect(saga).toEqual({ state: "running", lease_owner: null })

  const restarted = Date.now()
  await world.mesh.restart("order")
  // The test's client reconnects to the new process on a retry.
  const order = await run(
    settled(placed.id).pipe(
      Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 50, while: (e) => e !== "pending" }),
    ),
  )
  expect(order.status).toBe("CONFIRMED")
  expect(Date.now() - restarted).toBeLessThan(20_000)
}, 90_000)
