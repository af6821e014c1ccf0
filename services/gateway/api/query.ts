/**
 * Query parameters arrive as text and are decoded into numbers and dates. Left to itself the OpenAPI
 * document would describe each as "a string", any string; these also say what the gateway accepts, so a
 * client (or a fuzzer) sees the range of a number and the form of an instant in the document.
 */
import { Schema } from "effect"

/** A whole number from `min` to `max`, written in decimal. */
export const IntFromQuery = (min: number, max: number) =>
  Schema.NumberFromString.pipe(Schema.int(), Schema.between(min, max)).annotations({
    jsonSchema: { type: "integer", minimum: min, maximum: max },
  })

/** An instant, e.g. `2026-05-05T12:00:00Z`. */
export const InstantFromQuery = Schema.Date.annotations({
  jsonSchema: { type: "string", format: "date-time" },
  description: "An ISO 8601 instant",
})
