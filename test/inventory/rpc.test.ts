/**
 * The inventory service as its own process (services/inventory/main.ts), called over the real RPC
 * transport: typed successes and typed errors cross the wire.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { Effect, Either, Layer } from "effect"
import { InsufficientStock, type OrderId, type RestockId } from "../../rpc/inventory.ts"
import { testRuntime } from "../support/run.ts"
import { type ServiceProcess, startService } from "../support/service-process.ts"
import { InventoryClient, newId, newReservationId, newSku, testDatabaseSuffix } from "./support.ts"

let service: ServiceProcess
let client: ReturnType<typeof testRuntime<InventoryClient, unknown>>

beforeAll(async () => {
  service = await startService("inventory", { DATABASE_NAME_SUFFIX: testDatabaseSuffix })
  client = testRuntime(InventoryClient.layer({ timeout: "10 seconds" }).pipe(Layer.provide(service.clientConfig)))
}, 60_000)

afterAll(async () => {
  await client?.dispose()
  await service?.stop()
})

describe("inventory over RPC", () => {
  test("restock, reserve, a typed InsufficientStock, commit and read back", () =>
    client.run(
      Effect.gen(function* () {
        const inventory = yield* InventoryClient
        const sku = newSku("rpc")
        yield* inventory.Restock({ restockId: newId<RestockId>("restock"), sku, quantity: 3 })
        const reservationId = newReservationId()
        const reservation = yield* inventory.Reserve({
          reservationId,
          orderId: newId<OrderId>("order"),
          lines: [{ sku, quantity: 2 }],
        })
        expect(reservation.status).toBe("reserved")
        expect(reservation.expiresAt).toBeInstanceOf(Date)
        const error = yield* inventory
          .Reserve({
            reservationId: newReservationId(),
            orderId: newId<OrderId>("order"),
            lines: [{ sku, quantity: 2 }],
          })
          .pipe(Effect.flip)
        expect(error).toBeInstanceOf(InsufficientStock)
        const handled = yield* inventory
          .Reserve({
            reservationId: newReservationId(),
            orderId: newId<OrderId>("order"),
            lines: [{ sku, quantity: 2 }],
          })
          .pipe(
            Effect.as("reserved"),
            Effect.catchTag("InsufficientStock", (e) => Effect.succeed(`short: ${e.available} of ${e.requested}`)),
          )
        expect(handled).toBe("short: 1 of 2")
        expect((yield* inventory.Commit({ reservationId })).status).toBe("committed")
        const stock = yield* inventory.GetStock({ sku })
        expect({ available: stock.available, reserved: stock.reserved, committed: stock.committed }).toEqual({
          available: 1,
          reserved: 0,
          committed: 2,
        })
        const missing = yield* inventory.GetReservation({ reservationId: newReservationId() }).pipe(Effect.flip)
        expect(missing._tag).toBe("ReservationNotFound")
      }),
    ))

  test("ReserveMany answers each item on its own: a refused item fails only itself, a repeated id reserves once", () =>
    client.run(
      Effect.gen(function* () {
        const inventory = yield* InventoryClient
        const sku = newSku("batch")
        yield* inventory.Restock({ restockId: newId<RestockId>("restock"), sku, quantity: 5 })
        const first = newReservationId()
        const orderId = newId<OrderId>("order")
        const short = newReservationId()
        const last = newReservationId()
        const outcomes = yield* inventory.ReserveMany({
          requests: [
            { reservationId: first, orderId, lines: [{ sku, quantity: 2 }] },
            // The same reservation again in the same batch: answered with the first, reserving nothing more.
            { reservationId: first, orderId, lines: [{ sku, quantity: 2 }] },
            // More than is left after the first: refused on its own.
            { reservationId: short, orderId: newId<OrderId>("order"), lines: [{ sku, quantity: 4 }] },
            { reservationId: last, orderId: newId<OrderId>("order"), lines: [{ sku, quantity: 3 }] },
          ],
        })
        expect(outcomes.map((outcome) => (Either.isRight(outcome) ? outcome.right.id : outcome.left._tag))).toEqual([
          first,
          first,
          "InsufficientStock",
          last,
        ])
        const stock = yield* inventory.GetStock({ sku })
        expect({ available: stock.available, reserved: stock.reserved }).toEqual({ available: 0, reserved: 5 })

        const committed = yield* inventory.CommitMany({ reservationIds: [first, short, last] })
        expect(
          committed.map((outcome) => (Either.isRight(outcome) ? outcome.right.status : outcome.left._tag)),
        ).toEqual(["committed", "ReservationNotFound", "committed"])
        const after = yield* inventory.GetStock({ sku })
        expect({ reserved: after.reserved, committed: after.committed }).toEqual({ reserved: 0, committed: 5 })
      }),
    ))

  test("the service reports its inventory metrics on the side port", async () => {
    const text = await fetch(`${service.httpUrl}/metrics`).then((response) => response.text())
    expect(text).toContain('inventory_reservations_total{service="inventory",path="writer",outcome="ok"}')
    expect(text).toContain("inventory_batch_size_bucket")
    expect(text).toContain('rpc_requests_total{service="inventory",method="Reserve",outcome="InsufficientStock"}')
  })
})
