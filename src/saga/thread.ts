/**
 * A service's sagas driven on a thread of their own (a Bun Worker), so the thread answering its RPCs
 * is not the one running their steps: a request that creates a saga waits neither for saga steps to
 * yield the event loop nor for the collections of their garbage (each thread has its own heap). The
 * thread keeps the process's priority: ten niceness steps below it, it fell behind at 250 checkouts/s
 * (bench/RESULTS.md).
 *
 * The service's main thread keeps what placing a saga needs — the log's `createIf` in the caller's
 * statement — and hands every started saga to the thread, which holds the same lease owner, drives it,
 * renews its lease and runs the recovery loop. The two speak @effect/rpc over the worker's messages
 * (`SagaThreadRpcs`). The thread's metrics are merged into the main thread's /metrics, and its
 * dependencies (buses, brokers) answer the main thread's /readyz checks.
 *
 * @effect/platform's worker runner ends the thread as soon as it is told to close, without running the
 * thread's finalizers; so the main thread first asks it to `Drain` — interrupt its sagas and release
 * their leases, close its pools — and only then closes it.
 */
import { WorkerRunner } from "@effect/platform"
import { BunWorker, BunWorkerRunner } from "@effect/platform-bun"
import { Rpc, RpcClient, RpcGroup, RpcServer } from "@effect/rpc"
import { Cause, Deferred, Duration, Effect, Exit, FiberSet, Layer, Schedule, Schema, Scope, Stream } from "effect"
import type { ReadinessChecks } from "../http.ts"
import { LoggingLive } from "../logging.ts"
import { addMetricsSource, registry } from "../metrics.ts"
import { SagaLog } from "./log.ts"
import type * as Saga from "./index.ts"
import { admissionUnder, sagaCreator, type SagaRunner } from "./runner.ts"

const SagaThreadState = Schema.Struct({
  load: Schema.Struct({
    inFlight: Schema.Number,
    waiting: Schema.Number,
    limit: Schema.Number,
    latencyMillis: Schema.NullOr(Schema.Number),
    maxQueueSeconds: Schema.Number,
    started: Schema.Number,
  }),
  running: Schema.Number,
})

export class SagaThreadRpcs extends RpcGroup.make(
  Rpc.make("Start", {
    payload: { id: Schema.String, name: Schema.String, input: Schema.Unknown, firstStepStarted: Schema.Boolean },
  }),
  /** The runner's load and running count, every `stateEveryMillis`. */
  Rpc.make("State", { success: SagaThreadState, stream: true }),
  Rpc.make("Recover"),
  /** The thread's registry as prom-client JSON. */
  Rpc.make("Metrics", { success: Schema.Array(Schema.Unknown) }),
  Rpc.make("Ready", { payload: { check: Schema.String }, error: Schema.String }),
  Rpc.make("Drain"),
) {}

const stateEveryMillis = 100

/** Where the main thread hands its saga thread the lease owner, so both write as one owner. */
const ownerVariable = "SAGA_THREAD_LEASE_OWNER"

/** On a saga thread, the lease owner of the main thread's saga log. */
export const sagaThreadOwner = (): string | undefined => process.env[ownerVariable]

/**
 * The body of a saga thread (the worker's entry file calls it): builds `layer`, takes its runner from
 * `runner`, and serves the main thread until it is drained and closed.
 */
export const runSagaThread = <R, E>(options: {
  readonly service: string
  readonly layer: Layer.Layer<R, E>
  readonly runner: Effect.Effect<SagaRunner, never, R>
  readonly checks: ReadinessChecks<R>
}) =>
  Effect.gen(function* () {
    const appScope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(options.layer, appScope)
    const runner = yield* Effect.provide(options.runner, context)
    const state = Effect.all({ load: runner.load, running: runner.running })
    const handlers = SagaThreadRpcs.toLayer({
      Start: ({ id, name, input, firstStepStarted }) => runner.start(id, name, input, firstStepStarted),
      State: () => Stream.repeatEffectWithSchedule(state, Schedule.spaced(Duration.millis(stateEveryMillis))),
      Recover: () => runner.recover,
      Metrics: () => Effect.promise(() => registry.getMetricsAsJSON()),
      Ready: ({ check }) => {
        const probe = options.checks[check]
        if (probe === undefined) return Effect.fail(`no check ${check}`)
        return probe.pipe(
          Effect.provide(context),
          Effect.timeout(Duration.seconds(2)),
          Effect.asVoid,
          Effect.catchAllCause((cause) => Effect.fail(Cause.pretty(cause).split("\n")[0] ?? "failed")),
        )
      },
      Drain: () => Scope.close(appScope, Exit.void),
    })
    return yield* WorkerRunner.launch(
      RpcServer.layer(SagaThreadRpcs, { disableTracing: true }).pipe(
        Layer.provide(handlers),
        Layer.provide(RpcServer.layerProtocolWorkerRunner),
        Layer.provide(BunWorkerRunner.layer),
      ),
    )
  }).pipe(
    Effect.scoped,
    Effect.tapErrorCause((cause) => Effect.logError("saga thread failed", cause)),
    Effect.provide(LoggingLive(options.service)),
    Effect.runFork,
  )

