import { afterAll, describe, expect, test } from "bun:test"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import {
  type AdjustmentId,
  InsufficientStock,
  type OrderId,
  type ReservationId,
  type RestockId,
  type Sku,
} from "../../rpc/inventory.ts"
import { makeOptimisticReserve } from "../../bench/inventory/optimistic.ts"
import { StockRepository } from "../../services/inventory/repository.ts"
import { ExpirySweeper } from "../../services/inventory/sweeper.ts"
import { testRuntime } from "../support/run.ts"
import { InventoryClient, InventoryTest, newId, newReservationId, newSku } from "./support.ts"

const suite = testRuntime(InventoryTest())
afterAll(() => suite.dispose())

const restockId = () => newId<RestockId>("restock")
const adjustmentId = () => newId<AdjustmentId>("adjust")
const orderId = () => newId<OrderId>("order")

/** A SKU with `quantity` in stock. */
const stocked = (quantity: number, label = "sku") =>
  Effect.gen(function* () {
    const inventory = yield* InventoryClient
    const sku = newSku(label)
    yield* inventory.Restock({ restockId: restockId(), sku, quantity })
    return sku
  })

const reserve = (reservationId: ReservationId, lines: ReadonlyArray<readonly [Sku, number]>, ttlSeconds?: number) =>
  Effect.flatMap(InventoryClient, (inventory) =>
    inventory.Reserve({
      reservationId,
      orderId: orderId(),
      lines: lines.map(([sku, quantity]) => ({ sku, quantity })) as [
        { sku: Sku; quantity: number },
        ...Array<{ sku: Sku; quantity: number }>,
      ],
      ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
    }),
  )

const stockOf = (sku: Sku) =>
  Effect.flatMap(InventoryClient, (inventory) => inventory.GetStock({ sku })).pipe(
    Effect.map(({ available, reserved, committed }) => ({ available, reserved, committed })),
  )

/** The ledger invariant for these SKUs: booked = available + reserved + committed, nothing negative. */
const expectLedgerBalanced = (skus: ReadonlyArray<Sku>) =>
  Effect.gen(function* () {
    const repository = yield* StockRepository
    expect(yield* repository.auditLedger(skus)).toEqual([])
  })

describe("restock and adjust", () => {
  test("a restock creates an unknown SKU and a repeated restock id adds nothing", () =>
    suite.run(
      Effect.gen(function* () {
        const inventory = yield* InventoryClient
        const sku = newSku()
        const id = restockId()
        const first = yield* inventory.Restock({ restockId: id, sku, quantity: 5 })
        expect({ sku: first.sku, available: first.available, reserved: first.reserved }).toEqual({
          sku,
          available: 5,
          reserved: 0,
        })
        yield* inventory.Restock({ restockId: id, sku, quantity: 5 })
        yield* inventory.Restock({ restockId: restockId(), sku, quantity: 3 })
        expect(yield* stockOf(sku)).toEqual({ available: 8, reserved: 0, committed: 0 })
        yield* expectLedgerBalanced([sku])
      }),
    ))

  test("an adjustment changes available stock once per adjustment id", () =>
    suite.run(
      Effect.gen(function* () {
        const inventory = yield* InventoryClient
        const sku = yield* stocked(10)
        const id = adjustmentId()
        const adjusted = yield* inventory.Adjust({ adjustmentId: id, sku, delta: -4, reason: "breakage" })
        expect(adjusted.available).toBe(6)
        yield* inventory.Adjust({ adjustmentId: id, sku, delta: -4, reason: "breakage" })
        yield* inventory.Adjust({ adjustmentId: adjustmentId(), sku, delta: 2, reason: "found a box" })
        expect(yield* stockOf(sku)).toEqual({ available: 8, reserved: 0, committed: 0 })
        yield* expectLedgerBalanced([sku])
      }),
    ))

  test("an adjustment below zero available, or of zero, fails with InvalidAdjustment", () =>
    suite.run(
      Effect.gen(function* () {
        const inventory = yield* InventoryClient
        const sku = yield* stocked(3)
        yield* reserve(newReservationId(), [[sku, 2]])
        const error = yield* inventory
          .Adjust({ adjustmentId: adjustmentId(), sku, delta: -2, reason: "count" })
          .pipe(Effect.flip)
        expect(error._tag).toBe("InvalidAdjustment")
        if (error._tag === "InvalidAdjustment") expect(error.available).toBe(1)
        const zero = yield* inventory
          .Adjust({ adjustmentId: adjustmentId(), sku, delta: 0, reason: "x" })
          .pipe(Effect.flip)
        expect(zero._tag).toBe("InvalidAdjustment")
        expect(yield* stockOf(sku)).toEqual({ available: 1, reserved: 2, committed: 0 })
      }),
    ))

  test("adjusting or reading an unknown SKU fails with UnknownSku", () =>
    suite.run(
      Effect.gen(function* () {
        const inventory = yield* InventoryClient
        const sku = newSku("ghost")
        const adjust = yield* inventory
          .Adjust({ adjustmentId: adjustmentId(), sku, delta: 1, reason: "x" })
          .pipe(Effect.flip)
        expect(adjust).toMatchObject({ _tag: "UnknownSku", sku })
        const get = yield* inventory.GetStock({ sku }).pipe(Effect.flip)
        expect(get).toMatchObject({ _tag: "UnknownSku", sku })
      }),
    ))

  test("GetStocks answers the known SKUs and leaves unknown ones out", () =>
    suite.run(
      Effect.gen(function* () {
        const inventory = yield* InventoryClient
        const a = yield* stocked(1)
        const b = yield* stocked(2)
        const items = yield* inventory.GetStocks({ skus: [a, b, newSku("ghost")] })
        expect(items.map((item) => [item.sku, item.available]).sort()).toEqual(
          [
            [a, 1],
            [b, 2],
          ].sort(),
        )
      }),
    ))
})

