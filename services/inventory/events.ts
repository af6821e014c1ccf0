/**
 * Inventory's domain events (inventory.reserved / released / committed), written by the writer's batch
 * statement itself so an event exists exactly when its state change does. `InventoryEvents.Outbox`
 * writes them to the transactional outbox (src/events/outbox.ts, published to Kafka by the relay);
 * `InventoryEvents.None` drops them (benchmarks of the write path alone).
 */
import { SqlClient, type Statement } from "@effect/sql"
import { Context, Effect, Layer } from "effect"
import { InventoryCommitted, InventoryReleased, InventoryReserved, type Reservation } from "../../rpc/inventory.ts"
import type { OutgoingEvent } from "../../src/events/envelope.ts"
import { Outbox } from "../../src/events/outbox.ts"

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
    /**
     * The events' outbox rows as a part of the writer's batch statement, so they commit or roll back with
     * the batch at no extra round trip; undefined when there is nothing to write.
     */
    readonly asPart: (events: ReadonlyArray<InventoryEvent>, now: Date) => Statement.Fragment | undefined
  }
>() {
  static readonly None = Layer.succeed(InventoryEvents, { asPart: () => undefined })

  static readonly Outbox = Layer.effect(
    InventoryEvents,
    Effect.map(Effect.all([Outbox, SqlClient.SqlClient]), ([outbox, sql]) => ({
      asPart: (events: ReadonlyArray<InventoryEvent>, now: Date) =>
        events.length === 0 ? undefined : outbox.appendIf(encodeEvents(events, now), sql`TRUE`),
    })),
  ).pipe(Layer.provide(Outbox.Default))
}
