/**
 * What the saga engine writes down, and the interface of the log that keeps it. A log instance
 * belongs to one process (its `owner`): it may only write to sagas whose lease it holds, so two
 * replicas never drive the same saga.
 */
import type { Statement } from "@effect/sql"
import { Context, Data, type Effect, type Option, Schema } from "effect"

export type SagaState = "running" | "compensating" | "completed" | "failed"

/** Why a saga failed, as stored in the log and shown to clients. */
export class SagaFailure extends Schema.Class<SagaFailure>("SagaFailure")({
  step: Schema.String,
  tag: Schema.String,
  message: Schema.String,
  detail: Schema.optional(Schema.Unknown),
  /** The step failed on a transient error (timeout, transport): it may have happened, so it is compensated too. */
  outcomeUnknown: Schema.optionalWith(Schema.Boolean, { default: () => false }),
}) {}

export interface StepEntry {
  readonly action: "started" | "completed" | "failed"
  readonly result: unknown
  readonly compensated: boolean
}

export interface SagaRecord {
  readonly id: string
  readonly name: string
  readonly input: unknown
  readonly state: SagaState
  readonly failure: Option.Option<SagaFailure>
  readonly steps: Readonly<Record<string, StepEntry>>
}

export class SagaLogError extends Data.TaggedError("SagaLogError")<{
  readonly reason: "not-found" | "lease-lost" | "unavailable"
  readonly sagaId: string
  readonly message: string
}> {}

export interface ClaimedSaga {
  readonly id: string
  readonly name: string
}

export interface SagaLogService {
  readonly owner: string
  /** Creates a running saga leased to this owner. Joins the caller's SQL transaction, if any. */
  readonly create: (id: string, name: string, input: unknown, deadline: Date) => Effect.Effect<void, SagaLogError>
  /**
   * A log kept in the caller's own database can create the saga as parts of the caller's single
   * statement (CTEs), only when `onlyIf` holds: the saga row commits with the caller's rows without a
   * transaction's extra round trips. With `firstStep`, that step is logged as started in the same
   * statement, which saves the engine a write before its first action.
   */
  readonly createIf?: (
    id: string,
    name: string,
    input: unknown,
    deadline: Date,
    onlyIf: Statement.Fragment,
    firstStep?: string,
  ) => ReadonlyArray<Statement.Fragment>
  readonly load: (id: string) => Effect.Effect<SagaRecord, SagaLogError>
  readonly stepStarted: (id: string, step: string) => Effect.Effect<void, SagaLogError>
  readonly stepCompleted: (id: string, step: string, result: unknown) => Effect.Effect<void, SagaLogError>
  /**
   * Records `step` completed and, in the same write, what comes next: the start of step `next.started`,
   * or (`"finish"`) the saga completed. One round trip where stepCompleted followed by stepStarted or
   * finish takes two; the log still holds the outcome and the next start before the next step acts.
   */
  readonly stepCompletedThen: (
    id: string,
    step: string,
    result: unknown,
    next: { readonly started: string } | "finish",
  ) => Effect.Effect<void, SagaLogError>
  /** Records the step's failure and turns the saga to compensating, in one write. */
  readonly stepFailed: (id: string, step: string, failure: SagaFailure) => Effect.Effect<void, SagaLogError>
  readonly stepCompensated: (id: string, step: string) => Effect.Effect<void, SagaLogError>
  readonly finish: (
    id: string,
    state: "completed" | "failed",
    failure: Option.Option<SagaFailure>,
  ) => Effect.Effect<void, SagaLogError>
  /** Leases up to `limit` non-terminal sagas whose lease expired (or was released) to this owner. */
  readonly claim: (limit: number) => Effect.Effect<ReadonlyArray<ClaimedSaga>, SagaLogError>
  /**
   * Extends every lease this owner holds, in one write: a per-saga heartbeat would cost a write per
   * running saga per period. Returns how many leases were extended.
   */
  readonly renewAll: Effect.Effect<number, SagaLogError>
  /** Gives the lease up so another pass (or replica) can pick the saga up at once. */
  readonly release: (id: string) => Effect.Effect<void, SagaLogError>
  /** Turns running sagas past their deadline to compensating; returns how many. */
  readonly abandonOverdue: Effect.Effect<number, SagaLogError>
}

export class SagaLog extends Context.Tag("saga/SagaLog")<SagaLog, SagaLogService>() {}