describe("reserve", () => {
  test("a reservation moves stock from available to reserved", () =>
    suite.run(
      Effect.gen(function* () {
        const sku = yield* stocked(10)
        const reservationId = newReservationId()
        const reservation = yield* reserve(reservationId, [[sku, 3]], 60)
        expect(reservation.id).toBe(reservationId)
        expect(reservation.status).toBe("reserved")
        expect(reservation.lines.map((l) => [l.sku, l.quantity])).toEqual([[sku, 3]])
        expect(reservation.expiresAt.getTime()).toBeGreaterThan(Date.now() + 50_000)
        expect(yield* stockOf(sku)).toEqual({ available: 7, reserved: 3, committed: 0 })
        const inventory = yield* InventoryClient
        const read = yield* inventory.GetReservation({ reservationId })
        expect(read.status).toBe("reserved")
        expect(read.expiresAt.getTime()).toBe(reservation.expiresAt.getTime())
        yield* expectLedgerBalanced([sku])
      }),
    ))

  test("repeating a reservation id returns the same reservation and reserves nothing more", () =>
    suite.run(
      Effect.gen(function* () {
        const sku = yield* stocked(10)
        const reservationId = newReservationId()
        const first = yield* reserve(reservationId, [[sku, 3]])
        const again = yield* reserve(reservationId, [[sku, 3]])
        expect(again.id).toBe(first.id)
        expect(again.orderId).toBe(first.orderId)
        expect(yield* stockOf(sku)).toEqual({ available: 7, reserved: 3, committed: 0 })
      }),
    ))

  test("short stock fails with InsufficientStock naming the SKU and what was available", () =>
    suite.run(
      Effect.gen(function* () {
        const sku = yield* stocked(2)
        const error = yield* reserve(newReservationId(), [[sku, 3]]).pipe(Effect.flip)
        expect(error).toBeInstanceOf(InsufficientStock)
        expect(error).toMatchObject({ _tag: "InsufficientStock", sku, requested: 3, available: 2 })
        expect(yield* stockOf(sku)).toEqual({ available: 2, reserved: 0, committed: 0 })
      }),
    ))

  test("a reservation of an unknown SKU fails with UnknownSku", () =>
    suite.run(
      Effect.gen(function* () {
        const sku = newSku("ghost")
        const error = yield* reserve(newReservationId(), [[sku, 1]]).pipe(Effect.flip)
        expect(error).toMatchObject({ _tag: "UnknownSku", sku })
      }),
    ))

  test("a multi-line reservation is all or nothing", () =>
    suite.run(
      Effect.gen(function* () {
        const plenty = yield* stocked(10, "plenty")
        const scarce = yield* stocked(1, "scarce")
        const error = yield* reserve(newReservationId(), [
          [plenty, 4],
          [scarce, 2],
        ]).pipe(Effect.flip)
        expect(error).toMatchObject({ _tag: "InsufficientStock", sku: scarce, requested: 2, available: 1 })
        expect(yield* stockOf(plenty)).toEqual({ available: 10, reserved: 0, committed: 0 })
        expect(yield* stockOf(scarce)).toEqual({ available: 1, reserved: 0, committed: 0 })
        const ok = yield* reserve(newReservationId(), [
          [plenty, 4],
          [scarce, 1],
          [plenty, 1],
        ])
        // Lines naming the same SKU are summed.
        expect(ok.lines.map((l) => [l.sku, l.quantity]).sort()).toEqual(
          [
            [plenty, 5],
            [scarce, 1],
          ].sort(),
        )
        expect(yield* stockOf(plenty)).toEqual({ available: 5, reserved: 5, committed: 0 })
        expect(yield* stockOf(scarce)).toEqual({ available: 0, reserved: 1, committed: 0 })
        yield* expectLedgerBalanced([plenty, scarce])
      }),
    ))

  test("GetReservation of an unknown id fails with ReservationNotFound", () =>
    suite.run(
      Effect.gen(function* () {
        const inventory = yield* InventoryClient
        const reservationId = newReservationId()
        const error = yield* inventory.GetReservation({ reservationId }).pipe(Effect.flip)
        expect(error).toMatchObject({ _tag: "ReservationNotFound", reservationId })
      }),
    ))
})

