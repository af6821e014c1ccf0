import { describe, expect, test } from "bun:test"
import { Effect, Schema } from "effect"
import {
  InventoryCommitted,
  InventoryReleased,
  InventoryReserved,
  type OrderId,
  Reservation,
  type ReservationId,
  type Sku,
} from "../../rpc/inventory.ts"
import { EventEnvelope } from "../../src/events/envelope.ts"
import { encodeEvents } from "../../services/inventory/events.ts"
import { runTest } from "../support/run.ts"

const reservation = new Reservation({
  id: "res-1" as ReservationId,
  orderId: "order-1" as OrderId,
  status: "reserved",
  lines: [
    { sku: "sku-a" as Sku, quantity: 2 },
    { sku: "sku-b" as Sku, quantity: 1 },
  ],
  expiresAt: new Date("2030-01-02T03:04:05.678Z"),
})

const decodeEnvelope = Schema.decodeUnknownSync(Schema.parseJson(EventEnvelope))

describe("inventory events encoded without a Schema pass", () => {
  test("decode, for consumers, exactly as the event definitions' own encoding does", () =>
    runTest(
      Effect.gen(function* () {
        const now = new Date("2030-01-01T00:00:00.000Z")
        const cases = [
          [
            { type: "inventory.reserved", reservation },
            InventoryReserved,
            yield* InventoryReserved.make(
              {
                reservationId: reservation.id,
                orderId: reservation.orderId,
                lines: reservation.lines,
                expiresAt: reservation.expiresAt,
              },
              { key: reservation.id },
            ),
          ],
          [
            { type: "inventory.released", reservation, reason: "expired" },
            InventoryReleased,
            yield* InventoryReleased.make(
              {
                reservationId: reservation.id,
                orderId: reservation.orderId,
                lines: reservation.lines,
                reason: "expired",
              },
              { key: reservation.id },
            ),
          ],
          [
            { type: "inventory.committed", reservation },
            InventoryCommitted,
            yield* InventoryCommitted.make(
              { reservationId: reservation.id, orderId: reservation.orderId, lines: reservation.lines },
              { key: reservation.id },
            ),
          ],
        ] as const
        for (const [event, definition, reference] of cases) {
          const [fast] = encodeEvents([event], now)
          if (fast === undefined) throw new Error("no event encoded")
          expect({ ...fast, id: "", value: "" }).toEqual({ ...reference, id: "", value: "" })
          const fastEnvelope = decodeEnvelope(fast.value)
          const referenceEnvelope = decodeEnvelope(reference.value)
          expect(fastEnvelope.id).toBe(fast.id)
          expect(fastEnvelope.key).toBe(referenceEnvelope.key)
          expect(fastEnvelope.occurredAt.epochMillis).toBe(now.getTime())
          expect(definition.is(fastEnvelope)).toBe(true)
          const decodedFast = yield* definition.decode(fastEnvelope)
          const decodedReference = yield* definition.decode(referenceEnvelope)
          expect(decodedFast.payload).toEqual(decodedReference.payload)
        }
      }),
    ))
})
