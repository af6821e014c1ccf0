/**
 * The projections and their dedupe against a real database of the suite's own: events are decoded
 * from their wire form and recorded as the consumer records them, without Kafka in between.
 * Each test places its events on a day of its own, so tests do not see each other's figures.
 */
import { afterAll, describe, expect, test } from "bun:test"
import { ConfigProvider, DateTime, Effect, Layer } from "effect"
import { Currency, Money, type OrderId, Sku, type UserId } from "../../rpc/common.ts"
import { InventoryCommitted, type ReservationId, StockItem } from "../../rpc/inventory.ts"
import { OrderConfirmed, OrderCreated, OrderFailed } from "../../rpc/order.ts"
import { PaymentRefunded, type PaymentId, type RefundId } from "../../rpc/payment.ts"
import { UserRegistered, UserUpdated } from "../../rpc/user.ts"
import { decodeEnvelope, type OutgoingEvent } from "../../src/events/envelope.ts"
import { PostgresLive } from "../../src/postgres.ts"
import { AggregateStore } from "../../services/analytics/aggregate-store.ts"
import { factOf } from "../../services/analytics/facts.ts"
import { AnalyticsReports } from "../../services/analytics/reports.ts"
import { forecastOf } from "../../services/analytics/stock-forecast.ts"
import { testRuntime } from "../support/run.ts"
import { dropDatabases, runId } from "./support.ts"

const suffix = `_projections_${runId}`

const runtime = testRuntime(
  Layer.mergeAll(AggregateStore.Default, AnalyticsReports.Default).pipe(
    Layer.provideMerge(PostgresLive("analytics", { poolSize: 4 })),
    Layer.provide(
      Layer.setConfigProvider(
        ConfigProvider.fromMap(new Map([["DATABASE_NAME_SUFFIX", suffix]])).pipe(
          ConfigProvider.orElse(() => ConfigProvider.fromEnv()),
        ),
      ),
    ),
  ),
)
const run = runtime.run

afterAll(async () => {
  await runtime.dispose()
  await dropDatabases(suffix, ["analytics"])
})

let days = 0
/** A UTC day no other test of this file uses, and an instant `minutes` into it. */
const freshDay = () => {
  const start = new Date(Date.UTC(2031, 0, 1) + days++ * 86_400_000)
  return {
    start,
    end: new Date(start.getTime() + 86_400_000),
    at: (minutes: number) => new Date(start.getTime() + minutes * 60_000),
  }
}

const usd = (amount: number) => Money.make({ amount, currency: Currency.make("USD") })
const eur = (amount: number) => Money.make({ amount, currency: Currency.make("EUR") })
const newSku = () => Sku.make(`sku-${crypto.randomUUID().slice(0, 8)}`)
const newOrder = () => ({ orderId: crypto.randomUUID() as OrderId, userId: crypto.randomUUID() as UserId })

/** The event as it travels, with its occurredAt moved to `at`. */
const occurredAt = (event: OutgoingEvent, at: Date): OutgoingEvent => ({
  ...event,
  value: JSON.stringify({ ...JSON.parse(event.value), occurredAt: at.toISOString() }),
})

/** Decodes and records `event` the way the consumer does. */
const deliver = (event: OutgoingEvent) =>
  Effect.gen(function* () {
    const envelope = yield* decodeEnvelope(event.value)
    const fact = yield* factOf(envelope)
    const store = yield* AggregateStore
    return yield* store.record(
      { id: envelope.id, type: envelope.type, topic: event.topic, occurredAt: DateTime.toDate(envelope.occurredAt) },
      fact,
    )
  })

const confirmedOrder = (at: Date, lines: ReadonlyArray<{ sku: Sku; quantity: number; lineTotal: Money }>) =>
  Effect.gen(function* () {
    const order = newOrder()
    const total = Money.make({
      amount: lines.reduce((sum, line) => sum + line.lineTotal.amount, 0),
      currency: lines[0]?.lineTotal.currency ?? Currency.make("USD"),
    })
    const created = occurredAt(yield* OrderCreated.make(order), at)
    const confirmed = occurredAt(yield* OrderConfirmed.make({ ...order, total, items: lines }), at)
    return { created, confirmed }
  })