describe("release and commit", () => {
  test("a release gives the stock back, and releasing again is a no-op", () =>
    suite.run(
      Effect.gen(function* () {
        const inventory = yield* InventoryClient
        const sku = yield* stocked(5)
        const reservationId = newReservationId()
        yield* reserve(reservationId, [[sku, 2]])
        const released = yield* inventory.Release({ reservationId })
        expect(released.status).toBe("released")
        const again = yield* inventory.Release({ reservationId })
        expect(again.status).toBe("released")
        expect(yield* stockOf(sku)).toEqual({ available: 5, reserved: 0, committed: 0 })
        yield* expectLedgerBalanced([sku])
      }),
    ))

  test("a commit turns reserved stock into committed, and committing again is a no-op", () =>
    suite.run(
      Effect.gen(function* () {
        const inventory = yield* InventoryClient
        const sku = yield* stocked(5)
        const reservationId = newReservationId()
        yield* reserve(reservationId, [[sku, 2]])
        expect((yield* inventory.Commit({ reservationId })).status).toBe("committed")
        expect((yield* inventory.Commit({ reservationId })).status).toBe("committed")
        expect(yield* stockOf(sku)).toEqual({ available: 3, reserved: 0, committed: 2 })
        yield* expectLedgerBalanced([sku])
      }),
    ))

  test("committing a released reservation, or releasing a committed one, fails with ReservationNotActive", () =>
    suite.run(
      Effect.gen(function* () {
        const inventory = yield* InventoryClient
        const sku = yield* stocked(5)
        const released = newReservationId()
        yield* reserve(released, [[sku, 1]])
        yield* inventory.Release({ reservationId: released })
        const commitError = yield* inventory.Commit({ reservationId: released }).pipe(Effect.flip)
        expect(commitError).toMatchObject({ _tag: "ReservationNotActive", reservationId: released, status: "released" })
        const committed = newReservationId()
        yield* reserve(committed, [[sku, 1]])
        yield* inventory.Commit({ reservationId: committed })
        const releaseError = yield* inventory.Release({ reservationId: committed }).pipe(Effect.flip)
        expect(releaseError).toMatchObject({
          _tag: "ReservationNotActive",
          reservationId: committed,
          status: "committed",
        })
        expect(yield* stockOf(sku)).toEqual({ available: 4, reserved: 0, committed: 1 })
      }),
    ))

  test("release and commit of an unknown reservation fail with ReservationNotFound", () =>
    suite.run(
      Effect.gen(function* () {
        const inventory = yield* InventoryClient
        const reservationId = newReservationId()
        expect(yield* inventory.Release({ reservationId }).pipe(Effect.flip)).toMatchObject({
          _tag: "ReservationNotFound",
        })
        expect(yield* inventory.Commit({ reservationId }).pipe(Effect.flip)).toMatchObject({
          _tag: "ReservationNotFound",
        })
      }),
    ))

  test("each state change writes its event to the outbox in the same transaction", () =>
    suite.run(
      Effect.gen(function* () {
        const inventory = yield* InventoryClient
        const sql = yield* SqlClient.SqlClient
        const sku = yield* stocked(5)
        const kept = newReservationId()
        const dropped = newReservationId()
        yield* reserve(kept, [[sku, 1]])
        yield* reserve(dropped, [[sku, 1]])
        yield* inventory.Commit({ reservationId: kept })
        yield* inventory.Release({ reservationId: dropped })
        yield* inventory.Release({ reservationId: dropped })
        const rows = yield* sql<{ event_type: string; event_key: string; topic: string }>`
          SELECT event_type, event_key, topic FROM outbox WHERE event_key IN (${kept}, ${dropped}) ORDER BY id`
        expect(rows.map((row) => [row.event_type, row.event_key, row.topic])).toEqual([
          ["inventory.reserved", kept, "inventory"],
          ["inventory.reserved", dropped, "inventory"],
          ["inventory.committed", kept, "inventory"],
          ["inventory.released", dropped, "inventory"],
        ])
      }),
    ))
})

