/**
 * What an event on the orders, payments, inventory or users topic means to analytics: a `Fact` that
 * the aggregate store applies. Decoding is pure (no I/O), so the projections are testable without Kafka.
 *
 * An event type we know in a version we do not fails as UndecodableEvent: the consumer skips and counts
 * it (messages_handled_total{outcome="undecodable"}) instead of silently counting it as nothing.
 * Types that change no aggregate (order.shipped, inventory.reserved, user.updated, types added later)
 * become `Ignored` and are still recorded as processed.
 */
import { Data, Effect } from "effect"
import type { Money, Sku } from "../../rpc/common.ts"
import { InventoryCommitted, InventoryReleased, InventoryReserved } from "../../rpc/inventory.ts"
import { OrderCancelled, OrderConfirmed, OrderCreated, OrderFailed, OrderShipped } from "../../rpc/order.ts"
import { PaymentCompleted, PaymentFailed, PaymentRefunded } from "../../rpc/payment.ts"
import { UserRegistered, UserUpdated } from "../../rpc/user.ts"
import type { EventDefinition, EventEnvelope } from "../../src/events/envelope.ts"
import { UndecodableEvent } from "../../src/events/envelope.ts"

export interface SoldLine {
  readonly sku: Sku
  readonly quantity: number
  readonly lineTotal: Money
}

export interface StockLine {
  readonly sku: Sku
  readonly quantity: number
}

export type Fact = Data.TaggedEnum<{
  OrderCreated: {}
  OrderConfirmed: { readonly total: Money; readonly lines: ReadonlyArray<SoldLine> }
  OrderFailed: { readonly step: string; readonly reason: string }
  OrderCancelled: {}
  PaymentCaptured: {}
  PaymentDeclined: {}
  PaymentRefunded: { readonly amount: Money }
  StockCommitted: { readonly lines: ReadonlyArray<StockLine> }
  CustomerRegistered: {}
  Ignored: {}
}>
export const Fact = Data.taggedEnum<Fact>()

/** The topics analytics consumes. */
export const analyticsTopics = [
  OrderCreated.topic,
  PaymentCompleted.topic,
  InventoryCommitted.topic,
  UserRegistered.topic,
] as const

interface Projection {
  readonly type: string
  readonly is: (envelope: EventEnvelope) => boolean
  readonly decode: (envelope: EventEnvelope) => Effect.Effect<Fact, UndecodableEvent>
}

const on = <Type extends string, A, I>(
  definition: EventDefinition<Type, A, I>,
  toFact: (payload: A) => Fact,
): Projection => ({
  type: definition.type,
  is: definition.is,
  decode: (envelope) => Effect.map(definition.decode(envelope), (event) => toFact(event.payload)),
})

const ignore = <Type extends string, A, I>(definition: EventDefinition<Type, A, I>) =>
  on(definition, () => Fact.Ignored())

const projections: ReadonlyArray<Projection> = [
  on(OrderCreated, () => Fact.OrderCreated()),
  on(OrderConfirmed, ({ total, items }) => Fact.OrderConfirmed({ total, lines: items })),
  on(OrderFailed, ({ step, reason }) => Fact.OrderFailed({ step, reason })),
  on(OrderCancelled, () => Fact.OrderCancelled()),
  ignore(OrderShipped),
  on(PaymentCompleted, () => Fact.PaymentCaptured()),
  on(PaymentFailed, () => Fact.PaymentDeclined()),
  on(PaymentRefunded, ({ amount }) => Fact.PaymentRefunded({ amount })),
  // Committed stock is what was sold; reservations and releases only move it back and forth.
  on(InventoryCommitted, ({ lines }) => Fact.StockCommitted({ lines })),
  ignore(InventoryReserved),
  ignore(InventoryReleased),
  on(UserRegistered, () => Fact.CustomerRegistered()),
  ignore(UserUpdated),
]

const knownTypes = new Set(projections.map((projection) => projection.type))

export const factOf = (envelope: EventEnvelope): Effect.Effect<Fact, UndecodableEvent> => {
  const projection = projections.find((candidate) => candidate.is(envelope))
  if (projection !== undefined) return projection.decode(envelope)
  if (knownTypes.has(envelope.type)) {
    return Effect.fail(
      new UndecodableEvent({
        reason: "unexpected-type",
        message: `analytics does not know ${envelope.type} v${envelope.version}`,
      }),
    )
  }
  return Effect.succeed(Fact.Ignored())
}
