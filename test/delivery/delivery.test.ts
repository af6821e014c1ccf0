/**
 * The delivery service as a real process (services/delivery/main.ts) on the real PostgreSQL and Kafka,
 * called over RPC.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { Effect, Layer } from "effect"
import {
  DeliveryRpcs,
  type OrderId,
  type PostalAddress,
  type ShipmentId,
  type SlotId,
  type ZoneId,
} from "../../rpc/delivery.ts"
import { RpcClientTag } from "../../src/rpc/index.ts"
import { type ServiceProcess, startService, testDatabaseSuffix } from "../support/service-process.ts"
import { adminQuery, statementCalls } from "../support/postgres.ts"
import { testRuntime } from "../support/run.ts"

class DeliveryClient extends RpcClientTag<DeliveryClient>()("delivery", DeliveryRpcs) {}

const database = `cm_delivery${testDatabaseSuffix}`
const unique = (prefix: string) => `${prefix}-${crypto.randomUUID()}`
const order = () => unique("order") as OrderId
const address: PostalAddress = { line1: "1 Main Street", city: "Utrecht", postalCode: "3511 AB", country: "NL" }
const hour = 3_600_000
const base = new Date(Date.UTC(2031, 0, 1, 8))
const at = (hours: number) => new Date(base.getTime() + hours * hour)

let service: ServiceProcess
let runtime: ReturnType<typeof testRuntime<DeliveryClient, unknown>>
const run = <A, E>(effect: Effect.Effect<A, E, DeliveryClient>) => runtime.run(effect)

beforeAll(async () => {
  service = await startService("delivery", { DATABASE_POOL_SIZE: "8" })
  runtime = testRuntime(DeliveryClient.layer({ timeout: "20 seconds" }).pipe(Layer.provide(service.clientConfig)))
})

afterAll(async () => {
  await runtime?.dispose()
  await service?.stop()
})

/** A zone of its own serving "35…" with slots of the given capacities, one an hour from `base`. */
const zoneWithSlots = (capacities: ReadonlyArray<number>, prefixes: ReadonlyArray<string> = ["35"]) =>
  Effect.gen(function* () {
    const delivery = yield* DeliveryClient
    const zone = yield* delivery.CreateZone({
      zoneId: unique("zone") as ZoneId,
      name: "Utrecht",
      postalCodePrefixes: prefixes,
    })
    const slots = yield* Effect.forEach(capacities, (capacity, i) =>
      delivery.CreateSlot({
        slotId: unique("slot") as SlotId,
        zoneId: zone.id,
        startsAt: at(i),
        endsAt: at(i + 1),
        capacity,
      }),
    )
    return { zone, slots }
  })

const slotBooked = (slotId: string) =>
  Effect.promise(() =>
    adminQuery(
      `SELECT booked, (SELECT count(*)::int FROM shipments WHERE slot_id = '${slotId}' AND status <> 'cancelled')
              AS shipments FROM slots WHERE id = '${slotId}'`,
      database,
    ),
  ).pipe(Effect.map((rows) => rows[0]))

describe("the delivery process", () => {
  test("is live and ready on its side port", async () => {
    const base = `http://127.0.0.1:${service.httpPort}`
    expect((await fetch(`${base}/healthz`)).status).toBe(200)
    const readiness = await fetch(`${base}/readyz`)
    expect(readiness.status).toBe(200)
    expect(await readiness.json()).toMatchObject({ status: "ready", service: "delivery" })
  })
})

