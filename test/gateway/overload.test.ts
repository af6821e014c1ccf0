/**
 * Overload is refused up front: when the checkouts already accepted would keep a new one waiting longer
 * than CHECKOUT_MAX_QUEUE_SECONDS, `POST /checkout` answers 503 CheckoutOverloaded with Retry-After and
 * writes nothing, and the same request retried later with the same key goes through. The order service
 * here drives one saga at a time, queues none (0 s) and its payments take 400 ms, so the third checkout
 * in a row meets a full house.
 */
import { afterAll, beforeAll, expect, test } from "bun:test"
import { SQL } from "bun"
import { Schema } from "effect"
import { Cart } from "../../rpc/cart.ts"
import { Order } from "../../rpc/order.ts"
import { databaseUrlFor } from "../support/postgres.ts"
import {
  bodyAs,
  type GatewayWorld,
  newCustomer,
  settled,
  startGatewayWorld,
  stockedProduct,
  unique,
} from "./support.ts"

let world: GatewayWorld

beforeAll(async () => {
  world = await startGatewayWorld({
    DATABASE_NAME_SUFFIX: "_gateway_overload",
    COMMAND_QUEUE_PREFIX: "gateway-overload.",
    SAGA_CONCURRENCY_MAX: "1",
    CHECKOUT_MAX_QUEUE_SECONDS: "0",
    PAYMENT_PROVIDER_LATENCY_MS: "400",
    SAGA_LEASE_MS: "1000",
  })
  // Sagas an earlier, interrupted run of this file left behind are resumed within a lease; they would
  // hold the one permit, so the test starts once they are done.
  const sql = new SQL(databaseUrlFor("cm_order_gateway_overload"), { max: 1 })
  try {
    for (let attempt = 0; attempt < 300; attempt++) {
      const [row] = (await sql`
        SELECT count(*)::int AS n FROM saga_instances WHERE state IN ('running', 'compensating')`) as Array<{
        n: number
      }>
      if (row?.n === 0) break
      await Bun.sleep(100)
    }
  } finally {
    await sql.close()
  }
}, 120_000)

afterAll(async () => {
  await world?.mesh.stop()
})

test("past what the mesh can finish soon, a checkout gets 503 with Retry-After and nothing is written", async () => {
  const { sku } = await stockedProduct(world, 10, 1_000)
  const customers = await Promise.all([newCustomer(world.api), newCustomer(world.api), newCustomer(world.api)])
  for (const customer of customers) {
    await world.api.call("POST", "/cart/items", { token: customer.token, body: { sku, quantity: 1 } })
  }
  const checkout = (token: string, key: string) =>
    world.api.call("POST", "/checkout", {
      token,
      headers: { "idempotency-key": key },
      body: { paymentToken: "tok_test", deliveryZone: world.zone },
    })
  const [first, second, third] = customers.map((customer) => ({ ...customer, key: unique("key") }))
  if (first === undefined || second === undefined || third === undefined) throw new Error("three customers")

  const running = await checkout(first.token, first.key)
  expect(running.status).toBe(201)
  const queued = await checkout(second.token, second.key)
  expect(queued.status).toBe(201)
  const refused = await checkout(third.token, third.key)
  expect(refused.status).toBe(503)
  expect(refused.body).toMatchObject({ _tag: "CheckoutOverloaded" })
  expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
  expect((refused.body as { retryAfterSeconds: number }).retryAfterSeconds).toBe(
    Number(refused.headers.get("retry-after")),
  )
  // Nothing written: no order, and the cart is as it was.
  expect(bodyAs(Schema.Array(Order), await world.api.call("GET", "/orders", { token: third.token }))).toHaveLength(0)
  const cart = bodyAs(Cart, await world.api.call("GET", "/cart", { token: third.token }))
  expect(cart.status).toBe("open")
  expect(cart.lines.map((line) => `${line.sku} x${line.quantity}`)).toEqual([`${sku} x1`])

  for (const { token } of [first, second]) {
    const [order] = bodyAs(Schema.Array(Order), await world.api.call("GET", "/orders", { token }))
    expect((await settled(world.api, token, `/orders/${order?.id}`)).status).toBe("CONFIRMED")
  }
  const retried = await checkout(third.token, third.key)
  expect(retried.status).toBe(201)
  const order = bodyAs(Order, retried)
  expect((await settled(world.api, third.token, `/orders/${order.id}`)).status).toBe("CONFIRMED")
}, 60_000)