describe("expiry", () => {
  test("the sweeper releases a reservation past its expiry, and leaves live and committed ones alone", () =>
    suite.run(
      Effect.gen(function* () {
        const inventory = yield* InventoryClient
        const sweeper = yield* ExpirySweeper
        const sql = yield* SqlClient.SqlClient
        const sku = yield* stocked(10)
        const expiring = newReservationId()
        const committed = newReservationId()
        const live = newReservationId()
        yield* reserve(expiring, [[sku, 2]], 1)
        yield* reserve(committed, [[sku, 3]], 1)
        yield* reserve(live, [[sku, 1]], 600)
        yield* inventory.Commit({ reservationId: committed })
        yield* Effect.sleep("1100 millis")
        expect(yield* sweeper.sweepOnce()).toBeGreaterThanOrEqual(1)
        expect((yield* inventory.GetReservation({ reservationId: expiring })).status).toBe("released")
        expect((yield* inventory.GetReservation({ reservationId: committed })).status).toBe("committed")
        expect((yield* inventory.GetReservation({ reservationId: live })).status).toBe("reserved")
        expect(yield* stockOf(sku)).toEqual({ available: 6, reserved: 1, committed: 3 })
        const movements = yield* sql<{ kind: string }>`
          SELECT kind FROM stock_movements WHERE reference = ${expiring} ORDER BY id`
        expect(movements.map((m) => m.kind)).toEqual(["reserve", "expire"])
        yield* expectLedgerBalanced([sku])
      }),
    ))
})

describe("contention on one hot SKU", () => {
  test("256 concurrent reservations of a SKU with 100 in stock: exactly 100 succeed, 156 find it short", () =>
    suite.run(
      Effect.gen(function* () {
        const sku = yield* stocked(100, "hot")
        const outcomes = yield* Effect.forEach(
          Array.from({ length: 256 }, () => newReservationId()),
          (id) => reserve(id, [[sku, 1]]).pipe(Effect.either),
          { concurrency: "unbounded" },
        )
        const ok = outcomes.filter((o) => o._tag === "Right").length
        const short = outcomes.filter((o) => o._tag === "Left" && o.left._tag === "InsufficientStock").length
        expect({ ok, short }).toEqual({ ok: 100, short: 156 })
        expect(yield* stockOf(sku)).toEqual({ available: 0, reserved: 100, committed: 0 })
        yield* expectLedgerBalanced([sku])
      }),
    ))

  test("the plain optimistic path (the benchmark's reference) never oversells, though under contention some requests give up", () =>
    suite.run(
      Effect.gen(function* () {
        const reserveOptimistic = yield* makeOptimisticReserve
        const sku = yield* stocked(20, "hot-optimistic")
        const outcomes = yield* Effect.forEach(
          Array.from({ length: 48 }, () => newReservationId()),
          (reservationId) =>
            reserveOptimistic({ reservationId, orderId: orderId(), lines: [{ sku, quantity: 1 }] }).pipe(Effect.either),
          { concurrency: 16 },
        )
        const ok = outcomes.filter((o) => o._tag === "Right").length
        const failures = outcomes.flatMap((o) => (o._tag === "Left" ? [o.left._tag] : []))
        expect(failures.every((tag) => tag === "InsufficientStock" || tag === "ConcurrencyConflict")).toBe(true)
        expect(ok).toBeLessThanOrEqual(20)
        expect(yield* stockOf(sku)).toEqual({ available: 20 - ok, reserved: ok, committed: 0 })
        yield* expectLedgerBalanced([sku])
      }),
    ))
})
