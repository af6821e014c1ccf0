/**
 * Booking, cancelling and shipping: the rules around the repository's guarded statements — which slot an
 * order gets, what a repeat answers, and which status changes are allowed.
 */
import { Clock, Effect, Option } from "effect"
import {
  AddressNotServed,
  type BookSlotRequest,
  InvalidTransition,
  NoSlotAvailable,
  type PostalAddress,
  type Shipment,
  ShipmentNotFound,
  type ShipmentRef,
  SlotFull,
  type SlotId,
  SlotNotFound,
  type Zone,
  ZoneNotFound,
  type ZoneId,
} from "../../rpc/delivery.ts"
import { type BookableSlot, DeliveryRepository } from "./repository.ts"

/** Slots tried per round when booking "the earliest with room"; a round that loses them all looks again. */
const candidatesPerRound = 10
const maxRounds = 5

const normalise = (postalCode: string) => postalCode.replaceAll(" ", "").toUpperCase()

const serves = (zone: Zone, address: PostalAddress) =>
  zone.postalCodePrefixes.length === 0 ||
  zone.postalCodePrefixes.some((prefix) => normalise(address.postalCode).startsWith(normalise(prefix)))

const notFound = (ref: ShipmentRef) =>
  "orderId" in ref
    ? new ShipmentNotFound({ orderId: ref.orderId })
    : new ShipmentNotFound({ shipmentId: ref.shipmentId })

export class Bookings extends Effect.Service<Bookings>()("delivery/Bookings", {
  effect: Effect.gen(function* () {
    const repository = yield* DeliveryRepository

    /** What booking an order that already has a shipment answers: the shipment, unless it was cancelled. */
    const existingBooking = (shipment: Shipment) =>
      shipment.status === "cancelled"
        ? Effect.fail(new InvalidTransition({ shipmentId: shipment.id, from: "cancelled", to: "booked" }))
        : Effect.succeed(shipment)

    // Zones are written once and never change, so a zone found once is kept for the process's life.
    const zones = new Map<string, Zone>()
    const zoneOf = (zoneId: ZoneId) => {
      const known = zones.get(zoneId)
      if (known !== undefined) return Effect.succeed(known)
      return Effect.tap(repository.findZone(zoneId), (zone) => {
        if (zone !== undefined) zones.set(zoneId, zone)
      })
    }

    const servingZone = Effect.fn("Delivery.servingZone")(function* (zoneId: ZoneId, address: PostalAddress) {
      const zone = yield* zoneOf(zoneId)
      if (zone === undefined) return yield* new ZoneNotFound({ zoneId })
      if (!serves(zone, address)) return yield* new AddressNotServed({ zoneId, postalCode: address.postalCode })
      return zone
    })

    /** What an order that already has a shipment gets from booking again. */
    const repeat = (orderId: BookSlotRequest["orderId"]) =>
      Effect.flatMap(repository.findShipment({ orderId }), (shipment) =>
        shipment === undefined ? Effect.dieMessage(`shipment of order ${orderId} vanished`) : existingBooking(shipment),
      )

    /** One booking attempt of a slot; a repeat of the order (even a racing one) answers its shipment. */
    const bookSlot = (orderId: BookSlotRequest["orderId"], slot: BookableSlot, address: PostalAddress) =>
      repository.book(orderId, slot, address).pipe(
        Effect.catchTags({
          NoSuchSlot: () => Effect.fail(new SlotNotFound({ slotId: slot.id as SlotId })),
          NoRoom: ({ capacity }) => Effect.fail(new SlotFull({ slotId: slot.id as SlotId, capacity })),
          OrderAlreadyBooked: () => repeat(orderId),
        }),
      )

    const book = Effect.fn("Delivery.book")(function* (request: BookSlotRequest) {
      if ("slotId" in request) {
        // A repeat is answered without touching a slot.
        const existing = yield* repository.findShipment({ orderId: request.orderId })
        if (existing !== undefined) return yield* existingBooking(existing)
        const slot = yield* repository.findSlot(request.slotId)
        if (slot === undefined) return yield* new SlotNotFound({ slotId: request.slotId })
        yield* servingZone(slot.zoneId, request.address)
        return yield* bookSlot(
          request.orderId,
          { id: slot.id, zone_id: slot.zoneId, starts_at: slot.startsAt, ends_at: slot.endsAt },
          request.address,
        )
      }

      yield* servingZone(request.zoneId, request.address)
      const earliest = request.earliest ?? new Date(yield* Clock.currentTimeMillis)
      // Another booking may take a candidate's last place between the look-up and the guarded UPDATE:
      // move on to the next candidate, and look again when a whole round was taken.
      for (let round = 0; round < maxRounds; round++) {
        const candidates = yield* repository.candidateSlots(
          request.zoneId,
          earliest,
          candidatesPerRound,
          request.orderId,
        )
        if (candidates.length === 0) break
        for (const slot of candidates) {
          const booked = yield* bookSlot(request.orderId, slot, request.address).pipe(
            Effect.asSome,
            Effect.catchTag("SlotFull", () => Effect.succeedNone),
          )
          if (Option.isSome(booked)) return booked.value
        }
      }
      // No candidates: the zone is full, or the order is booked already (a repeat).
      const existing = yield* repository.findShipment({ orderId: request.orderId })
      if (existing !== undefined) return yield* existingBooking(existing)
      return yield* new NoSlotAvailable({ zoneId: request.zoneId, earliest })
    })

    /**
     * A booked shipment moved to `to` (a repeat finds it there already); one that took the other way out of
     * `booked` is refused.
     */
    const leaveBooked = (to: "cancelled" | "shipped") => {
      const other = to === "cancelled" ? "shipped" : "cancelled"
      return (ref: ShipmentRef) =>
        Effect.gen(function* () {
          const result = yield* repository.transition(ref, "booked", to)
          if (result._tag === "Missing") return yield* notFound(ref)
          const { shipment } = result
          if (shipment.status === other) {
            return yield* new InvalidTransition({ shipmentId: shipment.id, from: other, to })
          }
          return shipment
        })
    }

    const cancel = (ref: ShipmentRef) => leaveBooked("cancelled")(ref).pipe(Effect.withSpan("Delivery.cancel"))
    const markShipped = (ref: ShipmentRef) => leaveBooked("shipped")(ref).pipe(Effect.withSpan("Delivery.markShipped"))

    return { book, cancel, markShipped } as const
  }),
  dependencies: [DeliveryRepository.Default],
}) {}
