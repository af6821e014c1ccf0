/**
 * Drives sagas in the background of a service: `start` runs a freshly created saga at once, and a
 * recovery loop (at start-up and then periodically) turns overdue sagas to compensating and claims
 * every non-terminal saga whose lease expired — one left by a crashed process or another replica.
 * While a saga runs (or waits for one of the runner's permits), its lease is renewed; on a graceful
 * shutdown the running sagas are interrupted (no compensation fires) and their leases released so the
 * next process resumes them at once.
 *
 * How many sagas run at once follows what the services behind them complete (a gradient limit,
 * adaptive-limit.ts); the others wait for a permit. `admission` tells a caller about to create a saga
 * whether the wait has grown past `maxQueueSeconds`, and when to come back, so overload is refused up
 * front instead of accepted and left to time out.
 */
import type { Statement } from "@effect/sql"
import { Data, Duration, Effect, FiberSet, Option, Schedule, type Scope } from "effect"
import { makeGradientLimit } from "./adaptive-limit.ts"
import { makeFifoGate } from "./fifo-gate.ts"
import { makeStepBeats } from "./beat.ts"
import * as Saga from "./index.ts"
import { SagaLog } from "./log.ts"
import { sagaConcurrencyLimit, sagaRecoveries, sagaRuns, sagaStarts, watchSagaQueue } from "../metrics.ts"

export interface SagaRunnerOptions {
  readonly service: string
  readonly recoveryInterval?: Duration.DurationInput
  readonly claimBatch?: number
  readonly lease?: Duration.DurationInput
  /**
   * Bounds of the sagas driven at once; the limit moves between them (default 4 to 256, from 16), and
   * does not shrink while sagas take less than `latencyFloorMillis` (default 1 s, plus a beat per step). Work
   * that is batched gets cheaper per saga the more sagas run at once, so shrinking early costs throughput:
   * with a 100 ms floor the mesh confirmed 137/s at 225/s offered, with 1 s 221/s (bench/RESULTS.md).
   */
  readonly concurrency?: {
    readonly min?: number
    readonly max?: number
    readonly initial?: number
    readonly latencyFloorMillis?: number
  }
  /** `admission` refuses once the sagas waiting for a permit would wait longer than this (default 3 s). */
  readonly maxQueueSeconds?: number
  /**
   * Steps set off on beats of this many milliseconds (default 0: each at once), one beat per step with the
   * steps' ticks spread over the period (beat.ts). The sagas reaching a step within one beat act together,
   * so their calls and log writes reach the services' group commits at the same moment and share
   * statements and round trips; the different steps act at different moments, so their work does not pile
   * into one burst in front of the requests the same processes serve.
   */
  readonly stepBeatMillis?: number
  /** How steps without a `retry` of their own retry transient errors (the engine's default otherwise). */
  readonly stepRetry?: Schedule.Schedule<unknown, unknown>
  /**
   * A run taking longer than this (default 2 minutes) is interrupted and its lease released, so a step that
   * hangs cannot hold its saga for ever: the recovery loop resumes it, or compensates it once overdue. One
   * bound per run, not one timeout per step (which costs two fibers each).
   */
  readonly runTimeout?: Duration.DurationInput
}

type AnySaga<R> = Saga.Saga<unknown, Record<string, unknown>, R>

/** How loaded a runner is: what its admission decides on. */
export interface SagaLoad {
  /** Sagas holding a permit, and waiting for one. */
  readonly inFlight: number
  readonly waiting: number
  readonly limit: number
  /** How long recent runs took, once one has finished. */
  readonly latencyMillis: number | null
  readonly maxQueueSeconds: number
  /** Sagas started so far. */
  readonly started: number
}

/**
 * None when a new saga may be created under `load`; otherwise the seconds after which to try again,
 * because the sagas waiting would keep it waiting longer than `maxQueueSeconds` (Little's law over the
 * recent latency; a second per saga until one has finished). `unseen` sagas were started since `load`
 * was taken (on another thread): they take permits first, or wait.
 */
