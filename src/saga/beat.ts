/**
 * A shared beat: the effect `makeBeat` returns completes at the next beat, for every fiber waiting on it
 * at once. The first waiter of a beat starts its timer, so an idle beat costs nothing.
 */
import { Deferred, Effect, FiberId } from "effect"

export const makeBeat = (millis: number) => {
  let next: Deferred.Deferred<void> | undefined
  return Effect.suspend(() => {
    if (next !== undefined) return Deferred.await(next)
    const beat = Deferred.unsafeMake<void>(FiberId.none)
    next = beat
    setTimeout(() => {
      next = undefined
      Deferred.unsafeDone(beat, Effect.void)
    }, millis)
    return Deferred.await(beat)
  })
}
