/**
 * The monolith (scripts/monolith.ts): every service in one process, each on its own database, calls
 * between services in-process. Checkouts are driven through the order service's RPC port as served by
 * the monolith, and each row is looked for in the database of the service that owns it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import type { Subprocess } from "bun"
import { ConfigProvider, Effect, Layer, Option } from "effect"
import { join } from "node:path"
import type { OrderId } from "../../rpc/common.ts"
import { ServiceNames } from "../../src/config.ts"
import {
  checkout,
  checkoutClients,
  type Clients,
  deliveryZone,
  failureReason,
  newCustomer,
  settled,
  stockedProduct,
} from "../order/support.ts"
import { adminQuery } from "../support/postgres.ts"
import { testRuntime } from "../support/run.ts"
import { freePort } from "../support/service-process.ts"

const root = join(import.meta.dir, "..", "..")
const suffix = "_monolith_test"
const database = (service: string) => `cm_${service}${suffix}`
const services = ["catalog", "inventory", "cart", "user", "payment", "delivery", "order", "analytics"] as const

const httpPort = freePort()
// Queues of its own too: a mesh running next to the test must not take this monolith's cart commands.
const adminEmail = `monolith-admin-${crypto.randomUUID().slice(0, 8)}@example.com`
// Analytics in a group of its own that starts at the end of the shared broker's long history.
const env: Record<string, string> = {
  MONOLITH_HTTP_PORT: String(httpPort),
  COMMAND_QUEUE_PREFIX: "monolith-test.",
  ANALYTICS_CONSUMER_GROUP: `monolith-test-${crypto.randomUUID().slice(0, 8)}`,
  ANALYTICS_NEW_GROUP_STARTS_AT: "latest",
  USER_BOOTSTRAP_ADMIN_EMAILS: adminEmail,
}
for (const service of services) env[`${service.toUpperCase()}_RPC_PORT`] = String(freePort())
const gatewayUrl = `http://127.0.0.1:${(env.GATEWAY_HTTP_PORT = String(freePort()))}`
// The monolith's own calls between services must not use the network: their addresses point nowhere.
// (This process's clients below are told 127.0.0.1.)
const unreachable: Record<string, string> = {}
for (const service of ServiceNames) unreachable[`${service.toUpperCase()}_HOST`] = "192.0.2.1"

let monolith: Subprocess<"ignore", "pipe", "pipe">
let output = ""
let run: <A, E>(effect: Effect.Effect<A, E, Clients>) => Promise<A>
let dispose: () => Promise<void> = async () => {}

const readyz = () =>
  fetch(`http://127.0.0.1:${httpPort}/readyz`).then(
    async (response) => ({
      status: response.status,
      body: (await response.json()) as { checks: Array<{ name: string }> },
    }),
    () => undefined,
  )

const rssKib = (pid: number) => {
  const status = Bun.spawnSync(["cat", `/proc/${pid}/status`]).stdout.toString()
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN)
}

beforeAll(async () => {
  monolith = Bun.spawn([process.execPath, join(root, "scripts", "monolith.ts")], {
    cwd: root,
    env: {
      ...process.env,
      LOG_LEVEL: "WARN",
      NODE_NO_WARNINGS: "1",
      DATABASE_NAME_SUFFIX: suffix,
      ...unreachable,
      ...env,
    },
    stdout: "pipe",
    stderr: "pipe",
  })
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder()
    for await (const chunk of stream) output = (output + decoder.decode(chunk)).slice(-20_000)
  }
  void collect(monolith.stdout)
  void collect(monolith.stderr)
  const deadline = Date.now() + 90_000
  while ((await readyz())?.status !== 200) {
    if (monolith.exitCode !== null)
      throw new Error(`monolith exited with ${monolith.exitCode}:\n${output.slice(-3_000)}`)
    if (Date.now() > deadline) throw new Error(`monolith not ready in time:\n${output.slice(-3_000)}`)
    await Bun.sleep(100)
  }
  const hereLocal: Record<string, string> = { ...env }
  for (const service of ServiceNames) hereLocal[`${service.toUpperCase()}_HOST`] = "127.0.0.1"
  const config = Layer.setConfigProvider(
    ConfigProvider.fromMap(new Map(Object.entries(hereLocal))).pipe(
      ConfigProvider.orElse(() => ConfigProvider.fromEnv()),
    ),
  )
  const runtime = testRuntime(checkoutClients.pipe(Layer.provide(config)))
  run = runtime.run
  dispose = runtime.dispose
}, 120_000)

afterAll(async () => {
  await dispose()
  if (monolith !== undefined && monolith.exitCode === null) {
    monolith.kill("SIGKILL")
    await monolith.exited
  }
})

/** Where the outbox rows keyed by `orderId` are: `{ database: [event types] }`, databases without any left out. */
const eventsOf = async (orderId: OrderId) => {
  const found: Record<string, Array<string>> = {}
  for (const service of services) {
    const rows = await adminQuery(
      `SELECT event_type FROM outbox WHERE event_key = '${orderId}' ORDER BY id`,
      database(service),
    ).catch(() => [])
    if (rows.length > 0) found[service] = rows.map((row) => String(row.event_type))
  }
  return found
}