export const admissionUnder = (load: SagaLoad, unseen = 0): Option.Option<number> => {
  const waiting = Math.max(load.waiting, load.inFlight + load.waiting + unseen - load.limit)
  const wait = waiting <= 0 ? 0 : (waiting * (load.latencyMillis ?? 1000)) / 1000 / Math.max(1, load.limit)
  return wait <= load.maxQueueSeconds
    ? Option.none()
    : Option.some(Math.min(60, Math.ceil(wait - load.maxQueueSeconds)))
}

/** A saga created as parts of the caller's statement, and its start once that statement committed. */
export interface CreatedSaga {
  readonly createIf: (onlyIf: Statement.Fragment) => ReadonlyArray<Statement.Fragment>
  readonly start: Effect.Effect<void>
}

/** What a service's code sees of the runner driving its sagas, in its own thread or in another one (thread.ts). */
export interface SagaRunner {
  /**
   * Saga `name` for `input`, created as parts of the caller's single statement (only when `onlyIf`,
   * an SQL condition over the caller's other parts, holds) with its first step logged as started, and
   * the start to run once that statement committed and did create it. The caller hands the decoded
   * input; the log gets it encoded.
   */
  readonly create: (name: string, id: string, input: unknown, deadline: Date) => Effect.Effect<CreatedSaga>
  /**
   * Runs a saga created in this process (its lease is already ours). Given the `input` it was created
   * with (encoded), the saga starts without reading its record back from the log.
   */
  readonly start: (id: string, name: string, input?: unknown, firstStepStarted?: boolean) => Effect.Effect<void>
  /** None when a new saga may be created now; otherwise the seconds after which to try again (`admissionUnder`). */
  readonly admission: Effect.Effect<Option.Option<number>>
  readonly load: Effect.Effect<SagaLoad>
  /** One recovery pass now (tests, and start-up). */
  readonly recover: Effect.Effect<void>
  readonly running: Effect.Effect<number>
}

/**
 * The `create` of a runner whose sagas start through `start`: the saga's input encoded with its own
 * Schema, its row and first step as parts of the caller's statement.
 */
export const sagaCreator =
  <R>(
    sagas: ReadonlyArray<AnySaga<R>>,
    log: SagaLog["Type"],
    start: (id: string, name: string, input: unknown, firstStepStarted: boolean) => Effect.Effect<void>,
  ): SagaRunner["create"] =>
  (name, id, input, deadline) =>
    Effect.gen(function* () {
      const saga = sagas.find((candidate) => candidate.name === name)
      if (saga === undefined) return yield* Effect.dieMessage(`unknown saga ${name}`)
      const createIf = log.createIf
      if (createIf === undefined) return yield* Effect.dieMessage("creating a saga in a statement needs a SQL saga log")
      const encoded = yield* Effect.orDie(saga.encodeInput(input))
      const firstStep = saga.steps[0]?.name
      return {
        createIf: (onlyIf: Statement.Fragment) => createIf(id, name, encoded, deadline, onlyIf, firstStep),
        start: start(id, name, encoded, firstStep !== undefined),
      }
    })

/** A run outlasted the runner's `runTimeout`: it was interrupted and its saga is left to the recovery loop. */
export class RunTimedOut extends Data.TaggedError("RunTimedOut")<{
  readonly sagaId: string
  readonly millis: number
}> {}

