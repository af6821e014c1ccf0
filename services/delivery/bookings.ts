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
import { DeliveryRepository } from "./repository.ts"

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

    const servingZone = Effect.fn("Delivery.servingZone")(function* (zoneId: ZoneId, address: PostalAddress) {
      const zone = yield* repository.findZone(zoneId)
      if (zone === undefined) return yield* new ZoneNotFound({ zoneId })
      if (!serves(zone, address)) return yield* new AddressNotServed({ zoneId, postalCode: address.postalCode })
      return zone
    })

    /** One booking attempt of a named slot; a repeat of the order (even a racing one) answers its shipment. */
    const bookSlot = (orderId: BookSlotRequest["orderId"], slotId: SlotId, address: PostalAddress) =>
      repository.book(orderId, slotId, address).pipe(
        Effect.catchTags({
          NoSuchSlot: () => Effect.fail(new SlotNotFound({ slotId })),
          NoRoom: ({ capacity }) => Effect.fail(new SlotFull({ slotId, capacity })),
          OrderAlreadyBooked: () =>
            Effect.flatMap(repository.findShipment({ orderId }), (shipment) =>
              shipment === undefined
                ? Effect.dieMessage(`shipment of order ${orderId} vanished`)
                : existingBooking(shipment),
            ),
        }),
      )

    const book = Effect.fn("Delivery.book")(
      function* (request: BookSlotRequest) {
        // A repeat is answered without touching a slot.
        const existing = yield* repository.findShipment({ orderId: request.orderId })
        if (existing !== undefined) return yield* existingBooking(existing)

        if ("slotId" in request) {
          const slot = yield* repository.findSlot(request.slotId)
          if (slot === undefined) return yield* new SlotNotFound({ slotId: request.slotId })
          yield* servingZone(slot.zoneId, request.address)
          return yield* bookSlot(request.orderId, request.slotId, request.address)
        }

        yield* servingZone(request.zoneId, request.address)
        const earliest = request.earliest ?? new Date(yield* Clock.currentTimeMillis)
        // Another booking may take a candidate's last place between the look-up and the guarded UPDATE:
        // move on to the next candidate, and look again when a whole round was taken.
        for (let round = 0; round < maxRounds; round++) {
          const candidates = yield* repository.candidateSlots(request.zoneId, earliest, candidatesPerRound)
          if (candidates.length === 0) break
          for (const slotId of candidates) {
            const booked = yield* bookSlot(request.orderId, slotId as SlotId, request.address).pipe(
              Effect.asSome,
              Effect.catchTag("SlotFull", () => Effect.succeedNone),
            )
            if (Option.isSome(booked)) return booked.value
          }
        }
        return yield* new NoSlotAvailable({ zoneId: request.zoneId, earliest })
      },
      // A database that stays away after the pool's own retries is an infrastructure defect, not an answer.
      Effect.catchTag("SqlError", Effect.die),
    )

    const cancel = Effect.fn("Delivery.cancel")(
      function* (ref: ShipmentRef) {
        const result = yield* repository.transition(ref, "booked", "cancelled")
        if (result._tag === "Missing") return yield* notFound(ref)
        const { shipment } = result
        if (shipment.status === "shipped") {
          return yield* new InvalidTransition({ shipmentId: shipment.id, from: "shipped", to: "cancelled" })
        }
        return shipment
      },
      Effect.catchTag("SqlError", Effect.die),
    )

    const markShipped = Effect.fn("Delivery.markShipped")(
      function* (ref: ShipmentRef) {
        const result = yield* repository.transition(ref, "booked", "shipped")
        if (result._tag === "Missing") return yield* notFound(ref)
        const { shipment } = result
        if (shipment.status === "cancelled") {
          return yield* new InvalidTransition({ shipmentId: shipment.id, from: "cancelled", to: "shipped" })
        }
        return shipment
      },
      Effect.catchTag("SqlError", Effect.die),
    )

    return { book, cancel, markShipped } as const
  }),
  dependencies: [DeliveryRepository.Default],
}) {}
