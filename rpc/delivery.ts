/**
 * The delivery service's contract: zones (served postal codes), time slots with a capacity, and one
 * shipment per order booked into a slot. Booking is idempotent by order id and never books a slot past
 * its capacity; cancelling frees the slot exactly once. The checkout saga books with the order's zone and
 * address and, when it unwinds, cancels by order id.
 */
import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import { defineEvent } from "../src/events/envelope.ts"
import { Identifier, OrderId, PostalAddress, Text } from "./common.ts"

export { OrderId, PostalAddress }

export const ZoneId = Identifier.pipe(Schema.brand("ZoneId"))
export type ZoneId = typeof ZoneId.Type

export const SlotId = Identifier.pipe(Schema.brand("SlotId"))
export type SlotId = typeof SlotId.Type

export const ShipmentId = Identifier.pipe(Schema.brand("ShipmentId"))
export type ShipmentId = typeof ShipmentId.Type

export class Zone extends Schema.Class<Zone>("Zone")({
  id: ZoneId,
  name: Schema.String,
  /** Postal codes the zone serves, by prefix; an empty list serves every address. */
  postalCodePrefixes: Schema.Array(Schema.String),
}) {}

export class Slot extends Schema.Class<Slot>("Slot")({
  id: SlotId,
  zoneId: ZoneId,
  startsAt: Schema.Date,
  endsAt: Schema.Date,
  capacity: Schema.NonNegativeInt,
  /** Shipments booked or shipped in the slot; never more than `capacity`. */
  booked: Schema.NonNegativeInt,
}) {}

export const ShipmentStatus = Schema.Literal("booked", "cancelled", "shipped")
export type ShipmentStatus = typeof ShipmentStatus.Type

export class Shipment extends Schema.Class<Shipment>("Shipment")({
  id: ShipmentId,
  orderId: OrderId,
  slotId: SlotId,
  zoneId: ZoneId,
  startsAt: Schema.Date,
  endsAt: Schema.Date,
  address: PostalAddress,
  status: ShipmentStatus,
  createdAt: Schema.Date,
  updatedAt: Schema.Date,
}) {}

export const CreateZoneRequest = Schema.Struct({
  zoneId: ZoneId,
  name: Text(200),
  postalCodePrefixes: Schema.Array(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9 -]{1,20}$/))).pipe(
    Schema.maxItems(1000),
  ),
})
export type CreateZoneRequest = typeof CreateZoneRequest.Type

export const CreateSlotRequest = Schema.Struct({
  slotId: SlotId,
  zoneId: ZoneId,
  startsAt: Schema.Date,
  endsAt: Schema.Date,
  capacity: Schema.Int.pipe(Schema.between(0, 1_000_000)),
}).pipe(Schema.filter((slot) => slot.endsAt > slot.startsAt || "a slot must end after it starts"))
export type CreateSlotRequest = typeof CreateSlotRequest.Type

export const ListSlotsRequest = Schema.Struct({
  zoneId: ZoneId,
  /** Slots starting at or after `from` and before `to`. */
  from: Schema.Date,
  to: Schema.Date,
  onlyAvailable: Schema.optionalWith(Schema.Boolean, { exact: true }),
})
export type ListSlotsRequest = typeof ListSlotsRequest.Type

/** Books the named slot, or the earliest slot of the zone with room starting at or after `earliest` (default: now). */
export const BookSlotRequest = Schema.Union(
  Schema.Struct({ orderId: OrderId, slotId: SlotId, address: PostalAddress }),
  Schema.Struct({
    orderId: OrderId,
    zoneId: ZoneId,
    earliest: Schema.optionalWith(Schema.Date, { exact: true }),
    address: PostalAddress,
  }),
)
export type BookSlotRequest = typeof BookSlotRequest.Type

/** A shipment is named by its order (how the saga knows it) or by its own id. */
export const ShipmentRef = Schema.Union(Schema.Struct({ orderId: OrderId }), Schema.Struct({ shipmentId: ShipmentId }))
export type ShipmentRef = typeof ShipmentRef.Type

// Errors -----------------------------------------------------------------------------------------