/**
 * A runner for `sagas` whose sagas run on a thread started from `entry` (a module calling
 * `runSagaThread`): creating a saga stays here, in the caller's statement; its start, the admission and
 * the recovery are the thread's. Without its saga thread the service cannot keep its promises, so when
 * the thread's answers stop this process shuts down (gracefully) for its supervisor to restart it.
 */
export const makeSagaThreadRunner = <R>(
  sagas: ReadonlyArray<Saga.Saga<unknown, Record<string, unknown>, R>>,
  options: { readonly entry: string | URL; readonly startWithin?: Duration.DurationInput },
) =>
  Effect.gen(function* () {
    const log = yield* SagaLog
    const spawn = () => new Worker(options.entry, { env: { ...process.env, [ownerVariable]: log.owner } })
    const protocol = yield* Layer.build(
      RpcClient.layerProtocolWorker({ size: 1, concurrency: Number.MAX_SAFE_INTEGER }).pipe(
        Layer.provide(BunWorker.layerPlatform(spawn)),
      ),
    )
    const client = yield* RpcClient.make(SagaThreadRpcs, { disableTracing: true }).pipe(Effect.provide(protocol))
    // Registered after the protocol, so released before it: the thread drains before it is closed.
    yield* Effect.addFinalizer(() => client.Drain().pipe(Effect.timeout(Duration.seconds(10)), Effect.ignore))

    let latest: typeof SagaThreadState.Type | undefined
    // Starts handed to the thread; those its last state has not counted yet are counted here.
    let sent = 0
    const started = yield* Deferred.make<typeof SagaThreadState.Type>()
    yield* client.State().pipe(
      Stream.runForEach((next) =>
        Effect.zipRight(
          Effect.sync(() => (latest = next)),
          Deferred.succeed(started, next),
        ),
      ),
      Effect.onExit((exit) =>
        Exit.isInterrupted(exit)
          ? Effect.void
          : Effect.logError("the saga thread stopped answering; shutting down").pipe(
              Effect.zipRight(Effect.sync(() => process.kill(process.pid, "SIGTERM"))),
            ),
      ),
      Effect.ignore,
      Effect.forkScoped,
    )
    const first = yield* Deferred.await(started).pipe(
      Effect.timeoutFail({
        duration: options.startWithin ?? Duration.seconds(60),
        onTimeout: () => new Cause.TimeoutException("the saga thread did not start"),
      }),
      Effect.orDie,
    )
    yield* Effect.acquireRelease(
      Effect.sync(() => addMetricsSource(() => Effect.runPromise(client.Metrics().pipe(Effect.orDie)))),
      (remove) => Effect.sync(remove),
    )

    const fibers = yield* FiberSet.make()
    // Not awaited: the caller's answer does not wait for the saga thread to take the saga up. If the
    // message is lost the lease is given back, and the thread's recovery loop takes the saga up.
    const start = (id: string, name: string, input: unknown, firstStepStarted: boolean) =>
      Effect.zipRight(
        Effect.sync(() => sent++),
        FiberSet.run(
          fibers,
          client
            .Start({ id, name, input, firstStepStarted })
            .pipe(Effect.catchAllCause(() => log.release(id).pipe(Effect.ignore))),
        ),
      ).pipe(Effect.asVoid)

    const runner: SagaRunner = {
      create: sagaCreator(sagas, log, start),
      start: (id, name, input, firstStepStarted = false) => start(id, name, input, firstStepStarted),
      admission: Effect.sync(() => {
        const { load } = latest ?? first
        return admissionUnder(load, sent - load.started)
      }),
      load: Effect.sync(() => ({ ...(latest ?? first).load, started: sent })),
      recover: client.Recover().pipe(Effect.orDie),
      running: Effect.sync(() => (latest ?? first).running),
    }
    return {
      runner,
      /** One of the thread's readiness checks, run there: for the main thread's /readyz. */
      check: (name: string) => client.Ready({ check: name }),
    }
  })
