/**
 * The versioned envelope every command travels in: `{ type, version, id, occurredAt, replyTo?,
 * correlationId?, payload }` as JSON (the same shape as the event envelope, plus the reply fields).
 * This file imports only Effect, so a service's contract in rpc/ can declare its commands with
 * `defineCommand` without pulling in a broker client.
 */
import { Either, ParseResult, Schema } from "effect"

export const CommandEnvelope = Schema.Struct({
  type: Schema.NonEmptyTrimmedString,
  version: Schema.Int.pipe(Schema.positive()),
  /** Idempotency id, chosen by the sender; deterministic ids (`${sagaId}:${step}`) make re-sends harmless. */
  id: Schema.NonEmptyTrimmedString,
  occurredAt: Schema.DateTimeUtc,
  /** The queue a reply goes to. */
  replyTo: Schema.optionalWith(Schema.NonEmptyTrimmedString, { exact: true }),
  /** On a reply: the id of the command it answers. */
  correlationId: Schema.optionalWith(Schema.NonEmptyTrimmedString, { exact: true }),
  /** Still in its encoded (JSON) form: only the command's definition knows its Schema. */
  payload: Schema.Unknown,
})
export type CommandEnvelope = typeof CommandEnvelope.Type

/** The envelope as the JSON text of a message body. */
export const CommandEnvelopeJson = Schema.parseJson(CommandEnvelope)

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

/** One line per issue (`path: message`), short enough for a header and a log line. */
export const formatParseError = (error: ParseResult.ParseError) =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message))
    .join("; ")

export const decodeEnvelope = (body: string) =>
  Schema.decodeUnknownEither(CommandEnvelopeJson)(body).pipe(Either.mapLeft(formatParseError))

/** The envelope and payload of a message for `command`, or why it cannot be handled. */
export const decodeCommand = <T extends string, A, I>(command: Command<T, A, I>, body: string) =>
  Either.gen(function* () {
    const envelope = yield* decodeEnvelope(body)
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