describe("zones and slots", () => {
  test("CreateZone and CreateSlot create once; repeats return what exists", () =>
    run(
      Effect.gen(function* () {
        const delivery = yield* DeliveryClient
        const { zone, slots } = yield* zoneWithSlots([5])
        const slot = slots[0]!
        expect(zone.postalCodePrefixes).toEqual(["35"])
        expect(yield* delivery.CreateZone({ zoneId: zone.id, name: "other", postalCodePrefixes: [] })).toEqual(zone)
        expect([slot.capacity, slot.booked]).toEqual([5, 0])
        const again = yield* delivery.CreateSlot({
          slotId: slot.id,
          zoneId: zone.id,
          startsAt: slot.startsAt,
          endsAt: slot.endsAt,
          capacity: 9,
        })
        expect(again).toEqual(slot)
      }),
    ))

  test("CreateSlot and ListSlots of an unknown zone fail with ZoneNotFound", () =>
    run(
      Effect.gen(function* () {
        const delivery = yield* DeliveryClient
        const zoneId = unique("zone") as ZoneId
        const created = yield* delivery
          .CreateSlot({ slotId: unique("slot") as SlotId, zoneId, startsAt: at(0), endsAt: at(1), capacity: 1 })
          .pipe(Effect.flip)
        expect(created._tag).toBe("ZoneNotFound")
        const listed = yield* delivery.ListSlots({ zoneId, from: at(0), to: at(1) }).pipe(Effect.flip)
        expect(listed._tag).toBe("ZoneNotFound")
      }),
    ))

  test("ListSlots returns the window's slots by start time, and only those with room when asked", () =>
    run(
      Effect.gen(function* () {
        const delivery = yield* DeliveryClient
        const { zone, slots } = yield* zoneWithSlots([1, 0, 2, 3])
        const all = yield* delivery.ListSlots({ zoneId: zone.id, from: at(0), to: at(3) })
        expect(all.map((slot) => slot.id)).toEqual(slots.slice(0, 3).map((slot) => slot.id))
        yield* delivery.BookSlot({ orderId: order(), slotId: slots[0]!.id, address })
        const available = yield* delivery.ListSlots({ zoneId: zone.id, from: at(0), to: at(4), onlyAvailable: true })
        expect(available.map((slot) => slot.id)).toEqual([slots[2]!.id, slots[3]!.id])
      }),
    ))
})

