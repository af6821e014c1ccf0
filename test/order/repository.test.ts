/**
 * The order repository on a database of its own: once the saga's confirm step marked an order confirming
 * (it is about to commit the order's stock, which cannot be released), CancelOrder's move is refused.
 */
import { afterAll, expect, test } from "bun:test"
import { SqlClient, type Statement } from "@effect/sql"
import { Effect, Layer, Option } from "effect"
import { Currency, Money, OrderId, UserId } from "../../rpc/common.ts"
import { IdempotencyKey, OrderConfirmed } from "../../rpc/order.ts"
import { PaymentMethodId } from "../../rpc/payment.ts"
import { PostgresLive } from "../../src/postgres.ts"
import { OrderRepository } from "../../services/order/repository.ts"
import { adminQuery, statementCalls } from "../support/postgres.ts"
import { testRuntime } from "../support/run.ts"

const service = `order_repo_${crypto.randomUUID().slice(0, 8)}`
const runtime = testRuntime(
  OrderRepository.Default.pipe(Layer.provideMerge(PostgresLive(service, { migrations: "order", poolSize: 2 }))),
)

afterAll(async () => {
  await runtime.dispose()
  await adminQuery(`DROP DATABASE IF EXISTS "cm_${service}" WITH (FORCE)`)
})

const place = Effect.gen(function* () {
  const orders = yield* OrderRepository
  const orderId = OrderId.make(crypto.randomUUID())
  const { order } = yield* orders.create(
    {
      userId: UserId.make(`user-${crypto.randomUUID()}`),
      idempotencyKey: IdempotencyKey.make(crypto.randomUUID()),
      paymentMethod: PaymentMethodId.make("pm_test"),
      address: { line1: "1 Test St", city: "Springfield", postalCode: "12345", country: "US" },
      deliveryZone: "zone",
    },
    orderId,
    () => [],
  )
  return order.id
})

test("a pending order cancels; one whose confirm step began does not, and confirming it is still allowed", async () => {
  const outcome = await runtime.run(
    Effect.gen(function* () {
      const orders = yield* OrderRepository
      const free = yield* place
      const cancelled = yield* orders.cancel(free)
      const confirming = yield* place
      const marked = yield* orders.markConfirming(confirming)
      const refused = yield* orders.cancel(confirming)
      const confirmed = yield* orders.transition(confirming, ["PENDING"], "CONFIRMED")
      // A cancelled order cannot be marked confirming: the confirm step then fails and the saga unwinds.
      const lateConfirm = yield* orders.markConfirming(free)
      return { cancelled, marked, refused, confirmed, lateConfirm }
    }),
  )
  expect(Option.map(outcome.cancelled, (row) => row.status)).toEqual(Option.some("CANCELLED"))
  expect(outcome.marked).toBe(true)
  expect(Option.isNone(outcome.refused)).toBe(true)
  expect(Option.map(outcome.confirmed, (row) => row.status)).toEqual(Option.some("CONFIRMED"))
  expect(outcome.lateConfirm).toBe(false)
})

test("a cancel writes its part (the event) in its own statement only when the order moved", async () => {
  const written = await runtime.run(
    Effect.gen(function* () {
      const orders = yield* OrderRepository
      const sql = yield* SqlClient.SqlClient
      const marker = (orderId: string) => (onlyIf: Statement.Fragment) => [
        sql`INSERT INTO outbox (event_id, event_type, event_version, topic, event_key, envelope)
            SELECT ${crypto.randomUUID()}::uuid, 'test.cancelled', 1, 'test', ${orderId}, '{}'::jsonb WHERE ${onlyIf}`,
      ]
      const pending = yield* place
      yield* orders.cancel(pending, marker(pending))
      // Cancelled already: nothing moves, so nothing is written beside it.
      yield* orders.cancel(pending, marker(pending))
      const confirming = yield* place
      yield* orders.markConfirming(confirming)
      yield* orders.cancel(confirming, marker(confirming))
      const rows = yield* sql<{ event_key: string }>`
        SELECT event_key FROM outbox WHERE event_type = 'test.cancelled' AND event_key IN (${pending}, ${confirming})`
      return { keys: rows.map((row) => row.event_key), pending }
    }),
  )
  expect(written.keys).toEqual([written.pending])
})

test("orders at the same saga step share one statement each, and every order gets its own outcome", async () => {
  const calls = (fragment: string) => statementCalls(`cm_${service}`, fragment)
  const patterns = ["INSERT INTO order_items", "SET confirming", "UPDATE orders o SET status"]
  const before = await Promise.all(patterns.map(calls))
  const outcome = await runtime.run(
    Effect.gen(function* () {
      const orders = yield* OrderRepository
      const ids = yield* Effect.all(Array.from({ length: 6 }, () => place))
      // The last is cancelled before its saga reaches the confirm step.
      const cancelled = ids[5] as OrderId
      yield* orders.cancel(cancelled)
      const together = <A>(f: (id: OrderId) => Effect.Effect<A, unknown>) =>
        Effect.all(ids.map(f), { concurrency: "unbounded" })
      yield* together((id) =>
        orders.copyItems(
          id,
          [{ sku: `sku-${id}`, name: "Thing", quantity: 2, unitAmount: 150, currency: "EUR" }],
          new Money({ amount: 300, currency: Currency.make("EUR") }),
        ),
      )
      const marked = yield* together((id) => orders.markConfirming(id))
      const confirmed = yield* together((id) =>
        Effect.flatMap(
          OrderConfirmed.make(
            {
              orderId: id,
              userId: UserId.make("u"),
              total: new Money({ amount: 300, currency: Currency.make("EUR") }),
              items: [],
            },
            { key: id },
          ),
          (event) => orders.confirm(id, [event]),
        ),
      )
      const read = yield* together((id) => orders.get(id))
      const sql = yield* SqlClient.SqlClient
      const announced = yield* sql<{ event_key: string }>`
        SELECT event_key FROM outbox WHERE event_type = 'order.confirmed' AND event_key IN ${sql.in(ids)}`
      return { ids, marked, confirmed, read, announced: announced.map((row) => row.event_key) }
    }),
  )
  const after = await Promise.all(patterns.map(calls))
  expect(outcome.marked).toEqual([true, true, true, true, true, false])
  expect(outcome.confirmed.map(Option.isSome)).toEqual([true, true, true, true, true, false])
  expect(outcome.read.map((order) => order.status)).toEqual([...Array(5).fill("CONFIRMED"), "CANCELLED"])
  for (const [index, order] of outcome.read.entries()) {
    expect(order.items.map((item): string => item.sku)).toEqual([`sku-${outcome.ids[index]}`])
    expect(order.total).toEqual(new Money({ amount: 300, currency: Currency.make("EUR") }))
  }
  expect(outcome.announced.sort()).toEqual(outcome.ids.slice(0, 5).sort())
  // Six callers at each step; one statement per caller would be six.
  for (const [index, count] of after.entries()) expect(count - (before[index] ?? 0)).toBeLessThan(3)
})
