/**
 * One writer batch, decided in memory. The StockWriter loads the rows a batch touches, then applies each
 * operation in arrival order to this state: every typed outcome (InsufficientStock with the count
 * available at that point, a replayed id, a released reservation) is decided here, and what remains is
 * the set of rows to write — which the writer stores in one transaction guarded by the versions read.
 */
import { Either } from "effect"
import {
  type AdjustRequest,
  defaultReservationTtlSeconds,
  InsufficientStock,
  InvalidAdjustment,
  type Reservation,
  ReservationNotActive,
  ReservationNotFound,
  type ReservationId,
  type ReservationStatus,
  type ReserveRequest,
  type RestockRequest,
  type Sku,
  type StockItem,
  UnknownSku,
} from "../../rpc/inventory.ts"
import type { InventoryEvent } from "./events.ts"
import {
  type BatchWrites,
  mergeLines,
  type Movement,
  type MovementKind,
  type NewReservation,
  type ReservationRow,
  type StockRow,
  toReservation,
  toStockItem,
} from "./repository.ts"

interface MutableStock {
  sku: string
  available: number
  reserved: number
  committed: number
  /** As read; the write is guarded by it. */
  readonly version: number
  readonly isNew: boolean
  touched: boolean
}

interface MutableReservation {
  row: ReservationRow
  readonly isNew: boolean
  finished: boolean
}

export const movementKey = (kind: MovementKind, reference: string, sku: string) =>
  `${kind}\u0000${reference}\u0000${sku}`

export class StockBatch {
  private readonly stocks = new Map<string, MutableStock>()
  private readonly reservations = new Map<string, MutableReservation>()
  private readonly bookedMovements: Set<string>
  private readonly movements: Array<Movement> = []
  readonly events: Array<InventoryEvent> = []

  constructor(
    private readonly now: number,
    stocks: ReadonlyArray<StockRow>,
    reservations: ReadonlyArray<ReservationRow>,
    bookedMovements: ReadonlyArray<{ kind: MovementKind; reference: string; sku: string }>,
  ) {
    for (const row of stocks) this.stocks.set(row.sku, { ...row, isNew: false, touched: false })
    for (const row of reservations) this.reservations.set(row.id, { row, isNew: false, finished: false })
    this.bookedMovements = new Set(bookedMovements.map((m) => movementKey(m.kind, m.reference, m.sku)))
  }

  private snapshot(stock: MutableStock): StockItem {
    // A touched existing row is written at version + 1; a new row is created at version 0.
    const version = stock.isNew ? 0 : stock.touched ? stock.version + 1 : stock.version
    return toStockItem({ ...stock, version })
  }

  private touch(sku: string): MutableStock | undefined {
    const stock = this.stocks.get(sku)
    if (stock !== undefined) stock.touched = true
    return stock
  }

  reserve(request: ReserveRequest): Either.Either<Reservation, InsufficientStock | UnknownSku> {
    const existing = this.reservations.get(request.reservationId)
    // Idempotent by id: a replay answers with the reservation as it stands and reserves nothing more.
    if (existing !== undefined) return Either.right(toReservation(existing.row))
    const lines = mergeLines(request.lines)
    // Check every line before changing any: all or nothing.
    for (const line of lines) {
      const stock = this.stocks.get(line.sku)
      if (stock === undefined) return Either.left(new UnknownSku({ sku: line.sku as Sku }))
      if (stock.available < line.quantity) {
        return Either.left(
          new InsufficientStock({ sku: line.sku as Sku, requested: line.quantity, available: stock.available }),
        )
      }
    }
    for (const line of lines) {
      const stock = this.touch(line.sku)
      if (stock === undefined) continue
      stock.available -= line.quantity
      stock.reserved += line.quantity
      this.movements.push({ sku: line.sku, kind: "reserve", quantity: line.quantity, reference: request.reservationId })
    }
    const row: ReservationRow = {
      id: request.reservationId,
      order_id: request.orderId,
      status: "reserved",
      lines,
      expires_at: new Date(this.now + (request.ttlSeconds ?? defaultReservationTtlSeconds) * 1000),
    }
    this.reservations.set(row.id, { row, isNew: true, finished: false })
    const reservation = toReservation(row)
    this.events.push({ type: "inventory.reserved", reservation })
    return Either.right(reservation)
  }

