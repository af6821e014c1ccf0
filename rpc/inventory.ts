/**
 * The inventory service's contract: stock per SKU, reservations of many lines at once (all or nothing),
 * release, commit, restock and adjust. Every write carries its own id and is idempotent by it, so a
 * caller (the checkout saga, a retrying client) can repeat any request safely.
 */
import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import { defineEvent } from "../src/events/envelope.ts"
import { Identifier as Id, OrderId, Sku } from "./common.ts"

export { OrderId, Sku }

export const ReservationId = Id.pipe(Schema.brand("ReservationId"))
export type ReservationId = typeof ReservationId.Type

export const RestockId = Id.pipe(Schema.brand("RestockId"))
export type RestockId = typeof RestockId.Type

export const AdjustmentId = Id.pipe(Schema.brand("AdjustmentId"))
export type AdjustmentId = typeof AdjustmentId.Type

/** Stock quantities fit Postgres `integer`. */
export const Quantity = Schema.Int.pipe(Schema.positive(), Schema.lessThanOrEqualTo(1_000_000_000))

export class StockItem extends Schema.Class<StockItem>("StockItem")({
  sku: Sku,
  /** Free to reserve. */
  available: Schema.NonNegativeInt,
  /** Held by live reservations. */
  reserved: Schema.NonNegativeInt,
  /** Sold: reservations that were committed. */
  committed: Schema.NonNegativeInt,
  version: Schema.NonNegativeInt,
}) {}

export const ReserveLine = Schema.Struct({ sku: Sku, quantity: Quantity })
export type ReserveLine = typeof ReserveLine.Type

export const ReservationStatus = Schema.Literal("reserved", "released", "committed")
export type ReservationStatus = typeof ReservationStatus.Type

export class Reservation extends Schema.Class<Reservation>("Reservation")({
  id: ReservationId,
  orderId: OrderId,
  status: ReservationStatus,
  /** One line per SKU: lines of a request that name the same SKU are summed. */
  lines: Schema.NonEmptyArray(ReserveLine),
  expiresAt: Schema.Date,
}) {}

/** How long a reservation holds stock before the sweeper releases it, when a request does not say. */
export const defaultReservationTtlSeconds = 15 * 60

export const ReserveRequest = Schema.Struct({
  reservationId: ReservationId,
  orderId: OrderId,
  lines: Schema.NonEmptyArray(ReserveLine),
  ttlSeconds: Schema.optional(Schema.Int.pipe(Schema.between(1, 7 * 24 * 3600))),
})
export type ReserveRequest = typeof ReserveRequest.Type

export const RestockRequest = Schema.Struct({ restockId: RestockId, sku: Sku, quantity: Quantity })
export type RestockRequest = typeof RestockRequest.Type

export const AdjustRequest = Schema.Struct({
  adjustmentId: AdjustmentId,
  sku: Sku,
  /** Signed change of `available` (a stock count, breakage, a found box). */
  delta: Schema.Int.pipe(Schema.between(-1_000_000_000, 1_000_000_000)),
  reason: Schema.Trimmed.pipe(Schema.nonEmptyString(), Schema.maxLength(500)),
})
export type AdjustRequest = typeof AdjustRequest.Type

// Errors -----------------------------------------------------------------------------------------

export class InsufficientStock extends Schema.TaggedError<InsufficientStock>()("InsufficientStock", {
  sku: Sku,
  requested: Schema.Int,
  available: Schema.Int,
}) {}

/** Another writer changed the stock row between read and write, and the bounded retries ran out. */
export class ConcurrencyConflict extends Schema.TaggedError<ConcurrencyConflict>()("ConcurrencyConflict", {
  sku: Schema.optional(Sku),
}) {}

export class UnknownSku extends Schema.TaggedError<UnknownSku>()("UnknownSku", { sku: Sku }) {}

export class ReservationNotFound extends Schema.TaggedError<ReservationNotFound>()("ReservationNotFound", {
  reservationId: ReservationId,
}) {}

/** Commit of a released reservation, or release of a committed one. */
export class ReservationNotActive extends Schema.TaggedError<ReservationNotActive>()("ReservationNotActive", {
  reservationId: ReservationId,
  status: ReservationStatus,
}) {}

