/**
 * The delivery service's SQL. A place in a slot is taken by one conditional UPDATE
 * (`booked = booked + 1 WHERE booked < capacity`): concurrent bookings of a slot queue on its row and the
 * guard is re-checked on the row as each one finds it, so no interleaving books past the capacity.
 * Every state change writes its event to the outbox in the same transaction.
 */
import { SqlClient, type SqlError } from "@effect/sql"
import { Data, Effect, Exit, Option } from "effect"
import {
  type OrderId,
  type PostalAddress,
  Shipment,
  ShipmentBooked,
  ShipmentCancelled,
  type ShipmentId,
  type ShipmentRef,
  ShipmentShipped,
  type ShipmentStatus,
  Slot,
  type SlotId,
  Zone,
  type ZoneId,
} from "../../rpc/delivery.ts"
import type { OutgoingEvent } from "../../src/events/envelope.ts"
import { Outbox } from "../../src/events/outbox.ts"
import { makeGroupCommit } from "../../src/group-commit.ts"
import { dieOnSql, dying, isUniqueViolation, recordset, firstDecoded, rowDecoder } from "../../src/postgres.ts"

interface ShipmentRow {
  readonly id: string
  readonly order_id: string
  readonly slot_id: string
  readonly zone_id: string
  readonly starts_at: Date
  readonly ends_at: Date
  readonly address: PostalAddress
  readonly status: ShipmentStatus
  readonly created_at: Date
  readonly updated_at: Date
}

/** What booking needs of a slot: its times never change, so a candidate read earlier stays right. */
export interface BookableSlot {
  readonly id: string
  readonly zone_id: string
  readonly starts_at: Date
  readonly ends_at: Date
}

/** The slot had no room left when the guarded UPDATE reached its row. */
export class NoRoom extends Data.TaggedError("NoRoom")<{ readonly capacity: number }> {}
/** The slot does not exist. */
export class NoSuchSlot extends Data.TaggedError("NoSuchSlot")<{}> {}
/** Another booking of the order committed first; this statement rolled back its place. */
export class OrderAlreadyBooked extends Data.TaggedError("OrderAlreadyBooked")<{}> {}

const toZone = rowDecoder(Zone)
const toSlot = rowDecoder(Slot)

// Shipments are on the checkout's path (every booking answers one): mapped by hand, not re-validated —
// the rows come from our own tables, already checked by their constraints.
const toShipment = (row: ShipmentRow) =>
  new Shipment(
    {
      id: row.id as ShipmentId,
      orderId: row.order_id as OrderId,
      slotId: row.slot_id as SlotId,
      zoneId: row.zone_id as ZoneId,
      startsAt: row.starts_at,
      endsAt: row.ends_at,
      address: row.address,
      status: row.status,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    },
    true,
  )

export type Transition =
  | { readonly _tag: "Changed"; readonly shipment: Shipment }
  | { readonly _tag: "Unchanged"; readonly shipment: Shipment }
  | { readonly _tag: "Missing" }

interface Booking {
  readonly orderId: string
  readonly slot: BookableSlot
  readonly address: PostalAddress
}

interface PreparedBooking extends Booking {
  readonly id: string
  readonly event: OutgoingEvent
}

type BookingError = NoRoom | NoSuchSlot | OrderAlreadyBooked | SqlError.SqlError

