/**
 * Structured logs: one JSON object per line on stdout, carrying the service name, the log
 * annotations in scope (request id, saga id …) and the open spans.
 */
import { Cause, Effect, HashMap, Layer, List, Logger } from "effect"
import { logLevel } from "./config.ts"

const toJsonValue = (value: unknown): unknown => (value instanceof Error ? value.message : value)

export const jsonLogger = (service: string) =>
  Logger.make(({ logLevel, message, annotations, cause, date, spans }) => {
    const line: Record<string, unknown> = {
      time: date.toISOString(),
      level: logLevel.label,
      service,
      message: Array.isArray(message) && message.length === 1 ? toJsonValue(message[0]) : message,
    }
    for (const [key, value] of HashMap.toEntries(annotations)) line[key] = toJsonValue(value)
    if (!List.isNil(spans)) line.spans = List.toArray(spans).map((span) => span.label)
    if (!Cause.isEmpty(cause)) line.cause = Cause.pretty(cause, { renderErrorCause: true })
    globalThis.console.log(JSON.stringify(line))
  })

/** Replaces the default logger with the JSON one and applies LOG_LEVEL when set. */
export const LoggingLive = (service: string) =>
  Layer.merge(
    Logger.replace(Logger.defaultLogger, jsonLogger(service)),
    Layer.unwrapEffect(
      Effect.map(logLevel, (level) => (level === undefined ? Layer.empty : Logger.minimumLogLevel(level))),
    ),
  )
