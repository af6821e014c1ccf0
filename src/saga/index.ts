/**
 * A small durable saga engine: named steps, each with an action, a result Schema and a compensation,
 * run in order; a failure unwinds the completed steps in reverse. Every step start and outcome is
 * written to a SagaLog before the next begins, so `run` can be called again after a crash and resumes
 * where the log stops — forward, or compensating. Interruption (a shutdown) records nothing: the
 * interrupted step runs again on resume, so actions and compensations must be idempotent by
 * (saga id, step). The shape follows @effect/workflow's activities so a later move stays possible.
 */
import { Data, Duration, Effect, Option, type ParseResult, Schedule, Schema } from "effect"
import { sagaStepDuration, sagaStepRetries } from "../metrics.ts"
import { SagaFailure, SagaLog, type SagaLogError, type SagaRecord, type SagaState } from "./log.ts"

export interface StepContext<Input, Results> {
  readonly sagaId: string
  readonly input: Input
  readonly results: Results
  /** Idempotency key for calls this step makes: `${sagaId}:${step}`. */
  readonly key: string
}

export interface StepDefinition<Input, Results, A, I, E, R> {
  readonly result: Schema.Schema<A, I>
  readonly action: (context: StepContext<Input, Results>) => Effect.Effect<A, E, R>
  /**
   * Undo the step. `result` is None when the action's outcome is unknown (it was started but its
   * completion never reached the log), so a compensation must be safe whether or not it happened.
   */
  readonly compensate?: (
    context: StepContext<Input, Results>,
    result: Option.Option<A>,
  ) => Effect.Effect<void, unknown, R>
  /** Errors worth retrying before they count as the step's failure (transport faults, timeouts). */
  readonly isTransient?: (error: E | StepTimeout) => boolean
  readonly retry?: Schedule.Schedule<unknown, E | StepTimeout>
  readonly compensationRetry?: Schedule.Schedule<unknown, unknown>
  /**
   * Fails an attempt that runs longer with StepTimeout. None by default: an Effect timeout forks two fibers
   * per attempt (measured: ~0.25 ms of CPU per saga of five steps), so a step whose calls carry their own
   * timeouts goes without, and the runner bounds the whole run (src/saga/runner.ts `runTimeout`).
   */
  readonly timeout?: Duration.DurationInput
}

export class StepTimeout extends Schema.TaggedError<StepTimeout>()("StepTimeout", {
  step: Schema.String,
  millis: Schema.Number,
}) {}

interface AnyStep<R> {
  readonly name: string
  readonly definition: StepDefinition<unknown, Record<string, unknown>, unknown, unknown, unknown, R>
}

type FailureHandler<R> = (
  context: StepContext<unknown, Record<string, unknown>>,
  failure: SagaFailure,
) => Effect.Effect<void, unknown, R>

export interface SagaOutcome {
  readonly sagaId: string
  readonly state: Extract<SagaState, "completed" | "failed">
  readonly failure: Option.Option<SagaFailure>
  readonly results: Record<string, unknown>
}

const defaultRetry = Schedule.exponential("50 millis", 2).pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(4)),
)
/** Compensations must eventually succeed; beyond this the saga stays compensating for the next recovery pass. */
const compensationRetry = Schedule.exponential("100 millis", 2).pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(6)),
)

const describe = (step: string, error: unknown, outcomeUnknown: boolean): SagaFailure => {
  if (typeof error === "object" && error !== null && "_tag" in error) {
    const tagged = error as { _tag: unknown; message?: unknown }
    const { _tag, ...detail } = tagged as Record<string, unknown>
    return new SagaFailure({
      step,
      tag: String(_tag),
      message: typeof tagged.message === "string" && tagged.message.length > 0 ? tagged.message : String(_tag),
      detail,
      outcomeUnknown,
    })
  }
  return new SagaFailure({ step, tag: "StepFailed", message: String(error), outcomeUnknown })
}

/** A saga definition: an ordered list of steps whose results accumulate into `Results`. */
export class Saga<Input, Results extends Record<string, unknown>, R> {
  constructor(
    readonly name: string,
    readonly decodeInput: (input: unknown) => Effect.Effect<Input, ParseResult.ParseError>,
    /** The input as the log stores it (checked against the input Schema: a wrong input fails here). */
    readonly encodeInput: (input: unknown) => Effect.Effect<unknown, ParseResult.ParseError>,
    readonly steps: ReadonlyArray<AnyStep<R>>,
    readonly failureHandler?: FailureHandler<R>,
  ) {}