describe("BookSlot", () => {
  test("books a named slot once per order: a repeat returns the shipment and takes no second place", () =>
    run(
      Effect.gen(function* () {
        const delivery = yield* DeliveryClient
        const { slots } = yield* zoneWithSlots([3])
        const slot = slots[0]!
        const orderId = order()
        const shipment = yield* delivery.BookSlot({ orderId, slotId: slot.id, address })
        expect(shipment.status).toBe("booked")
        expect(shipment.address).toEqual(address)
        expect([shipment.slotId, shipment.startsAt]).toEqual([slot.id, slot.startsAt])
        expect(yield* delivery.BookSlot({ orderId, slotId: slot.id, address })).toEqual(shipment)
        expect(yield* delivery.GetShipment({ orderId })).toEqual(shipment)
        expect(yield* delivery.GetShipment({ shipmentId: shipment.id })).toEqual(shipment)
        expect(yield* slotBooked(slot.id)).toEqual({ booked: 1, shipments: 1 })
      }),
    ))

  test("a full slot fails with SlotFull, an unknown one with SlotNotFound", () =>
    run(
      Effect.gen(function* () {
        const delivery = yield* DeliveryClient
        const { slots } = yield* zoneWithSlots([1])
        yield* delivery.BookSlot({ orderId: order(), slotId: slots[0]!.id, address })
        const full = yield* delivery.BookSlot({ orderId: order(), slotId: slots[0]!.id, address }).pipe(Effect.flip)
        expect(full._tag).toBe("SlotFull")
        const missing = yield* delivery
          .BookSlot({ orderId: order(), slotId: unique("slot") as SlotId, address })
          .pipe(Effect.flip)
        expect(missing._tag).toBe("SlotNotFound")
      }),
    ))

  test("by zone, books the earliest slot with room; none left fails with NoSlotAvailable", () =>
    run(
      Effect.gen(function* () {
        const delivery = yield* DeliveryClient
        const { zone, slots } = yield* zoneWithSlots([0, 1, 1])
        const first = yield* delivery.BookSlot({ orderId: order(), zoneId: zone.id, earliest: at(0), address })
        expect(first.slotId).toBe(slots[1]!.id)
        const later = yield* delivery.BookSlot({ orderId: order(), zoneId: zone.id, earliest: at(2), address })
        expect(later.slotId).toBe(slots[2]!.id)
        const none = yield* delivery
          .BookSlot({ orderId: order(), zoneId: zone.id, earliest: at(0), address })
          .pipe(Effect.flip)
        expect(none._tag).toBe("NoSlotAvailable")
      }),
    ))

  test("an unknown zone fails with ZoneNotFound, an address outside the zone with AddressNotServed", () =>
    run(
      Effect.gen(function* () {
        const delivery = yield* DeliveryClient
        const { zone, slots } = yield* zoneWithSlots([5])
        const unknown = yield* delivery
          .BookSlot({ orderId: order(), zoneId: unique("zone") as ZoneId, address })
          .pipe(Effect.flip)
        expect(unknown._tag).toBe("ZoneNotFound")
        const elsewhere = { ...address, postalCode: "1012 AB" }
        const byZone = yield* delivery
          .BookSlot({ orderId: order(), zoneId: zone.id, address: elsewhere })
          .pipe(Effect.flip)
        expect(byZone._tag).toBe("AddressNotServed")
        const bySlot = yield* delivery
          .BookSlot({ orderId: order(), slotId: slots[0]!.id, address: elsewhere })
          .pipe(Effect.flip)
        expect(bySlot._tag).toBe("AddressNotServed")
      }),
    ))

  test("100 concurrent bookings of a slot of capacity 10 book exactly 10", () =>
    run(
      Effect.gen(function* () {
        const delivery = yield* DeliveryClient
        const { slots } = yield* zoneWithSlots([10])
        const slotId = slots[0]!.id
        const outcomes = yield* Effect.all(
          Array.from({ length: 100 }, () =>
            delivery.BookSlot({ orderId: order(), slotId, address }).pipe(Effect.either),
          ),
          { concurrency: "unbounded" },
        )
        const booked = outcomes.filter((o) => o._tag === "Right").length
        const full = outcomes.filter((o) => o._tag === "Left" && o.left._tag === "SlotFull").length
        expect([booked, full]).toEqual([10, 90])
        expect(yield* slotBooked(slotId)).toEqual({ booked: 10, shipments: 10 })
      }),
    ))

  test("40 concurrent bookings by zone over three slots of 10 book 30 and find no slot for 10", () =>
    run(
      Effect.gen(function* () {
        const delivery = yield* DeliveryClient
        const { zone, slots } = yield* zoneWithSlots([10, 10, 10])
        const outcomes = yield* Effect.all(
          Array.from({ length: 40 }, () =>
            delivery.BookSlot({ orderId: order(), zoneId: zone.id, earliest: at(0), address }).pipe(Effect.either),
          ),
          { concurrency: "unbounded" },
        )
        expect(outcomes.filter((o) => o._tag === "Right").length).toBe(30)
        expect(outcomes.filter((o) => o._tag === "Left" && o.left._tag === "NoSlotAvailable").length).toBe(10)
        for (const slot of slots) expect(yield* slotBooked(slot.id)).toEqual({ booked: 10, shipments: 10 })
      }),
    ))

  test("bookings arriving together share statements: the earliest slot fills in their order, the rest go on to the next", () =>
    run(
      Effect.gen(function* () {
        const delivery = yield* DeliveryClient
        const { zone, slots } = yield* zoneWithSlots([5, 10])
        const calls = Effect.promise(() => statementCalls(database, "INSERT INTO shipments"))
        const before = yield* calls
        const shipments = yield* Effect.all(
          Array.from({ length: 12 }, () =>
            delivery.BookSlot({ orderId: order(), zoneId: zone.id, earliest: at(0), address }),
          ),
          { concurrency: "unbounded" },
        )
        const statements = (yield* calls) - before
        const inFirst = shipments.filter((shipment) => shipment.slotId === slots[0]!.id).length
        expect([inFirst, shipments.length - inFirst]).toEqual([5, 7])
        expect(yield* slotBooked(slots[0]!.id)).toEqual({ booked: 5, shipments: 5 })
        expect(yield* slotBooked(slots[1]!.id)).toEqual({ booked: 7, shipments: 7 })
        // One statement per booking would be twelve (and more for those that lost the first slot).
        expect(statements).toBeGreaterThan(0)
        expect(statements).toBeLessThan(6)
      }),
    ))

  test("20 racing bookings of one order take one place", () =>
    run(
      Effect.gen(function* () {
        const delivery = yield* DeliveryClient
        const { slots } = yield* zoneWithSlots([50])
        const orderId = order()
        const answers = yield* Effect.all(
          Array.from({ length: 20 }, () => delivery.BookSlot({ orderId, slotId: slots[0]!.id, address })),
          { concurrency: "unbounded" },
        )
        for (const answer of answers) expect(answer).toEqual(answers[0]!)
        expect(yield* slotBooked(slots[0]!.id)).toEqual({ booked: 1, shipments: 1 })
      }),
    ))
})