export const makeSagaRunner = <R>(
  sagas: ReadonlyArray<AnySaga<R>>,
  options: SagaRunnerOptions,
): Effect.Effect<SagaRunner, never, R | SagaLog | Scope.Scope> =>
  Effect.gen(function* () {
    const log = yield* SagaLog
    const context = yield* Effect.context<R | SagaLog>()
    const fibers = yield* FiberSet.make()
    const running = new Set<string>()
    const byName = new Map(sagas.map((saga) => [saga.name, saga]))
    const lease = Duration.decode(options.lease ?? Duration.seconds(15))
    const renewEvery = Duration.divide(lease, 3).pipe((d) => (d._tag === "Some" ? d.value : lease))
    // Bounds the sagas driven at once; the others wait with their lease held (renewed below), so the
    // services behind are not flooded past what they complete and new requests keep their share.
    const max = options.concurrency?.max ?? 256
    const beatMillis = options.stepBeatMillis ?? 0
    const limiter = makeGradientLimit({
      initial: Math.min(max, options.concurrency?.initial ?? 16),
      min: Math.min(max, options.concurrency?.min ?? 4),
      max,
      // Waiting for the beat before each step is latency by design, not a sign of queueing.
      floorMillis:
        (options.concurrency?.latencyFloorMillis ?? 1_000) +
        beatMillis * Math.max(0, ...sagas.map((saga) => saga.steps.length)),
    })
    const gate = makeFifoGate(limiter.limit())
    const maxQueueSeconds = options.maxQueueSeconds ?? 3
    const labels = { service: options.service }
    sagaConcurrencyLimit.set(labels, limiter.limit())
    watchSagaQueue(options.service, gate.waiting)

    let started = 0
    const load = Effect.sync(
      (): SagaLoad => ({
        inFlight: gate.inFlight(),
        waiting: gate.waiting(),
        limit: limiter.limit(),
        latencyMillis: limiter.recentLatency() ?? null,
        maxQueueSeconds,
        started,
      }),
    )

    /** Runs a saga under a permit, and feeds how long it took to the limit. */
    const admitted = <A, E, R2>(run: Effect.Effect<A, E, R2>) =>
      gate.withPermit(
        Effect.suspend(() => {
          const began = performance.now()
          return Effect.tap(run, () =>
            Effect.sync(() => {
              const before = limiter.limit()
              const after = limiter.sample(performance.now() - began, gate.inFlight(), Date.now())
              if (after === before) return
              sagaConcurrencyLimit.set(labels, after)
              gate.resize(after)
            }),
          )
        }),
      )
    yield* Effect.forkScoped(log.renewAll.pipe(Effect.ignore, Effect.repeat(Schedule.spaced(renewEvery))))

    const runTimeout = Duration.decode(options.runTimeout ?? Duration.minutes(2))
    const stepBeat =
      beatMillis > 0
        ? makeStepBeats(
            beatMillis,
            sagas.flatMap((saga) => saga.steps.map((step) => step.name)),
          )
        : undefined

    const drive = (
      id: string,
      saga: AnySaga<R>,
      origin: "start" | "recovery",
      created?: { readonly input: unknown; readonly firstStepStarted?: boolean },
    ) =>
      Effect.gen(function* () {
        if (running.has(id)) return
        running.add(id)
        const body = admitted(
          Saga.run(saga, id, {
            service: options.service,
            ...(created === undefined ? {} : { created }),
            ...(stepBeat === undefined ? {} : { beforeStep: stepBeat }),
            ...(options.stepRetry === undefined ? {} : { retry: options.stepRetry }),
          }).pipe(
            Effect.timeoutFail({
              duration: runTimeout,
              onTimeout: () => new RunTimedOut({ sagaId: id, millis: Duration.toMillis(runTimeout) }),
            }),
          ),
        ).pipe(
          Effect.tap((outcome) =>
            Effect.sync(() => sagaRuns.add({ service: options.service, saga: saga.name, outcome: outcome.state })),
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
        yield* FiberSet.run(fibers, Effect.provide(body, context))
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

    const start = (id: string, name: string, input?: unknown, firstStepStarted = false) => {
      const saga = byName.get(name)
      if (saga === undefined) return Effect.dieMessage(`unknown saga ${name}`)
      return Effect.zipRight(
        Effect.sync(() => {
          started++
          sagaStarts.add({ service: options.service, saga: name })
        }),
        drive(id, saga, "start", input === undefined ? undefined : { input, firstStepStarted }),
      )
    }

    return {
      create: sagaCreator(sagas, log, start),
      start,
      admission: Effect.map(load, (now) => admissionUnder(now)),
      load,
      recover,
      running: Effect.sync(() => running.size),
    }
  })
