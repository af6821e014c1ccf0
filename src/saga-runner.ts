/**
 * Drives sagas in the background of a service: `start` runs a freshly created saga at once, and a
 * recovery loop (at start-up and then periodically) turns overdue sagas to compensating and claims
 * every non-terminal saga whose lease expired — one left by a crashed process or another replica.
 * While a saga runs (or waits for one of the runner's permits), its lease is renewed; on a graceful shutdown the running sagas are interrupted
 * (no compensation fires) and their leases released so the next process resumes them at once.
 */
import { Duration, Effect, FiberSet, Schedule } from "effect"
import * as Saga from "./saga.ts"
import { SagaLog } from "./saga-log.ts"
import { sagaRecoveries, sagaRuns, sagaStarts } from "./metrics.ts"

export interface SagaRunnerOptions {
  readonly service: string
  readonly recoveryInterval?: Duration.DurationInput
  readonly claimBatch?: number
  readonly lease?: Duration.DurationInput
  /** Sagas driven at once (default 64). */
  readonly concurrency?: number
}

type AnySaga<R> = Saga.Saga<unknown, Record<string, unknown>, R>

export const makeSagaRunner = <R>(sagas: ReadonlyArray<AnySaga<R>>, options: SagaRunnerOptions) =>
  Effect.gen(function* () {
    const log = yield* SagaLog
    const fibers = yield* FiberSet.make()
    const running = new Set<string>()
    const byName = new Map(sagas.map((saga) => [saga.name, saga]))
    const lease = Duration.decode(options.lease ?? Duration.seconds(15))
    const renewEvery = Duration.divide(lease, 3).pipe((d) => (d._tag === "Some" ? d.value : lease))
    // Bounds the sagas driven at once; the others wait with their lease held (renewed below), so new
    // requests are not starved of database connections by a burst of background work.
    const permits = yield* Effect.makeSemaphore(options.concurrency ?? 64)
    yield* Effect.forkScoped(log.renewAll.pipe(Effect.ignore, Effect.repeat(Schedule.spaced(renewEvery))))

    const drive = (id: string, saga: AnySaga<R>, origin: "start" | "recovery", created?: { readonly input: unknown }) =>
      Effect.gen(function* () {
        if (running.has(id)) return
        running.add(id)
        const body = permits
          .withPermits(1)(
            Saga.run(
              saga,
              id,
              created === undefined ? { service: options.service } : { service: options.service, created },
            ),
          )
          .pipe(
            Effect.tap((outcome) =>
              Effect.sync(() => sagaRuns.inc({ service: options.service, saga: saga.name, outcome: outcome.state })),
            ),
            Effect.tapError((error) =>
              Effect.logWarning("saga paused; the recovery loop will resume it").pipe(
                Effect.annotateLogs({ sagaId: id, error: error._tag }),
                Effect.zipRight(log.release(id).pipe(Effect.ignore)),
              ),
            ),
            Effect.onInterrupt(() => log.release(id).pipe(Effect.ignore)),
            Effect.ensuring(Effect.sync(() => running.delete(id))),
            Effect.annotateLogs({ sagaId: id, saga: saga.name, origin }),
            Effect.ignore,
          )
        yield* FiberSet.run(fibers, body)
      })

    const recover = Effect.gen(function* () {
      const overdue = yield* log.abandonOverdue
      const claimed = yield* log.claim(options.claimBatch ?? 50)
      for (const { id, name } of claimed) {
        const saga = byName.get(name)
        if (saga === undefined) {
          yield* log.release(id)
          continue
        }
        sagaRecoveries.inc({ service: options.service, saga: name })
        yield* drive(id, saga, "recovery")
      }
      if (overdue > 0 || claimed.length > 0) {
        yield* Effect.logInfo("saga recovery pass").pipe(Effect.annotateLogs({ overdue, resumed: claimed.length }))
      }
    }).pipe(
      Effect.catchAll((error) =>
        Effect.logWarning("saga recovery pass failed").pipe(Effect.annotateLogs({ error: error.message })),
      ),
    )

    yield* Effect.forkScoped(
      recover.pipe(Effect.repeat(Schedule.spaced(options.recoveryInterval ?? Duration.seconds(2)))),
    )

    return {
      /**
       * Runs a saga created in this process (its lease is already ours). Given the `input` it was created
       * with, the saga starts without reading its record back from the log.
       */
      start: (id: string, name: string, input?: unknown) => {
        const saga = byName.get(name)
        if (saga === undefined) return Effect.dieMessage(`unknown saga ${name}`)
        return Effect.zipRight(
          Effect.sync(() => sagaStarts.inc({ service: options.service, saga: name })),
          drive(id, saga, "start", input === undefined ? undefined : { input }),
        )
      },
      /** One recovery pass now (tests, and start-up). */
      recover,
      running: Effect.sync(() => running.size),
    }
  })