export class SlotFull extends Schema.TaggedError<SlotFull>()("SlotFull", { slotId: SlotId, capacity: Schema.Int }) {}

export class NoSlotAvailable extends Schema.TaggedError<NoSlotAvailable>()("NoSlotAvailable", {
  zoneId: ZoneId,
  earliest: Schema.Date,
}) {}

export class SlotNotFound extends Schema.TaggedError<SlotNotFound>()("SlotNotFound", { slotId: SlotId }) {}

export class ZoneNotFound extends Schema.TaggedError<ZoneNotFound>()("ZoneNotFound", { zoneId: ZoneId }) {}

/** The address's postal code is not among the zone's prefixes. */
export class AddressNotServed extends Schema.TaggedError<AddressNotServed>()("AddressNotServed", {
  zoneId: ZoneId,
  postalCode: Schema.String,
}) {}

export class ShipmentNotFound extends Schema.TaggedError<ShipmentNotFound>()("ShipmentNotFound", {
  orderId: Schema.optionalWith(OrderId, { exact: true }),
  shipmentId: Schema.optionalWith(ShipmentId, { exact: true }),
}) {}

/** The shipment is past the point where the asked change is allowed (ship a cancelled one, cancel a shipped one). */
export class InvalidTransition extends Schema.TaggedError<InvalidTransition>()("InvalidTransition", {
  shipmentId: ShipmentId,
  from: ShipmentStatus,
  to: ShipmentStatus,
}) {}

export type DeliveryError =
  | SlotFull
  | NoSlotAvailable
  | SlotNotFound
  | ZoneNotFound
  | AddressNotServed
  | ShipmentNotFound
  | InvalidTransition

// Events (Kafka topic "shipments", keyed by order id, written through the outbox) ---------------

const ShipmentEventFields = { shipmentId: ShipmentId, orderId: OrderId, slotId: SlotId, zoneId: ZoneId }

export const ShipmentBooked = defineEvent(
  "shipment.booked",
  "shipments",
  Schema.Struct({ ...ShipmentEventFields, startsAt: Schema.Date, endsAt: Schema.Date }),
)
export const ShipmentCancelled = defineEvent("shipment.cancelled", "shipments", Schema.Struct(ShipmentEventFields))
export const ShipmentShipped = defineEvent("shipment.shipped", "shipments", Schema.Struct(ShipmentEventFields))

// The group --------------------------------------------------------------------------------------

export class DeliveryRpcs extends RpcGroup.make(
  /** Creates a zone; repeating its id returns the zone as first created. */
  Rpc.make("CreateZone", { payload: CreateZoneRequest, success: Zone }),
  /** Creates a slot in a zone; repeating its id returns the slot as it is. */
  Rpc.make("CreateSlot", { payload: CreateSlotRequest, success: Slot, error: ZoneNotFound }),
  /** The zone's slots in [from, to), by start time; with `onlyAvailable`, only those with room left. */
  Rpc.make("ListSlots", { payload: ListSlotsRequest, success: Schema.Array(Slot), error: ZoneNotFound }),
  /**
   * Books one place for the order. A repeat for an order already booked (or shipped) returns its shipment
   * and books nothing; an order whose shipment was cancelled cannot be booked again (InvalidTransition).
   */
  Rpc.make("BookSlot", {
    payload: BookSlotRequest,
    success: Shipment,
    error: Schema.Union(SlotFull, NoSlotAvailable, SlotNotFound, ZoneNotFound, AddressNotServed, InvalidTransition),
  }),
  /** Cancels and frees the slot; cancelling a cancelled shipment is a no-op success. */
  Rpc.make("CancelShipment", {
    payload: ShipmentRef,
    success: Shipment,
    error: Schema.Union(ShipmentNotFound, InvalidTransition),
  }),
  /** Marks the shipment shipped (its place stays taken); marking a shipped one again is a no-op success. */
  Rpc.make("MarkShipped", {
    payload: ShipmentRef,
    success: Shipment,
    error: Schema.Union(ShipmentNotFound, InvalidTransition),
  }),
  Rpc.make("GetShipment", { payload: ShipmentRef, success: Shipment, error: ShipmentNotFound }),
) {}
