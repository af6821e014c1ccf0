/**
 * Releases reservations whose hold ran out. A scoped fiber looks every interval for live reservations
 * past `expires_at` and hands them to the StockWriter as expiries, a small batch at a time, so expiry
 * goes through the same single writer (and version guard) as every other stock change. Two replicas
 * sweeping the same reservation is harmless: an expiry of a reservation no longer live changes nothing.
 */
import { Clock, Duration, Effect, Schedule } from "effect"
import { sweepBatch, sweepIntervalMillis } from "./config.ts"
import { StockRepository } from "./repository.ts"
import { StockWriter } from "./stock-writer.ts"

/** A sweep stops after this many full rounds and leaves the rest to the next tick, so one tick stays short. */
const maxRoundsPerSweep = 20

export class ExpirySweeper extends Effect.Service<ExpirySweeper>()("inventory/ExpirySweeper", {
  scoped: Effect.gen(function* () {
    const repository = yield* StockRepository
    const writer = yield* StockWriter
    const batch = yield* sweepBatch
    const interval = Duration.millis(yield* sweepIntervalMillis)

    /** Releases what has expired by now; returns how many reservations it released. */
    const sweepOnce = Effect.fn("Inventory.sweepExpired")(function* () {
      let released = 0
      for (let round = 0; round < maxRoundsPerSweep; round++) {
        const now = new Date(yield* Clock.currentTimeMillis)
        const ids = yield* repository.expiredReservations(now, batch).pipe(Effect.orDie)
        const results = yield* Effect.forEach(ids, (id) => Effect.either(writer.expire(id)), {
          concurrency: "unbounded",
        })
        released += results.filter((result) => result._tag === "Right" && result.right.status === "released").length
        if (ids.length < batch) break
      }
      if (released > 0) yield* Effect.logInfo("released expired reservations").pipe(Effect.annotateLogs({ released }))
      return released
    })

    yield* sweepOnce().pipe(
      // A failed sweep (database away) is logged and tried again next tick; the fiber never dies of it.
      Effect.catchAllCause((cause) => Effect.logWarning("expiry sweep failed", cause)),
      Effect.repeat(Schedule.spaced(interval)),
      Effect.forkScoped,
    )
    return { sweepOnce } as const
  }),
  dependencies: [StockRepository.Default, StockWriter.Default],
}) {}