  /**
   * Runs after the unwind and before the saga is marked failed (so it runs again on resume if the
   * process dies in between): the place to record the failure in the owning aggregate. Idempotent.
   */
  onFailed<R2>(
    handler: (context: StepContext<Input, Partial<Results>>, failure: SagaFailure) => Effect.Effect<void, unknown, R2>,
  ): Saga<Input, Results, R | R2> {
    return new Saga<Input, Results, R | R2>(
      this.name,
      this.decodeInput,
      this.encodeInput,
      this.steps,
      handler as unknown as FailureHandler<R | R2>,
    )
  }

  step<const K extends string, A, I, E, R2>(
    name: K,
    definition: StepDefinition<Input, Results, A, I, E, R2>,
  ): Saga<Input, Results & { readonly [k in K]: A }, R | R2> {
    return new Saga(
      this.name,
      this.decodeInput,
      this.encodeInput,
      [...this.steps, { name, definition: definition as unknown as AnyStep<R | R2>["definition"] }],
      this.failureHandler,
    )
  }
}

export const make = <Input, I>(name: string, input: Schema.Schema<Input, I>) =>
  new Saga<Input, {}, never>(name, Schema.decodeUnknown(input), Schema.encodeUnknown(input), [])

/** A compensation kept failing; the saga stays compensating and the next recovery pass retries it. */
export class CompensationIncomplete extends Data.TaggedError("CompensationIncomplete")<{
  readonly sagaId: string
  readonly step: string
  readonly cause: unknown
}> {}

/**
 * Drives saga `sagaId` (already created in the log) to a terminal state, resuming from its record.
 * Fails with SagaLogError (the log is unreachable, or this process lost the lease) or
 * CompensationIncomplete; either way the log still says where to resume.
 */