describe("CancelShipment, MarkShipped, GetShipment", () => {
  test("cancelling frees the place exactly once, even when repeated and raced", () =>
    run(
      Effect.gen(function* () {
        const delivery = yield* DeliveryClient
        const { slots } = yield* zoneWithSlots([2])
        const slotId = slots[0]!.id
        const orderId = order()
        yield* delivery.BookSlot({ orderId, slotId, address })
        yield* delivery.BookSlot({ orderId: order(), slotId, address })
        const answers = yield* Effect.all(
          Array.from({ length: 10 }, () => delivery.CancelShipment({ orderId })),
          { concurrency: "unbounded" },
        )
        for (const answer of answers) expect(answer.status).toBe("cancelled")
        expect(yield* slotBooked(slotId)).toEqual({ booked: 1, shipments: 1 })
        expect((yield* delivery.CancelShipment({ orderId })).status).toBe("cancelled")
        expect(yield* slotBooked(slotId)).toEqual({ booked: 1, shipments: 1 })
        const rebook = yield* delivery.BookSlot({ orderId, slotId, address }).pipe(Effect.flip)
        expect(rebook._tag).toBe("InvalidTransition")
        const ship = yield* delivery.MarkShipped({ orderId }).pipe(Effect.flip)
        expect(ship._tag).toBe("InvalidTransition")
      }),
    ))

  test("a shipped shipment keeps its place, ships once, and cannot be cancelled", () =>
    run(
      Effect.gen(function* () {
        const delivery = yield* DeliveryClient
        const { slots } = yield* zoneWithSlots([2])
        const orderId = order()
        const booked = yield* delivery.BookSlot({ orderId, slotId: slots[0]!.id, address })
        const shipped = yield* delivery.MarkShipped({ shipmentId: booked.id })
        expect(shipped.status).toBe("shipped")
        expect((yield* delivery.MarkShipped({ orderId })).status).toBe("shipped")
        const cancel = yield* delivery.CancelShipment({ orderId }).pipe(Effect.flip)
        expect(cancel._tag).toBe("InvalidTransition")
        expect(yield* slotBooked(slots[0]!.id)).toEqual({ booked: 1, shipments: 1 })
        expect(yield* delivery.BookSlot({ orderId, slotId: slots[0]!.id, address })).toEqual(shipped)
      }),
    ))

  test("unknown shipments fail with ShipmentNotFound", () =>
    run(
      Effect.gen(function* () {
        const delivery = yield* DeliveryClient
        const orderId = order()
        expect((yield* delivery.CancelShipment({ orderId }).pipe(Effect.flip))._tag).toBe("ShipmentNotFound")
        expect((yield* delivery.MarkShipped({ orderId }).pipe(Effect.flip))._tag).toBe("ShipmentNotFound")
        const byId = yield* delivery.GetShipment({ shipmentId: unique("shp") as ShipmentId }).pipe(Effect.flip)
        expect(byId._tag).toBe("ShipmentNotFound")
      }),
    ))

  test("booked, shipped and cancelled events reach the outbox and are published", () =>
    run(
      Effect.gen(function* () {
        const delivery = yield* DeliveryClient
        const { slots } = yield* zoneWithSlots([2])
        const shippedOrder = order()
        const cancelledOrder = order()
        yield* delivery.BookSlot({ orderId: shippedOrder, slotId: slots[0]!.id, address })
        yield* delivery.MarkShipped({ orderId: shippedOrder })
        yield* delivery.BookSlot({ orderId: cancelledOrder, slotId: slots[0]!.id, address })
        yield* delivery.CancelShipment({ orderId: cancelledOrder })
        yield* Effect.sleep("1 second")
        const events = (orderId: string) =>
          Effect.promise(() =>
            adminQuery(
              `SELECT event_type, published_at IS NOT NULL AS published FROM outbox
               WHERE event_key = '${orderId}' ORDER BY id`,
              database,
            ),
          )
        expect(yield* events(shippedOrder)).toEqual([
          { event_type: "shipment.booked", published: true },
          { event_type: "shipment.shipped", published: true },
        ])
        expect(yield* events(cancelledOrder)).toEqual([
          { event_type: "shipment.booked", published: true },
          { event_type: "shipment.cancelled", published: true },
        ])
      }),
    ))
})