  /**
   * Gives a live reservation's stock back. `expiry`: the sweeper's release, which only applies to a
   * reservation still live and past its expiry, and leaves anything else alone without an error.
   */
  release(
    reservationId: ReservationId,
    expiry: boolean,
  ): Either.Either<Reservation, ReservationNotFound | ReservationNotActive> {
    const entry = this.reservations.get(reservationId)
    if (entry === undefined) return Either.left(new ReservationNotFound({ reservationId }))
    const { row } = entry
    if (row.status === "released") return Either.right(toReservation(row))
    if (row.status === "committed") {
      return expiry
        ? Either.right(toReservation(row))
        : Either.left(new ReservationNotActive({ reservationId, status: row.status }))
    }
    if (expiry && row.expires_at.getTime() > this.now) return Either.right(toReservation(row))
    for (const line of row.lines) {
      const stock = this.touch(line.sku)
      if (stock === undefined) continue
      stock.reserved -= line.quantity
      stock.available += line.quantity
      this.movements.push({
        sku: line.sku,
        kind: expiry ? "expire" : "release",
        quantity: line.quantity,
        reference: reservationId,
      })
    }
    entry.row = { ...row, status: "released" }
    entry.finished = true
    const reservation = toReservation(entry.row)
    this.events.push({ type: "inventory.released", reservation, reason: expiry ? "expired" : "released" })
    return Either.right(reservation)
  }

  /**
   * Sells a live reservation's stock. The clock is not consulted: until the sweeper has released a
   * reservation its stock is still held, so committing it late oversells nothing.
   */
  commit(reservationId: ReservationId): Either.Either<Reservation, ReservationNotFound | ReservationNotActive> {
    const entry = this.reservations.get(reservationId)
    if (entry === undefined) return Either.left(new ReservationNotFound({ reservationId }))
    const { row } = entry
    if (row.status === "committed") return Either.right(toReservation(row))
    if (row.status === "released") return Either.left(new ReservationNotActive({ reservationId, status: row.status }))
    for (const line of row.lines) {
      const stock = this.touch(line.sku)
      if (stock === undefined) continue
      stock.reserved -= line.quantity
      stock.committed += line.quantity
      this.movements.push({ sku: line.sku, kind: "commit", quantity: line.quantity, reference: reservationId })
    }
    entry.row = { ...row, status: "committed" }
    entry.finished = true
    const reservation = toReservation(entry.row)
    this.events.push({ type: "inventory.committed", reservation })
    return Either.right(reservation)
  }

  restock(request: RestockRequest): Either.Either<StockItem, never> {
    const key = movementKey("restock", request.restockId, request.sku)
    let stock = this.stocks.get(request.sku)
    if (this.bookedMovements.has(key)) {
      // Booked before: answer with the stock as it stands. The row must exist, since the restock created it.
      if (stock !== undefined) return Either.right(this.snapshot(stock))
    }
    if (stock === undefined) {
      stock = { sku: request.sku, available: 0, reserved: 0, committed: 0, version: 0, isNew: true, touched: true }
      this.stocks.set(request.sku, stock)
    }
    stock.touched = true
    stock.available += request.quantity
    this.bookedMovements.add(key)
    this.movements.push({ sku: request.sku, kind: "restock", quantity: request.quantity, reference: request.restockId })
    return Either.right(this.snapshot(stock))
  }

  adjust(request: AdjustRequest): Either.Either<StockItem, UnknownSku | InvalidAdjustment> {
    const stock = this.stocks.get(request.sku)
    if (stock === undefined) return Either.left(new UnknownSku({ sku: request.sku }))
    const key = movementKey("adjust", request.adjustmentId, request.sku)
    if (this.bookedMovements.has(key)) return Either.right(this.snapshot(stock))
    if (request.delta === 0) {
      return Either.left(
        new InvalidAdjustment({ sku: request.sku, delta: 0, available: stock.available, message: "delta is zero" }),
      )
    }
    // Only free stock can be written off: held and sold units belong to reservations.
    if (stock.available + request.delta < 0) {
      return Either.left(
        new InvalidAdjustment({
          sku: request.sku,
          delta: request.delta,
          available: stock.available,
          message: "adjustment would make available stock negative",
        }),
      )
    }
    stock.touched = true
    stock.available += request.delta
    this.bookedMovements.add(key)
    this.movements.push({ sku: request.sku, kind: "adjust", quantity: request.delta, reference: request.adjustmentId })
    return Either.right(this.snapshot(stock))
  }

  /** The rows to write, each group in one statement. */
  writes() {
    const updates: Array<StockRow> = []
    const inserts: Array<StockRow> = []
    for (const stock of this.stocks.values()) {
      if (!stock.touched) continue
      const row = {
        sku: stock.sku,
        available: stock.available,
        reserved: stock.reserved,
        committed: stock.committed,
        version: stock.version,
      }
      if (stock.isNew) inserts.push(row)
      else updates.push(row)
    }
    const newReservations: Array<NewReservation & { status: ReservationStatus }> = []
    const finished: Array<{ id: string; status: "released" | "committed" }> = []
    for (const entry of this.reservations.values()) {
      const { row } = entry
      // Reserved and finished in the same batch: inserted in its final status.
      if (entry.isNew) newReservations.push({ ...row })
      else if (entry.finished)
        finished.push({ id: row.id, status: row.status === "committed" ? "committed" : "released" })
    }
    const writes: BatchWrites = { updates, inserts, newReservations, finished, movements: this.movements }
    return writes
  }
}
