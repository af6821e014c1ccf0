/**
 * Runs an Effect as a bun test body: any failure or defect fails the test with its full cause.
 */
import { Cause, Effect, Exit, Layer, ManagedRuntime } from "effect"

export const runTest = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromiseExit(effect).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    throw new Error(Cause.pretty(exit.cause))
  })

/** A runtime over test Layers, built once per suite; call `dispose` in afterAll. */
export const testRuntime = <R, E>(layer: Layer.Layer<R, E>) => {
  const runtime = ManagedRuntime.make(layer)
  return {
    run: <A, E2>(effect: Effect.Effect<A, E2, R>): Promise<A> =>
      runtime.runPromiseExit(effect).then((exit) => {
        if (Exit.isSuccess(exit)) return exit.value
        throw new Error(Cause.pretty(exit.cause))
      }),
    dispose: () => runtime.dispose(),
  }
}
