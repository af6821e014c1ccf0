/**
 * The beats saga steps act on. A beat completes, for every fiber waiting on it at once, at its next tick;
 * ticks fall `millis` apart at `offset` past each multiple of `millis` on the clock. Only a beat someone
 * waits on has a timer, so an idle beat costs nothing.
 *
 * Each step of a saga gets its own beat and the steps' ticks are spread evenly over the period: the sagas
 * at one step still go on together (their calls and log writes share statements), while different steps
 * act at different moments, so no process meets every step's work in one burst that keeps a request
 * waiting, and a saga done with a step waits for the next step's tick, not for a whole period.
 */
import { Deferred, Effect, FiberId } from "effect"

export const makeBeat = (millis: number, offset = 0): Effect.Effect<void> => {
  let next: Deferred.Deferred<void> | undefined
  return Effect.suspend(() => {
    if (next !== undefined) return Deferred.await(next)
    const beat = Deferred.unsafeMake<void>(FiberId.none)
    next = beat
    const untilTick = (((offset - Date.now()) % millis) + millis) % millis
    setTimeout(() => {
      next = undefined
      Deferred.unsafeDone(beat, Effect.void)
    }, untilTick)
    return Deferred.await(beat)
  })
}

/** One beat per step name, in the order given, their ticks `millis / steps.length` apart. */
export const makeStepBeats = (millis: number, steps: ReadonlyArray<string>) => {
  const names = [...new Set(steps)]
  const beats = new Map(names.map((name, index) => [name, makeBeat(millis, (index * millis) / names.length)]))
  const other = makeBeat(millis)
  return (step: string): Effect.Effect<void> => beats.get(step) ?? other
}
