/**
 * Launching a service process: JSON logs, a hard deadline for draining after SIGTERM/SIGINT, and
 * one "ready" log line once every Layer (database, buses, servers) is up.
 */
import { BunRuntime } from "@effect/platform-bun"
import { Effect, Layer } from "effect"
import { shutdownGraceMillis, type ServiceName } from "./config.ts"
import { LoggingLive } from "./logging.ts"

/**
 * BunRuntime interrupts the main fiber on a signal, which closes every scope in reverse order
 * (servers stop accepting, consumers drain, pools close). If that hangs past the grace period the
 * process exits anyway, so an orchestrator's kill never has to wait on us.
 */
const ShutdownDeadline = Layer.scopedDiscard(
  Effect.gen(function* () {
    const grace = yield* shutdownGraceMillis
    const onSignal = () => {
      setTimeout(() => process.exit(1), grace).unref()
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        process.once("SIGTERM", onSignal)
        process.once("SIGINT", onSignal)
      }),
      () =>
        Effect.sync(() => {
          process.off("SIGTERM", onSignal)
          process.off("SIGINT", onSignal)
        }),
    )
  }),
)

/**
 * Builds `layer`, keeps it running until a signal arrives, then tears it down. Never returns.
 * `service` names the process in its logs ("monolith" for all services in one process).
 */
export const runService = <E>(service: ServiceName | "monolith", layer: Layer.Layer<never, E, never>) =>
  Effect.gen(function* () {
    yield* Layer.build(Layer.merge(ShutdownDeadline, layer))
    yield* Effect.logInfo("service ready").pipe(Effect.annotateLogs({ startupMillis: Math.round(performance.now()) }))
    return yield* Effect.never
  }).pipe(Effect.scoped, Effect.provide(LoggingLive(service)), (main) =>
    // The runtime's pretty logger would replace our JSON one.
    BunRuntime.runMain(main, { disablePrettyLogger: true }),
  )