export class DeliveryRepository extends Effect.Service<DeliveryRepository>()("delivery/DeliveryRepository", {
  scoped: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const outbox = yield* Outbox

    const first = <A>(rows: ReadonlyArray<A>): A | undefined => rows[0]

    const zoneColumns = sql`id, name, postal_code_prefixes AS "postalCodePrefixes"`
    const slotColumns = sql`id, zone_id AS "zoneId", starts_at AS "startsAt", ends_at AS "endsAt", capacity, booked`
    const shipmentSelect = sql`
      SELECT s.id, s.order_id, s.slot_id, t.zone_id, t.starts_at, t.ends_at, s.address, s.status, s.created_at,
             s.updated_at
      FROM shipments s JOIN slots t ON t.id = s.slot_id`
    const refCondition = (ref: ShipmentRef) =>
      "orderId" in ref ? sql`s.order_id = ${ref.orderId}` : sql`s.id = ${ref.shipmentId}`

    const createZone = Effect.fn("Delivery.createZone")(function* (
      id: string,
      name: string,
      prefixes: ReadonlyArray<string>,
    ) {
      yield* sql`
        INSERT INTO zones (id, name, postal_code_prefixes) VALUES (${id}, ${name}, ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(prefixes)}::jsonb)))
        ON CONFLICT (id) DO NOTHING`
      const row = first(yield* sql`SELECT ${zoneColumns} FROM zones WHERE id = ${id}`)
      if (row === undefined) return yield* Effect.dieMessage(`zone ${id} vanished`)
      return yield* toZone(row)
    })

    const findZone = (id: string) =>
      sql`SELECT ${zoneColumns} FROM zones WHERE id = ${id}`.pipe(Effect.flatMap(firstDecoded(toZone)))

    /** Inserts the slot unless its id exists; undefined when the zone does not exist. */
    const createSlot = Effect.fn("Delivery.createSlot")(function* (slot: {
      readonly id: string
      readonly zoneId: string
      readonly startsAt: Date
      readonly endsAt: Date
      readonly capacity: number
    }) {
      const inserted = yield* sql`
        INSERT INTO slots (id, zone_id, starts_at, ends_at, capacity)
        SELECT ${slot.id}, z.id, ${slot.startsAt}, ${slot.endsAt}, ${slot.capacity} FROM zones z WHERE z.id = ${slot.zoneId}
        ON CONFLICT (id) DO NOTHING
        RETURNING ${slotColumns}`
      const row = first(inserted) ?? first(yield* sql`SELECT ${slotColumns} FROM slots WHERE id = ${slot.id}`)
      return row === undefined ? undefined : yield* toSlot(row)
    })

    const findSlot = (id: string) =>
      sql`SELECT ${slotColumns} FROM slots WHERE id = ${id}`.pipe(Effect.flatMap(firstDecoded(toSlot)))

    const listSlots = (zoneId: string, from: Date, to: Date, onlyAvailable: boolean) =>
      sql`
        SELECT ${slotColumns} FROM slots
        WHERE zone_id = ${zoneId} AND starts_at >= ${from} AND starts_at < ${to}
          ${onlyAvailable ? sql`AND booked < capacity` : sql``}
        ORDER BY starts_at, id`.pipe(Effect.flatMap((rows) => Effect.forEach(rows, toSlot)))

    /**
     * For each request, the zone's slots with room starting at or after `earliest`, earliest first — none
     * when the order already has a shipment, so a repeat costs no more than this one read to tell.
     */
    const candidateSlotsMany = (
      requests: ReadonlyArray<{
        readonly zoneId: string
        readonly earliest: Date
        readonly limit: number
        readonly orderId: string
      }>,
    ) =>
      sql<BookableSlot & { readonly i: number }>`
        SELECT v.i, c.id, c.zone_id, c.starts_at, c.ends_at
        FROM ${recordset(
          sql,
          requests.map((request, i) => ({
            i,
            zone_id: request.zoneId,
            earliest: request.earliest.toISOString(),
            lim: request.limit,
            order_id: request.orderId,
          })),
          "v (i int, zone_id text, earliest timestamptz, lim int, order_id text)",
        )}
        CROSS JOIN LATERAL (
          SELECT id, zone_id, starts_at, ends_at FROM slots
          WHERE zone_id = v.zone_id AND starts_at >= v.earliest AND booked < capacity
            AND NOT EXISTS (SELECT 1 FROM shipments WHERE order_id = v.order_id)
          ORDER BY starts_at, id LIMIT v.lim) c
        ORDER BY v.i, c.starts_at, c.id`.pipe(
        Effect.map((rows) =>
          requests.map((_, i) =>
            Exit.succeed(
              rows
                .filter((row) => row.i === i)
                .map(({ id, zone_id, starts_at, ends_at }): BookableSlot => ({ id, zone_id, starts_at, ends_at })),
            ),
          ),
        ),
      )
    const candidates = yield* makeGroupCommit("delivery.candidates", candidateSlotsMany)

    const findShipment = (ref: ShipmentRef) =>
      sql<ShipmentRow>`${shipmentSelect} WHERE ${refCondition(ref)}`.pipe(
        Effect.map((rows) => {
          const row = first(rows)
          return row === undefined ? undefined : toShipment(row)
        }),
      )

    const prepare = (booking: Booking) =>
      Effect.gen(function* () {
        const id = `shp_${crypto.randomUUID()}`
        const event = yield* ShipmentBooked.make(
          {
            shipmentId: id as ShipmentId,
            orderId: booking.orderId as OrderId,
            slotId: booking.slot.id as SlotId,
            zoneId: booking.slot.zone_id as ZoneId,
            startsAt: booking.slot.starts_at,
            endsAt: booking.slot.ends_at,
          },
          { key: booking.orderId },
        )
        return { ...booking, id, event } satisfies PreparedBooking
      }).pipe(Effect.orDie)

    const shipmentOf = (booking: PreparedBooking, row: { created_at: Date; updated_at: Date }) =>
      toShipment({
        id: booking.id,
        order_id: booking.orderId,
        slot_id: booking.slot.id,
        zone_id: booking.slot.zone_id,
        starts_at: booking.slot.starts_at,
        ends_at: booking.slot.ends_at,
        address: booking.address,
        status: "booked",
        created_at: row.created_at,
        updated_at: row.updated_at,
      })

    /**
     * Takes a place in the slot and records the order's shipment with its event, in one statement. When
     * a racing booking of the same order committed first, the insert breaks the order's unique index and
     * the whole statement — the place taken in it included — rolls back.
     */
    const bookOne = (booking: PreparedBooking) =>
      Effect.gen(function* () {
        const inserted = yield* sql<{ created_at: Date; updated_at: Date }>`
          WITH taken AS (
            UPDATE slots SET booked = booked + 1 WHERE id = ${booking.slot.id} AND booked < capacity RETURNING id),
          booked AS (
            INSERT INTO shipments (id, order_id, slot_id, address, status)
            SELECT ${booking.id}, ${booking.orderId}, taken.id, ${JSON.stringify(booking.address)}::jsonb, 'booked'
            FROM taken
            RETURNING created_at, updated_at),
          event AS (${outbox.appendIf([booking.event], sql`EXISTS (SELECT 1 FROM booked)`)})
          SELECT created_at, updated_at FROM booked`.pipe(
          Effect.catchIf(
            (error) => isUniqueViolation(error, "shipments_order_id_key"),
            () => new OrderAlreadyBooked(),
          ),
        )
        const row = inserted[0]
        if (row === undefined) {
          // No room (or no slot): only now is the slot read, to tell which.
          const existing = first(
            yield* sql<{ capacity: number }>`SELECT capacity FROM slots WHERE id = ${booking.slot.id}`,
          )
          return yield* existing === undefined ? new NoSuchSlot() : new NoRoom({ capacity: existing.capacity })
        }
        return shipmentOf(booking, row)
      })

    /**
     * The bookings of one moment in one statement: each slot's row is locked once and gives as many of its
     * bookings a place as it has room for, in the order they came; the others get NoRoom (or NoSuchSlot).
     * Should one order already be booked (its unique index breaks, and the statement rolls back whole), the
     * bookings are made one by one instead, so only that order's caller is refused.
     */
    const bookMany = (bookings: ReadonlyArray<PreparedBooking>) =>
      Effect.gen(function* () {
        if (bookings.length === 1) return [yield* Effect.exit(bookOne(bookings[0] as PreparedBooking))]
        const rows = yield* sql<{
          kind: "booked" | "slot"
          id: string
          created_at: Date | null
          updated_at: Date | null
          capacity: number | null
        }>`
          WITH req AS (
            SELECT * FROM ${recordset(
              sql,
              bookings.map((booking, i) => ({
                i,
                id: booking.id,
                order_id: booking.orderId,
                slot_id: booking.slot.id,
                address: booking.address,
                event_id: booking.event.id,
              })),
              "r (i int, id text, order_id text, slot_id text, address jsonb, event_id text)",
            )}),
          cur AS (
            SELECT s.id, s.booked, s.capacity FROM slots s
            WHERE s.id IN (SELECT slot_id FROM req) ORDER BY s.id FOR UPDATE),
          granted AS (
            SELECT ranked.* FROM (
              SELECT req.*, row_number() OVER (PARTITION BY req.slot_id ORDER BY req.i) AS rn FROM req) ranked
            JOIN cur ON cur.id = ranked.slot_id
            WHERE ranked.rn <= cur.capacity - cur.booked),
          taken AS (
            UPDATE slots s SET booked = s.booked + g.n
            FROM (SELECT slot_id, count(*)::int AS n FROM granted GROUP BY slot_id) g
            WHERE s.id = g.slot_id
            RETURNING s.id),
          booked AS (
            INSERT INTO shipments (id, order_id, slot_id, address, status)
            SELECT id, order_id, slot_id, address, 'booked' FROM granted
            RETURNING id, created_at, updated_at),
          event AS (${outbox.appendIf(
            bookings.map((booking) => booking.event),
            sql`EXISTS (SELECT 1 FROM granted g WHERE g.event_id = e.event_id::text)`,
          )})
          SELECT 'booked' AS kind, id, created_at, updated_at, NULL::int AS capacity FROM booked
          UNION ALL
          SELECT 'slot', id, NULL, NULL, capacity FROM cur`.pipe(
          Effect.asSome,
          Effect.catchIf(
            (error) => isUniqueViolation(error, "shipments_order_id_key"),
            () => Effect.succeedNone,
          ),
        )
        if (Option.isNone(rows)) return yield* Effect.forEach(bookings, (booking) => Effect.exit(bookOne(booking)))
        const booked = new Map<string, { created_at: Date; updated_at: Date }>()
        const capacity = new Map<string, number>()
        for (const row of rows.value) {
          if (row.kind === "slot") capacity.set(row.id, row.capacity ?? 0)
          else if (row.created_at !== null && row.updated_at !== null) {
            booked.set(row.id, { created_at: row.created_at, updated_at: row.updated_at })
          }
        }
        return bookings.map((booking): Exit.Exit<Shipment, BookingError> => {
          const row = booked.get(booking.id)
          if (row !== undefined) return Exit.succeed(shipmentOf(booking, row))
          const slotCapacity = capacity.get(booking.slot.id)
          return Exit.fail(slotCapacity === undefined ? new NoSuchSlot() : new NoRoom({ capacity: slotCapacity }))
        })
      })
    const booking = yield* makeGroupCommit("delivery.book", bookMany)

    /**
     * Moves a shipment from `from` to `to` with its event, in one transaction. Only a shipment in `from`
     * moves, so a repeat (or a racing duplicate) finds it moved and changes nothing — in particular a
     * cancelled shipment frees its place exactly once.
     */
    const transition = (
      ref: ShipmentRef,
      from: ShipmentStatus,
      to: "cancelled" | "shipped",
    ): Effect.Effect<Transition, SqlError.SqlError> =>
      sql.withTransaction(
        Effect.gen(function* () {
          const moved = first(
            yield* sql<{ id: string; slot_id: string }>`
              UPDATE shipments s SET status = ${to}, updated_at = now()
              WHERE ${refCondition(ref)} AND s.status = ${from}
              RETURNING s.id, s.slot_id`,
          )
          if (moved === undefined) {
            const current = yield* findShipment(ref)
            return current === undefined
              ? ({ _tag: "Missing" } as const)
              : ({ _tag: "Unchanged", shipment: current } as const)
          }
          if (to === "cancelled") {
            yield* sql`UPDATE slots SET booked = booked - 1 WHERE id = ${moved.slot_id}`
          }
          const shipment = yield* findShipment({ shipmentId: moved.id as ShipmentId })
          if (shipment === undefined) return yield* Effect.dieMessage(`shipment ${moved.id} vanished`)
          const fields = {
            shipmentId: shipment.id,
            orderId: shipment.orderId,
            slotId: shipment.slotId,
            zoneId: shipment.zoneId,
          }
          const event =
            to === "cancelled"
              ? yield* ShipmentCancelled.make(fields, { key: shipment.orderId })
              : yield* ShipmentShipped.make(fields, { key: shipment.orderId })
          yield* outbox.append(event)
          return { _tag: "Changed", shipment } as const
        }).pipe(Effect.catchTag("ParseError", Effect.die)),
      )

    // SQL errors are defects from here on: callers see only the outcomes they decide on.
    return {
      createZone: dying(createZone),
      findZone: dying(findZone),
      createSlot: dying(createSlot),
      findSlot: dying(findSlot),
      listSlots: dying(listSlots),
      candidateSlots: (zoneId: string, earliest: Date, limit: number, orderId: string) =>
        dieOnSql(candidates({ zoneId, earliest, limit, orderId })),
      findShipment: dying(findShipment),
      /** Takes a place in the slot and records the order's shipment with its event (bookMany). */
      book: (orderId: string, slot: BookableSlot, address: PostalAddress) =>
        dieOnSql(Effect.flatMap(prepare({ orderId, slot, address }), booking)),
      transition: dying(transition),
    } as const
  }),
  dependencies: [Outbox.Default],
}) {}
