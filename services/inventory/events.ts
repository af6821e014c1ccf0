/**
 * Inventory's domain events (inventory.reserved / released / committed), handed to an appender inside the
 * writer's transaction so an event exists exactly when its state change does. `InventoryEvents.Outbox`
 * writes them to the transactional outbox (src/outbox.ts, published to Kafka by the relay);
 * `InventoryEvents.None` drops them (benchmarks of the write path alone).
 */
import type { SqlError } from "@effect/sql"
import { Clock, Context, Effect, Layer } from "effect"
import { InventoryCommitted, InventoryReleased, InventoryReserved, type Reservation } from "../../rpc/inventory.ts"
import type { OutgoingEvent } from "../../src/event-envelope.ts"
import { Outbox } from "../../src/outbox.ts"

export interface InventoryEvent {
  readonly type: "inventory.reserved" | "inventory.released" | "inventory.committed"
  readonly reservation: Reservation
  /** For inventory.released: whether the hold ran out (the sweeper) or was given back. */
  readonly reason?: "released" | "expired"
}

/** The payload as its Schema encodes it (brands are plain strings, dates ISO text). */
const payloadOf = (event: InventoryEvent) => {
  const { reservation } = event
  const lines = reservation.lines.map((line) => ({ sku: line.sku, quantity: line.quantity }))
  const fields = { reservationId: reservation.id, orderId: reservation.orderId, lines }
  switch (event.type) {
    case "inventory.reserved":
      return { ...fields, expiresAt: reservation.expiresAt.toISOString() }
    case "inventory.released":
      return { ...fields, reason: event.reason ?? "released" }
    case "inventory.committed":
      return fields
  }
}

const definitions = {
  "inventory.reserved": InventoryReserved,
  "inventory.released": InventoryReleased,
  "inventory.committed": InventoryCommitted,
} as const

/**
 * Encodes events without a Schema pass. The writer emits one event per reservation change, hundreds per
 * batch, inside the batch's transaction: `defineEvent(...).make` (two Schema encodes per event) was an
 * eighth of the service's CPU under load. Our own values need no validation; test/inventory/events.test.ts
 * proves that consumers decode these envelopes exactly as they decode `make`'s.
 */
export const encodeEvents = (events: ReadonlyArray<InventoryEvent>, now: Date): Array<OutgoingEvent> => {
  const occurredAt = now.toISOString()
  return events.map((event) => {
    const definition = definitions[event.type]
    const id = crypto.randomUUID()
    const key = event.reservation.id
    const envelope = { type: event.type, version: definition.version, id, occurredAt, key, payload: payloadOf(event) }
    return {
      id,
      type: event.type,
      version: definition.version,
      topic: definition.topic,
      partitionKey: key,
      value: JSON.stringify(envelope),
    }
  })
}

export class InventoryEvents extends Context.Tag("inventory/InventoryEvents")<
  InventoryEvents,
  {
    /** Runs inside the writer's transaction (it uses the ambient SqlClient), so it commits or rolls back with it. */
    readonly append: (events: ReadonlyArray<InventoryEvent>) => Effect.Effect<void, SqlError.SqlError>
  }
>() {
  static readonly None = Layer.succeed(InventoryEvents, { append: () => Effect.void })

  static readonly Outbox = Layer.effect(
    InventoryEvents,
    Effect.map(Outbox, (outbox) => ({
      append: (events: ReadonlyArray<InventoryEvent>) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => outbox.append(encodeEvents(events, new Date(now)))),
    })),
  ).pipe(Layer.provide(Outbox.Default))
}
