/**
 * An in-memory SagaLog for unit tests of the engine's logic (the Postgres log has its own tests).
 */
import { Effect, Layer, Option } from "effect"
import { type SagaFailure, SagaLog, SagaLogError, type SagaRecord, type StepEntry } from "../../src/saga/log.ts"

export interface MemoryLog {
  readonly records: Map<string, SagaRecord>
  readonly events: Array<string>
}

export const makeMemoryLog = (): MemoryLog => ({ records: new Map(), events: [] })

export const memoryLogLayer = (memory: MemoryLog) =>
  Layer.succeed(
    SagaLog,
    (() => {
      const get = (id: string) =>
        Option.fromNullable(memory.records.get(id)).pipe(
          Effect.mapError(() => new SagaLogError({ reason: "not-found", sagaId: id, message: "no such saga" })),
        )
      const update = (id: string, event: string, change: (record: SagaRecord) => SagaRecord) =>
        Effect.map(get(id), (record) => {
          memory.records.set(id, change(record))
          memory.events.push(event)
        })
      const setStep = (record: SagaRecord, step: string, entry: Partial<StepEntry>): SagaRecord => ({
        ...record,
        steps: {
          ...record.steps,
          [step]: { action: "started", result: undefined, compensated: false, ...record.steps[step], ...entry },
        },
      })
      return {
        owner: "memory",
        create: (id, name, input) =>
          Effect.sync(() => {
            memory.records.set(id, { id, name, input, state: "running", failure: Option.none(), steps: {} })
          }),
        load: get,
        stepStarted: (id, step) => update(id, `started ${step}`, (r) => setStep(r, step, { action: "started" })),
        stepCompleted: (id, step, result) =>
          update(id, `completed ${step}`, (r) => setStep(r, step, { action: "completed", result })),
        stepCompletedThen: (id, step, result, next) =>
          Effect.zipRight(
            update(id, `completed ${step}`, (r) => setStep(r, step, { action: "completed", result })),
            // Suspended: `update` reads the record when it is built, and the completion must land first.
            Effect.suspend(() =>
              next === "finish"
                ? update(id, "finished completed", (r) => ({ ...r, state: "completed", failure: Option.none() }))
                : update(id, `started ${next.started}`, (r) => setStep(r, next.started, { action: "started" })),
            ),
          ),
        stepFailed: (id, step, failure: SagaFailure) =>
          update(id, `failed ${step}`, (r) => ({
            ...setStep(r, step, { action: "failed" }),
            state: "compensating",
            failure: Option.some(failure),
          })),
        stepCompensated: (id, step) =>
          update(id, `compensated ${step}`, (r) => setStep(r, step, { compensated: true })),
        finish: (id, state, failure) => update(id, `finished ${state}`, (r) => ({ ...r, state, failure })),
        claim: () => Effect.succeed([]),
        renewAll: Effect.succeed(0),
        release: () => Effect.void,
        abandonOverdue: Effect.succeed(0),
      }
    })(),
  )