/** An adjustment that would make `available` negative, or a zero delta. */
export class InvalidAdjustment extends Schema.TaggedError<InvalidAdjustment>()("InvalidAdjustment", {
  sku: Sku,
  delta: Schema.Int,
  available: Schema.Int,
  message: Schema.String,
}) {}

export type InventoryError =
  | InsufficientStock
  | ConcurrencyConflict
  | UnknownSku
  | ReservationNotFound
  | ReservationNotActive
  | InvalidAdjustment

// Events (Kafka topic "inventory", keyed by reservation id, written through the outbox) -----------

const ReservationEventFields = {
  reservationId: ReservationId,
  orderId: OrderId,
  lines: Schema.NonEmptyArray(ReserveLine),
}

export const InventoryReserved = defineEvent(
  "inventory.reserved",
  "inventory",
  Schema.Struct({ ...ReservationEventFields, expiresAt: Schema.Date }),
)
export const InventoryReleased = defineEvent(
  "inventory.released",
  "inventory",
  Schema.Struct({ ...ReservationEventFields, reason: Schema.Literal("released", "expired") }),
)
export const InventoryCommitted = defineEvent("inventory.committed", "inventory", Schema.Struct(ReservationEventFields))

const ReserveError = Schema.Union(InsufficientStock, UnknownSku, ConcurrencyConflict)
const SettleError = Schema.Union(ReservationNotFound, ReservationNotActive, ConcurrencyConflict)

/** At most this many items in one batch call. */
export const maxBatchItems = 1000

// The group --------------------------------------------------------------------------------------

export class InventoryRpcs extends RpcGroup.make(
  /** All lines or none. Repeating the same reservationId returns the first reservation and reserves nothing. */
  Rpc.make("Reserve", {
    payload: ReserveRequest,
    success: Reservation,
    error: ReserveError,
  }),
  /** Gives the stock back. Releasing a released reservation is a no-op success. */
  Rpc.make("Release", {
    payload: { reservationId: ReservationId },
    success: Reservation,
    error: SettleError,
  }),
  /** Turns reserved stock into sold stock. Committing a committed reservation is a no-op success. */
  Rpc.make("Commit", {
    payload: { reservationId: ReservationId },
    success: Reservation,
    error: SettleError,
  }),
  /**
   * Many `Reserve`s in one call (what callers reserving at the same moment send together): each answered
   * in order with its own reservation or typed refusal, exactly as `Reserve` would answer it alone; one
   * refused leaves the others as they are.
   */
  Rpc.make("ReserveMany", {
    payload: { requests: Schema.Array(ReserveRequest).pipe(Schema.maxItems(maxBatchItems)) },
    success: Schema.Array(Schema.Either({ right: Reservation, left: ReserveError })),
  }),
  /** Many `Commit`s in one call, each answered in order as `Commit` would answer it alone. */
  Rpc.make("CommitMany", {
    payload: { reservationIds: Schema.Array(ReservationId).pipe(Schema.maxItems(maxBatchItems)) },
    success: Schema.Array(Schema.Either({ right: Reservation, left: SettleError })),
  }),
  /** Adds stock (creating the SKU when new). A repeated restockId adds nothing. */
  Rpc.make("Restock", {
    payload: RestockRequest,
    success: StockItem,
    error: ConcurrencyConflict,
  }),
  /** Corrects `available` by a signed delta. A repeated adjustmentId changes nothing. */
  Rpc.make("Adjust", {
    payload: AdjustRequest,
    success: StockItem,
    error: Schema.Union(UnknownSku, InvalidAdjustment, ConcurrencyConflict),
  }),
  Rpc.make("GetStock", {
    payload: { sku: Sku },
    success: StockItem,
    error: UnknownSku,
  }),
  /** The known SKUs among `skus`; unknown ones are left out. */
  Rpc.make("GetStocks", {
    payload: { skus: Schema.Array(Sku).pipe(Schema.maxItems(1000)) },
    success: Schema.Array(StockItem),
  }),
  Rpc.make("GetReservation", {
    payload: { reservationId: ReservationId },
    success: Reservation,
    error: ReservationNotFound,
  }),
) {}