export const run = <Input, Results extends Record<string, unknown>, R>(
  saga: Saga<Input, Results, R>,
  sagaId: string,
  options: {
    readonly service?: string
    /**
     * The encoded input of a saga this process has just created (running, its lease ours, no step
     * logged — or, with `firstStepStarted`, its first step logged as started in the creating statement):
     * its record is known, so it is not read back from the log.
     */
    readonly created?: { readonly input: unknown; readonly firstStepStarted?: boolean }
    /** Waited for before each forward step acts, given its name (the beat the sagas at a step act together on). */
    readonly beforeStep?: (step: string) => Effect.Effect<void>
    /** How a step without a `retry` of its own retries transient errors (default: 4 retries from 50 ms). */
    readonly retry?: Schedule.Schedule<unknown, unknown>
  } = {},
): Effect.Effect<SagaOutcome, SagaLogError | CompensationIncomplete, R | SagaLog> =>
  Effect.gen(function* () {
    const service = options.service ?? ""
    /** Records how long a step (or its compensation) took and how it ended. */
    const timed = <A, E, R2>(step: string, effect: Effect.Effect<A, E, R2>) =>
      Effect.suspend(() => {
        const started = performance.now()
        return Effect.onExit(effect, (exit) =>
          Effect.sync(() =>
            sagaStepDuration.record(
              { service, saga: saga.name, step, outcome: exit._tag === "Success" ? "ok" : "failed" },
              (performance.now() - started) / 1000,
            ),
          ),
        )
      })
    const log = yield* SagaLog
    const created = options.created
    const record: SagaRecord =
      created === undefined
        ? yield* log.load(sagaId)
        : {
            id: sagaId,
            name: saga.name,
            input: created.input,
            state: "running",
            failure: Option.none(),
            steps:
              created.firstStepStarted === true && saga.steps[0] !== undefined
                ? { [saga.steps[0].name]: { action: "started", result: null, compensated: false } }
                : {},
          }
    const input = yield* saga.decodeInput(record.input).pipe(Effect.orDie)
    const results: Record<string, unknown> = {}
    const contextFor = (step: string): StepContext<unknown, Record<string, unknown>> => ({
      sagaId,
      input,
      results,
      key: `${sagaId}:${step}`,
    })

    // Results already in the log are decoded once, so later steps and compensations see them.
    for (const step of saga.steps) {
      const entry = record.steps[step.name]
      if (entry?.action === "completed") {
        results[step.name] = yield* Schema.decodeUnknown(step.definition.result)(entry.result).pipe(Effect.orDie)
      }
    }

    let failure: Option.Option<SagaFailure> = record.failure
    if (record.state === "completed" || record.state === "failed") {
      return { sagaId, state: record.state, failure, results } satisfies SagaOutcome
    }
    if (record.state === "running") {
      // Steps complete in order, so what is left is the steps after the last completed one. A step's
      // completion and the next step's start (or, after the last, the saga's completion) are one write.
      const remaining = saga.steps.filter((step) => record.steps[step.name]?.action !== "completed")
      if (remaining.length === 0) {
        yield* log.finish(sagaId, "completed", Option.none())
        return { sagaId, state: "completed", failure, results } satisfies SagaOutcome
      }
      for (const [index, step] of remaining.entries()) {
        const definition = step.definition
        if (index === 0 && record.steps[step.name]?.action !== "started") yield* log.stepStarted(sagaId, step.name)
        const timeout = definition.timeout
        const isTransient = definition.isTransient ?? ((error: unknown) => error instanceof StepTimeout)
        if (options.beforeStep !== undefined) yield* options.beforeStep(step.name)
        const action = definition.action(contextFor(step.name))
        const attempt = (
          timeout === undefined
            ? action
            : Effect.timeoutFail(action, {
                duration: timeout,
                onTimeout: () => new StepTimeout({ step: step.name, millis: Duration.toMillis(timeout) }),
              })
        ).pipe(
          Effect.tapError((error) =>
            Effect.sync(() => {
              if (isTransient(error)) sagaStepRetries.add({ service, saga: saga.name, step: step.name })
            }),
          ),
        )
        const outcome = yield* attempt.pipe(
          Effect.retry({ schedule: definition.retry ?? options.retry ?? defaultRetry, while: isTransient }),
          (effect) => timed(step.name, effect),
          Effect.either,
          Effect.withSpan(`Saga.${saga.name}.${step.name}`, { attributes: { sagaId } }),
        )
        if (outcome._tag === "Right") {
          const encoded = yield* Schema.encode(definition.result)(outcome.right).pipe(Effect.orDie)
          const next = remaining[index + 1]
          yield* log.stepCompletedThen(
            sagaId,
            step.name,
            encoded,
            next === undefined ? "finish" : { started: next.name },
          )
          results[step.name] = outcome.right
          continue
        }
        const reason = describe(step.name, outcome.left, isTransient(outcome.left))
        yield* log.stepFailed(sagaId, step.name, reason)
        failure = Option.some(reason)
        break
      }
      if (Option.isNone(failure)) {
        return { sagaId, state: "completed", failure, results } satisfies SagaOutcome
      }
    }

    // Unwind in reverse: completed steps, and those whose outcome is unknown (started with no recorded
    // outcome, or failed on a transient error after its retries). A step that failed on a domain error
    // did nothing and needs no undo.
    const latest = yield* log.load(sagaId)
    const unknownFailure = Option.filter(failure, (f) => f.outcomeUnknown).pipe(Option.map((f) => f.step))
    for (const step of [...saga.steps].reverse()) {
      const entry = latest.steps[step.name]
      if (entry === undefined || entry.compensated) continue
      if (entry.action === "failed" && !Option.contains(unknownFailure, step.name)) continue
      const compensate = step.definition.compensate
      if (compensate !== undefined) {
        const known = entry.action === "completed" ? Option.some(results[step.name]) : Option.none()
        yield* compensate(contextFor(step.name), known).pipe(
          Effect.retry(step.definition.compensationRetry ?? compensationRetry),
          (effect) => timed(`${step.name}.compensate`, effect),
          Effect.withSpan(`Saga.${saga.name}.${step.name}.compensate`, { attributes: { sagaId } }),
          Effect.mapError((cause) => new CompensationIncomplete({ sagaId, step: step.name, cause })),
        )
      }
      yield* log.stepCompensated(sagaId, step.name)
    }
    const handler = saga.failureHandler
    if (handler !== undefined) {
      const reason = Option.getOrElse(
        failure,
        () => new SagaFailure({ step: "*", tag: "Unknown", message: "failed without a recorded reason" }),
      )
      yield* handler(contextFor("failed"), reason).pipe(
        Effect.retry(compensationRetry),
        Effect.mapError((cause) => new CompensationIncomplete({ sagaId, step: "onFailed", cause })),
      )
    }
    yield* log.finish(sagaId, "failed", failure)
    return { sagaId, state: "failed", failure, results } satisfies SagaOutcome
  })

export { SagaFailure }