/** The relay publishes and marks rows shortly after the commit; the rows themselves stay. */
const eventually = async <A>(read: () => Promise<A>, ok: (a: A) => boolean) => {
  const deadline = Date.now() + 10_000
  let value = await read()
  while (!ok(value) && Date.now() < deadline) {
    await Bun.sleep(100)
    value = await read()
  }
  return value
}

describe("the monolith: every service in one process", () => {
  test("is ready once every service's dependencies answer, all on one side port", async () => {
    const ready = await readyz()
    expect(ready?.status).toBe(200)
    const names = ready?.body.checks.map((check) => check.name) ?? []
    for (const service of services) expect(names).toContain(`${service}.postgres`)
    expect(names).toEqual(expect.arrayContaining(["catalog.redis", "user.redis", "cart.rabbitmq", "order.kafka"]))
    const rss = rssKib(monolith.pid)
    console.log(`monolith idle RSS: ${Math.round(rss / 1024)} MB`)
  })

  test("a checkout is CONFIRMED, and each service's rows are in its own database", async () => {
    const { sku, order } = await run(
      Effect.gen(function* () {
        const sku = yield* stockedProduct(10, 2_500)
        const zone = yield* deliveryZone(5)
        const placed = yield* checkout(newCustomer(), [{ sku, quantity: 3 }], zone)
        return { sku, order: yield* settled(placed.id) }
      }),
    )
    expect([order.status, order.failure]).toEqual(["CONFIRMED", null])

    const [stock] = await adminQuery(
      `SELECT available, reserved, committed FROM stock_items WHERE sku = '${sku}'`,
      database("inventory"),
    )
    expect(stock).toEqual({ available: 7, reserved: 0, committed: 3 })
    const [payment] = await adminQuery(
      `SELECT status, amount::int AS amount FROM payments WHERE order_id = '${order.id}'`,
      database("payment"),
    )
    expect(payment).toEqual({ status: "captured", amount: 7_500 })
    const [product] = await adminQuery(
      `SELECT count(*)::int AS n FROM product_skus WHERE sku = '${sku}'`,
      database("catalog"),
    )
    expect(product?.n).toBe(1)
    const [saved] = await adminQuery(`SELECT status FROM orders WHERE id = '${order.id}'`, database("order"))
    expect(saved?.status).toBe("CONFIRMED")
    // Every service has an outbox table: each event is in its producer's, and in no other.
    const events = await eventually(
      () => eventsOf(order.id),
      (found) => (found.order ?? []).includes("order.confirmed"),
    )
    expect(events).toEqual({
      inventory: ["inventory.reserved", "inventory.committed"],
      payment: ["payment.completed"],
      delivery: ["shipment.booked"],
      order: ["order.created", "order.confirmed"],
    })
  })

  test("a declined payment ends FAILED with the stock released, the payment declined in its own database", async () => {
    const { sku, order } = await run(
      Effect.gen(function* () {
        // Amounts ending in 13 cents are declined by the simulated provider.
        const sku = yield* stockedProduct(10, 1_013)
        const zone = yield* deliveryZone(5)
        const placed = yield* checkout(newCustomer(), [{ sku, quantity: 1 }], zone)
        return { sku, order: yield* settled(placed.id) }
      }),
    )
    expect(order.status).toBe("FAILED")
    expect(failureReason(order)).toEqual(Option.some("PaymentDeclined"))

    const [stock] = await adminQuery(
      `SELECT available, reserved, committed FROM stock_items WHERE sku = '${sku}'`,
      database("inventory"),
    )
    expect(stock).toEqual({ available: 10, reserved: 0, committed: 0 })
    const [payment] = await adminQuery(
      `SELECT status FROM payments WHERE order_id = '${order.id}'`,
      database("payment"),
    )
    expect(payment?.status).toBe("declined")
    const events = await eventually(
      () => eventsOf(order.id),
      (found) => (found.order ?? []).includes("order.failed"),
    )
    expect(events).toEqual({
      inventory: ["inventory.reserved", "inventory.released"],
      payment: ["payment.failed"],
      order: ["order.created", "order.failed"],
    })
  })

  test("in-process calls between services count in the serving service's RPC metrics", async () => {
    const metrics = await fetch(`http://127.0.0.1:${httpPort}/metrics`).then((response) => response.text())
    // Only the order service calls Charge and ReserveMany (its sagas' reservations), and only in-process
    // (their hosts point nowhere).
    expect(metrics).toMatch(/rpc_requests_total\{[^}]*service="payment"[^}]*method="Charge"[^}]*\} [1-9]/)
    expect(metrics).toMatch(/rpc_requests_total\{[^}]*service="inventory"[^}]*method="ReserveMany"[^}]*\} [1-9]/)
  })

  test("its gateway answers REST through in-process clients", async () => {
    // Every service's host points nowhere here, so these answers can only come from in-process calls.
    const listing = await fetch(`${gatewayUrl}/products?limit=1`)
    expect(listing.status).toBe(200)
    expect(await listing.json()).toMatchObject({ items: expect.any(Array) })
    const email = `monolith-${crypto.randomUUID().slice(0, 8)}@example.com`
    const register = await fetch(`${gatewayUrl}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: "monolith password", name: "Mo" }),
    })
    expect(register.status).toBe(201)
    const cart = await fetch(`${gatewayUrl}/cart`, { headers: { authorization: "Bearer forged.token" } })
    expect(cart.status).toBe(401)
  })

  test("its analytics consumes the checkouts' events and reports them through the gateway", async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${gatewayUrl}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      })
    await post("/auth/register", { email: adminEmail, password: "monolith admin", name: "Ad" })
    const login = (await (await post("/auth/login", { email: adminEmail, password: "monolith admin" })).json()) as {
      token: string
    }
    // The two checkouts above (one confirmed, one failed) reach the group, which started before them.
    let summary: { ordersConfirmed: number; ordersFailed: number } = { ordersConfirmed: 0, ordersFailed: 0 }
    for (let attempt = 0; attempt < 100 && (summary.ordersConfirmed < 1 || summary.ordersFailed < 1); attempt++) {
      const answer = await fetch(`${gatewayUrl}/admin/analytics/summary`, {
        headers: { authorization: `Bearer ${login.token}` },
      })
      expect(answer.status).toBe(200)
      summary = (await answer.json()) as typeof summary
      await Bun.sleep(200)
    }
    expect(summary.ordersConfirmed).toBeGreaterThanOrEqual(1)
    expect(summary.ordersFailed).toBeGreaterThanOrEqual(1)
  }, 40_000)

  test("SIGTERM stops it cleanly", async () => {
    await dispose()
    dispose = async () => {}
    monolith.kill("SIGTERM")
    const code = await Promise.race([monolith.exited, Bun.sleep(15_000).then(() => "timeout" as const)])
    expect(code).toBe(0)
  }, 20_000)
})