describe("analytics projections", () => {
  test("an order.confirmed delivered twice counts once in totals, minute buckets and product sales", () =>
    run(
      Effect.gen(function* () {
        const reports = yield* AnalyticsReports
        const day = freshDay()
        const [a, b] = [newSku(), newSku()]
        const order = yield* confirmedOrder(day.at(615.5), [
          { sku: a, quantity: 3, lineTotal: usd(3_000) },
          { sku: b, quantity: 1, lineTotal: usd(2_000) },
        ])
        expect(yield* deliver(order.created)).toBe("applied")
        expect(yield* deliver(order.confirmed)).toBe("applied")
        expect(yield* deliver(order.confirmed)).toBe("duplicate")
        expect(yield* deliver(order.created)).toBe("duplicate")

        const summary = yield* reports.summary({ from: day.start, to: day.end })
        expect(summary.ordersCreated).toBe(1)
        expect(summary.ordersConfirmed).toBe(1)
        expect(summary.conversionRate).toBe(1)
        expect(summary.revenue).toEqual([usd(5_000)])

        const minutes = yield* reports.salesSeries("minute", day.at(614), day.at(617))
        expect(minutes.map((bucket) => [bucket.start, bucket.ordersConfirmed, bucket.revenue])).toEqual([
          [day.at(614), 0, []],
          [day.at(615), 1, [usd(5_000)]],
          [day.at(616), 0, []],
        ])
        const top = yield* reports.topProducts({ by: "units", limit: 10, from: day.start, to: day.end })
        expect(top.map((row) => [row.sku, row.units, row.orders, row.revenue])).toEqual([
          [a, 3, 1, [usd(3_000)]],
          [b, 1, 1, [usd(2_000)]],
        ])
      }),
    ))

  test("two deliveries of one event racing each other count once", () =>
    run(
      Effect.gen(function* () {
        const reports = yield* AnalyticsReports
        const day = freshDay()
        const failed = occurredAt(
          yield* OrderFailed.make({ ...newOrder(), step: "charge", reason: "PaymentDeclined" }),
          day.at(60),
        )
        const outcomes = yield* Effect.all([deliver(failed), deliver(failed), deliver(failed)], {
          concurrency: "unbounded",
        })
        expect([...outcomes].sort()).toEqual(["applied", "duplicate", "duplicate"])
        const summary = yield* reports.summary({ from: day.start, to: day.end })
        expect(summary.ordersFailed).toBe(1)
        expect(summary.conversionRate).toBeNull()
      }),
    ))

  test("a run of events is one transaction: repeats inside it and events of earlier runs count once", () =>
    run(
      Effect.gen(function* () {
        const store = yield* AggregateStore
        const reports = yield* AnalyticsReports
        const day = freshDay()
        const sku = newSku()
        const earlier = yield* confirmedOrder(day.at(1), [{ sku, quantity: 1, lineTotal: usd(1_000) }])
        yield* deliver(earlier.confirmed)
        // Two lines of one SKU in one order: the units add up, the order counts once.
        const later = yield* confirmedOrder(day.at(2), [
          { sku, quantity: 2, lineTotal: usd(2_000) },
          { sku, quantity: 3, lineTotal: usd(3_000) },
        ])
        const facts = yield* Effect.forEach(
          [earlier.created, later.created, later.confirmed, later.confirmed, earlier.confirmed],
          (event) =>
            Effect.gen(function* () {
              const envelope = yield* decodeEnvelope(event.value)
              const fact = yield* factOf(envelope)
              const occurredAt = DateTime.toDate(envelope.occurredAt)
              return { event: { id: envelope.id, type: envelope.type, topic: event.topic, occurredAt }, fact }
            }),
        )
        expect(yield* store.recordAll(facts)).toEqual(["applied", "applied", "applied", "duplicate", "duplicate"])
        const summary = yield* reports.summary({ from: day.start, to: day.end })
        expect([summary.ordersCreated, summary.ordersConfirmed, summary.revenue]).toEqual([2, 2, [usd(6_000)]])
        const [top] = yield* reports.topProducts({ by: "units", limit: 1, from: day.start, to: day.end })
        expect([top?.sku, top?.units, top?.orders]).toEqual([sku, 6, 2])
      }),
    ))

  test("failure reasons are counted per step and error, most frequent first", () =>
    run(
      Effect.gen(function* () {
        const reports = yield* AnalyticsReports
        const day = freshDay()
        const failures = [
          ["reserveStock", "InsufficientStock"],
          ["charge", "PaymentDeclined"],
          ["charge", "PaymentDeclined"],
          ["bookDelivery", "NoSlotAvailable"],
          ["charge", "PaymentDeclined"],
          ["reserveStock", "InsufficientStock"],
        ] as const
        for (const [step, reason] of failures) {
          yield* deliver(occurredAt(yield* OrderFailed.make({ ...newOrder(), step, reason }), day.at(5)))
        }
        const reasons = yield* reports.failureReasons({ from: day.start, to: day.end })
        expect(reasons.map((row) => [row.step, row.reason, row.count])).toEqual([
          ["charge", "PaymentDeclined", 3],
          ["reserveStock", "InsufficientStock", 2],
          ["bookDelivery", "NoSlotAvailable", 1],
        ])
        // Day ranges take whole days: any part of the day counts all of it, the next day none of it.
        expect(yield* reports.failureReasons({ from: day.at(600), to: day.at(601) })).toEqual(reasons)
        expect(yield* reports.failureReasons({ from: day.end, to: day.at(1500) })).toEqual([])
      }),
    ))

  test("revenue is ranked within one currency; units across all of them", () =>
    run(
      Effect.gen(function* () {
        const reports = yield* AnalyticsReports
        const day = freshDay()
        const [cheap, dear] = [newSku(), newSku()]
        for (const order of [
          yield* confirmedOrder(day.at(1), [{ sku: cheap, quantity: 10, lineTotal: usd(1_000) }]),
          yield* confirmedOrder(day.at(2), [{ sku: dear, quantity: 1, lineTotal: usd(9_000) }]),
          yield* confirmedOrder(day.at(3), [{ sku: cheap, quantity: 5, lineTotal: eur(700) }]),
        ]) {
          yield* deliver(order.created)
          yield* deliver(order.confirmed)
        }
        const range = { from: day.start, to: day.end }
        const byUnits = yield* reports.topProducts({ ...range, by: "units", limit: 10 })
        expect(byUnits.map((row) => [row.sku, row.units, row.revenue])).toEqual([
          [cheap, 15, [eur(700), usd(1_000)]],
          [dear, 1, [usd(9_000)]],
        ])
        const byRevenue = yield* reports.topProducts({
          ...range,
          by: "revenue",
          currency: Currency.make("USD"),
          limit: 1,
        })
        expect(byRevenue.map((row) => [row.sku, row.units, row.revenue])).toEqual([[dear, 1, [usd(9_000)]]])
        const inEuros = yield* reports.topProducts({ ...range, by: "units", currency: Currency.make("EUR"), limit: 10 })
        expect(inEuros.map((row) => [row.sku, row.units, row.revenue])).toEqual([[cheap, 5, [eur(700)]]])
      }),
    ))

  test("committed stock gives the velocity behind the forecast; a replayed commit is not sold twice", () =>
    run(
      Effect.gen(function* () {
        const reports = yield* AnalyticsReports
        const day = freshDay()
        const sku = newSku()
        const commit = (quantity: number, minutes: number) =>
          Effect.map(
            InventoryCommitted.make({
              reservationId: crypto.randomUUID() as ReservationId,
              orderId: crypto.randomUUID() as OrderId,
              lines: [{ sku, quantity }],
            }),
            (event) => occurredAt(event, day.at(minutes)),
          )
        const first = yield* commit(9, 10)
        yield* deliver(first)
        yield* deliver(yield* commit(5, 20))
        expect(yield* deliver(first)).toBe("duplicate")
        const sold = yield* reports.unitsCommitted(day.start.toISOString().slice(0, 10), [sku], 1)
        expect(sold).toEqual([{ sku, units: 14 }])

        const stock = new StockItem({ sku, available: 100, reserved: 3, committed: 14, version: 4 })
        const forecast = forecastOf(sku, 14, 7, stock)
        expect([forecast.unitsPerDay, forecast.daysUntilStockOut, forecast.available]).toEqual([2, 50, 100])
        expect(forecastOf(sku, 0, 7, stock).daysUntilStockOut).toBeNull()
        expect(forecastOf(sku, 14, 7, undefined).available).toBeNull()
      }),
    ))

  test("refunds, registrations and ignored events: each recorded once", () =>
    run(
      Effect.gen(function* () {
        const reports = yield* AnalyticsReports
        const day = freshDay()
        const user = {
          userId: crypto.randomUUID() as UserId,
          email: "a@b.example",
          name: "A",
          roles: ["customer" as const],
        }
        const registered = occurredAt(yield* UserRegistered.make(user), day.at(1))
        const updated = occurredAt(yield* UserUpdated.make(user), day.at(2))
        const refunded = occurredAt(
          yield* PaymentRefunded.make({
            refundId: crypto.randomUUID() as RefundId,
            paymentId: crypto.randomUUID() as PaymentId,
            orderId: crypto.randomUUID() as OrderId,
            customer: user.userId,
            amount: usd(1_250),
            totalRefunded: 1_250,
          }),
          day.at(3),
        )
        expect(yield* deliver(registered)).toBe("applied")
        expect(yield* deliver(updated)).toBe("ignored")
        expect(yield* deliver(updated)).toBe("duplicate")
        expect(yield* deliver(refunded)).toBe("applied")
        expect(yield* deliver(refunded)).toBe("duplicate")
        const summary = yield* reports.summary({ from: day.start, to: day.end })
        expect([summary.newCustomers, summary.refunded, summary.revenue]).toEqual([1, [usd(1_250)], []])
      }),
    ))

  test("an event type analytics knows, in a version it does not, is undecodable rather than silently ignored", () =>
    run(
      Effect.gen(function* () {
        const event = yield* OrderCreated.make(newOrder())
        const v2 = JSON.stringify({ ...JSON.parse(event.value), version: 2 })
        const error = yield* deliver({ ...event, value: v2 }).pipe(Effect.flip)
        expect(error._tag).toBe("UndecodableEvent")
        const unknown = JSON.stringify({ ...JSON.parse(event.value), type: "order.gift-wrapped" })
        expect(yield* deliver({ ...event, value: unknown })).toBe("ignored")
      }),
    ))

  test("all-time totals (day buckets) equal the totals of a range over the same events (minute buckets)", () =>
    run(
      Effect.gen(function* () {
        const reports = yield* AnalyticsReports
        const day = freshDay()
        const order = yield* confirmedOrder(day.at(1439.9), [{ sku: newSku(), quantity: 2, lineTotal: usd(4_200) }])
        yield* deliver(order.created)
        yield* deliver(order.confirmed)
        const allTime = yield* reports.summary({})
        const everyMinute = yield* reports.summary({
          from: new Date(Date.UTC(2000, 0, 1)),
          to: new Date(Date.UTC(2100, 0, 1)),
        })
        expect(allTime).toEqual(everyMinute)
        expect(allTime.ordersConfirmed).toBeGreaterThanOrEqual(1)
        const days = yield* reports.salesSeries("day", day.start, day.end)
        expect(days.map((bucket) => [bucket.start, bucket.ordersConfirmed, bucket.revenue])).toEqual([
          [day.start, 1, [usd(4_200)]],
        ])
      }),
    ))

  test("ranges must run forwards and stay within a call's bucket limit", () =>
    run(
      Effect.gen(function* () {
        const reports = yield* AnalyticsReports
        const day = freshDay()
        const backwards = yield* reports.summary({ from: day.end, to: day.start }).pipe(Effect.flip)
        expect(backwards._tag).toBe("InvalidRange")
        const twoDaysOfMinutes = yield* reports
          .salesSeries("minute", day.start, new Date(day.end.getTime() + 86_400_000))
          .pipe(Effect.flip)
        expect(twoDaysOfMinutes.message).toContain("1440")
        expect((yield* reports.salesSeries("minute", day.start, day.end)).length).toBe(1440)
        const empty = yield* reports.salesSeries("minute", day.start, day.start).pipe(Effect.flip)
        expect(empty._tag).toBe("InvalidRange")
      }),
    ))
})
