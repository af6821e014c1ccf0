/**
 * The versioned envelope every command travels in: `{ type, version, id, occurredAt, replyTo?,
 * correlationId?, payload }` as JSON (the shared envelope of src/envelope.ts, plus the reply fields).
 * A message body holds one envelope, or a JSON array of them when the sender sent several to one queue
 * at the same moment (src/commands/index.ts batches them); each envelope keeps its own id and reply fields.
 * This file imports only Effect, so a service's contract in rpc/ can declare its commands with
 * `defineCommand` without pulling in a broker client.
 */
import { Either, Schema } from "effect"
import { EnvelopeOccurredAt, EnvelopePayload, EnvelopeVersion, formatParseError } from "../envelope.ts"

export const CommandEnvelope = Schema.Struct({
  type: Schema.NonEmptyTrimmedString,
  version: EnvelopeVersion,
  /** Idempotency id, chosen by the sender; deterministic ids (`${sagaId}:${step}`) make re-sends harmless. */
  id: Schema.NonEmptyTrimmedString,
  occurredAt: EnvelopeOccurredAt,
  /** The queue a reply goes to. */
  replyTo: Schema.optionalWith(Schema.NonEmptyTrimmedString, { exact: true }),
  /** On a reply: the id of the command it answers. */
  correlationId: Schema.optionalWith(Schema.NonEmptyTrimmedString, { exact: true }),
  payload: EnvelopePayload,
})
export type CommandEnvelope = typeof CommandEnvelope.Type

/** The envelope as the JSON text of a message body. */
export const CommandEnvelopeJson = Schema.parseJson(CommandEnvelope)

/** A message body: one envelope, or several sent together. */
const CommandBodyJson = Schema.parseJson(Schema.Union(CommandEnvelope, Schema.NonEmptyArray(CommandEnvelope)))

/**
 * A command (or a reply, which is a command too) and the durable queue it travels on. `version` is
 * the payload's schema version: a consumer sends other versions to the dead-letter queue rather than
 * guessing, so a breaking change ships as a new version (or type) on its own queue next to the old one.
 */
export interface Command<Type extends string, A, I> {
  readonly type: Type
  readonly version: number
  readonly queue: string
  readonly payload: Schema.Schema<A, I>
}

/**
 * ```ts
 * export const ReserveCart = defineCommand("cart.reserve", Schema.Struct({ cartId: CartId, orderId: OrderId }))
 * ```
 */
export const defineCommand = <const Type extends string, A, I>(
  type: Type,
  payload: Schema.Schema<A, I>,
  options: { readonly version?: number; readonly queue?: string } = {},
): Command<Type, A, I> => ({ type, version: options.version ?? 1, queue: options.queue ?? type, payload })

export { formatParseError }

/** The envelopes of a message body, one or several. */
export const decodeEnvelopes = (body: string): Either.Either<ReadonlyArray<CommandEnvelope>, string> =>
  Schema.decodeUnknownEither(CommandBodyJson)(body).pipe(
    Either.map((decoded) => ("id" in decoded ? [decoded] : decoded)),
    Either.mapLeft(formatParseError),
  )

/** The payload of an envelope for `command`, or why it cannot be handled. */
const decodePayload = <T extends string, A, I>(command: Command<T, A, I>, envelope: CommandEnvelope) =>
  Either.gen(function* () {
    if (envelope.type !== command.type) return yield* Either.left(`expected type ${command.type}, got ${envelope.type}`)
    if (envelope.version !== command.version) {
      return yield* Either.left(
        `unsupported version ${envelope.version} of ${command.type} (expected ${command.version})`,
      )
    }
    const payload = yield* Schema.decodeUnknownEither(command.payload)(envelope.payload).pipe(
      Either.mapLeft(formatParseError),
    )
    return { envelope, payload }
  })

/**
 * The envelopes and payloads of a message for `command`, or why it cannot be handled: one malformed
 * envelope makes the whole message malformed (a sender of this bus never mixes them).
 */
export const decodeCommands = <T extends string, A, I>(command: Command<T, A, I>, body: string) =>
  Either.flatMap(decodeEnvelopes(body), (envelopes) =>
    Either.all(envelopes.map((envelope) => decodePayload(command, envelope))),
  )
