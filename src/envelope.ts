/**
 * What domain events (src/events/envelope.ts) and commands (src/commands/envelope.ts) share: a versioned
 * envelope `{ type, version, id, occurredAt, payload }` travelling as JSON, whose payload stays encoded
 * until the message's own definition decodes it, so one consumer can tell types and versions apart
 * before it commits to a Schema; and one short form of a decoding error for logs and dead letters.
 * Imports only Effect, so a contract in rpc/ can declare its messages without a broker client.
 */
import { ParseResult, Schema } from "effect"

/** The payload's schema version: a breaking change ships as a new version (or type), never in place. */
export const EnvelopeVersion = Schema.Int.pipe(Schema.positive())

/** When the message was made (sent, or the fact happened). */
export const EnvelopeOccurredAt = Schema.DateTimeUtc

/** Still in its encoded (JSON) form: only the message's definition knows its Schema. */
export const EnvelopePayload = Schema.Unknown

/** One line per issue (`path: message`), short enough for a header and a log line. */
export const formatParseError = (error: ParseResult.ParseError) =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message))
    .join("; ")
