/**
 * The DeliveryRpcs implementation: bookings and status changes go through Bookings, zones, slots and
 * reads straight to the repository.
 */
import { Effect } from "effect"
import { DeliveryRpcs, ShipmentNotFound, ZoneNotFound } from "../../rpc/delivery.ts"
import { Bookings } from "./bookings.ts"
import { DeliveryRepository } from "./repository.ts"

export const DeliveryHandlers = DeliveryRpcs.toLayer(
  Effect.gen(function* () {
    const bookings = yield* Bookings
    const repository = yield* DeliveryRepository
    return {
      CreateZone: ({ zoneId, name, postalCodePrefixes }) => repository.createZone(zoneId, name, postalCodePrefixes),
      CreateSlot: ({ slotId, zoneId, startsAt, endsAt, capacity }) =>
        repository
          .createSlot({ id: slotId, zoneId, startsAt, endsAt, capacity })
          .pipe(
            Effect.flatMap((slot) =>
              slot === undefined ? Effect.fail(new ZoneNotFound({ zoneId })) : Effect.succeed(slot),
            ),
          ),
      ListSlots: ({ zoneId, from, to, onlyAvailable }) =>
        Effect.gen(function* () {
          const zone = yield* repository.findZone(zoneId)
          if (zone === undefined) return yield* new ZoneNotFound({ zoneId })
          return yield* repository.listSlots(zoneId, from, to, onlyAvailable ?? false)
        }),
      BookSlot: (request) => bookings.book(request),
      CancelShipment: (ref) => bookings.cancel(ref),
      MarkShipped: (ref) => bookings.markShipped(ref),
      GetShipment: (ref) =>
        repository
          .findShipment(ref)
          .pipe(
            Effect.flatMap((shipment) =>
              shipment !== undefined
                ? Effect.succeed(shipment)
                : Effect.fail(
                    "orderId" in ref
                      ? new ShipmentNotFound({ orderId: ref.orderId })
                      : new ShipmentNotFound({ shipmentId: ref.shipmentId }),
                  ),
            ),
          ),
    }
  }),
)
