/**
 * The versioned envelope every domain event travels in, on Kafka and in the outbox:
 * `{ type, version, id, occurredAt, key?, payload }` as JSON (the shared envelope of src/envelope.ts, plus the key). The envelope is decoded by the consumer
 * runner before any handler sees a message; the payload is decoded by the event's own definition
 * (`defineEvent`), so one consumer can take several event types and versions from one topic.
 */
import { Data, DateTime, Effect, type ParseResult, Schema } from "effect"
import { EnvelopeOccurredAt, EnvelopePayload, EnvelopeVersion } from "../envelope.ts"

export const EventEnvelope = Schema.Struct({
  type: Schema.NonEmptyString,
  version: EnvelopeVersion,
  id: Schema.UUID,
  occurredAt: EnvelopeOccurredAt,
  /** The aggregate the event is about; also the Kafka message key, so one aggregate's events stay ordered. */
  key: Schema.optionalWith(Schema.String, { exact: true }),
  payload: EnvelopePayload,
})
export type EventEnvelope = typeof EventEnvelope.Type

const decodeEnvelopeJson = Schema.decodeUnknown(Schema.parseJson(EventEnvelope))

/** A message that is not an event this consumer understands; skipped and counted, never retried. */
export class UndecodableEvent extends Data.TaggedError("UndecodableEvent")<{
  readonly reason: "not-an-envelope" | "unexpected-type" | "bad-payload"
  readonly message: string
}> {}

export const decodeEnvelope = (text: string): Effect.Effect<EventEnvelope, UndecodableEvent> =>
  decodeEnvelopeJson(text).pipe(
    Effect.mapError((error) => new UndecodableEvent({ reason: "not-an-envelope", message: error.message })),
  )

/** An event ready to leave the process: encoded once, stored in the outbox or sent as is. */
export interface OutgoingEvent {
  readonly id: string
  readonly type: string
  readonly version: number
  readonly topic: string
  /** Kafka message key: the event's key, or its id when it has none (no ordering is promised then). */
  readonly partitionKey: string
  /** The envelope as JSON text. */
  readonly value: string
}

/** A decoded event of one definition. */
export interface DomainEvent<Type extends string, A> {
  readonly type: Type
  readonly version: number
  readonly id: string
  readonly occurredAt: DateTime.Utc
  readonly key?: string
  readonly payload: A
}

export interface MakeEventOptions {
  readonly key?: string
  /** Callers that need the id before the event exists (to store it alongside state) may choose it. */
  readonly id?: string
}

export interface EventDefinition<Type extends string, A, I> {
  readonly type: Type
  readonly version: number
  readonly topic: string
  readonly payload: Schema.Schema<A, I>
  /** Builds and encodes an event; an invalid payload fails here, inside the caller's transaction. */
  readonly make: (payload: A, options?: MakeEventOptions) => Effect.Effect<OutgoingEvent, ParseResult.ParseError>
  /** True when an envelope carries this type and version. */
  readonly is: (envelope: EventEnvelope) => boolean
  readonly decode: (envelope: EventEnvelope) => Effect.Effect<DomainEvent<Type, A>, UndecodableEvent>
}

/**
 * Declares one version of a domain event and the topic it is published to.
 * A breaking change to a payload is a new definition with the next version on the same type;
 * consumers keep decoding the older version for as long as it may still be in a topic.
 *
 * ```ts
 * const OrderConfirmed = defineEvent("order.confirmed", "orders", Schema.Struct({ orderId: Schema.String }), 1)
 * const event = yield* OrderConfirmed.make({ orderId }, { key: orderId })
 * ```
 */
export const defineEvent = <const Type extends string, A, I>(
  type: Type,
  topic: string,
  payload: Schema.Schema<A, I>,
  version = 1,
): EventDefinition<Type, A, I> => {
  const encodePayload = Schema.encode(payload)
  const decodePayload = Schema.decodeUnknown(payload)
  const encodeEnvelope = Schema.encode(EventEnvelope)
  const is = (envelope: EventEnvelope) => envelope.type === type && envelope.version === version
  return {
    type,
    version,
    topic,
    payload,
    make: (value, options = {}) =>
      Effect.gen(function* () {
        const id = options.id ?? crypto.randomUUID()
        const occurredAt = yield* DateTime.now
        const encoded = yield* encodePayload(value)
        const envelope = yield* encodeEnvelope({
          type,
          version,
          id,
          occurredAt,
          ...(options.key === undefined ? {} : { key: options.key }),
          payload: encoded,
        })
        return { id, type, version, topic, partitionKey: options.key ?? id, value: JSON.stringify(envelope) }
      }),
    is,
    decode: (envelope) =>
      is(envelope)
        ? decodePayload(envelope.payload).pipe(
            Effect.map((decoded): DomainEvent<Type, A> => ({ ...envelope, type, payload: decoded })),
            Effect.mapError((error) => new UndecodableEvent({ reason: "bad-payload", message: error.message })),
          )
        : Effect.fail(
            new UndecodableEvent({
              reason: "unexpected-type",
              message: `expected ${type} v${version}, got ${envelope.type} v${envelope.version}`,
            }),
          ),
  }
}
