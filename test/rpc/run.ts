/**
 * Runs an Effect as a bun test body through a runtime built once per suite: any failure or defect
 * fails the test with its full cause.
 */
import { Cause, type Effect, Exit, type Layer, ManagedRuntime } from "effect"

export const suiteRuntime = <R, E>(layer: Layer.Layer<R, E>) => {
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
