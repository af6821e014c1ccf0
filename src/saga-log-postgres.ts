/**
 * The saga log in the owning service's own database (tables from `sagaLogMigration`). Leases are
 * rows: a replica claims expired ones with `FOR UPDATE SKIP LOCKED`, and every write checks that
 * this owner still holds the lease, so a replica that lost it (paused, partitioned) cannot write
 * over the one that took over. Chosen over a Redis lock because the lease then lives in the same
 * transaction domain as the saga rows it guards: no clock or fencing token has to cross systems.
 * Tables: migrations/order/0002_saga_log.sql (saga_instances, saga_steps).
 */
import { SqlClient, type SqlError } from "@effect/sql"
import { Duration, Effect, Layer, Option, Schema } from "effect"
import {
  SagaFailure,
  SagaLog,
  SagaLogError,
  type SagaLogService,
  type SagaRecord,
  type SagaState,
  type StepEntry,
} from "./saga-log.ts"

export interface PostgresSagaLogOptions {
  /** This process's identity; defaults to a random id per process start. */
  readonly owner?: string
  readonly lease?: Duration.DurationInput
}

interface SagaRow {
  readonly id: string
  readonly name: string
  readonly input: unknown
  readonly state: SagaState
  readonly failure: unknown
}

interface StepRow {
  readonly step: string
  readonly action: StepEntry["action"]
  readonly result: unknown
  readonly compensated: boolean
}

const decodeFailure = Schema.decodeUnknownOption(SagaFailure)
const encodeFailure = Schema.encodeSync(SagaFailure)

export const makePostgresSagaLog = (options: PostgresSagaLogOptions = {}) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const owner = options.owner ?? `${process.pid}-${crypto.randomUUID().slice(0, 8)}`
    const leaseMillis = Duration.toMillis(options.lease ?? Duration.seconds(15))

    const unavailable = (sagaId: string) => (error: SqlError.SqlError) =>
      new SagaLogError({ reason: "unavailable", sagaId, message: error.message })

    /** Runs a write that must touch exactly one row of a saga this owner holds. */
    const guarded = (sagaId: string, write: Effect.Effect<ReadonlyArray<unknown>, SqlError.SqlError>) =>
      write.pipe(
        Effect.mapError(unavailable(sagaId)),
        Effect.flatMap((rows) =>
          rows.length > 0
            ? Effect.void
            : Effect.fail(new SagaLogError({ reason: "lease-lost", sagaId, message: `lease not held by ${owner}` })),
        ),
      )

    const holds = (sagaId: string) =>
      sql`SELECT 1 FROM saga_instances WHERE id = ${sagaId} AND lease_owner = ${owner} AND state IN ('running', 'compensating')`

    const upsertStep = (sagaId: string, step: string, action: StepEntry["action"], result: unknown) =>
      guarded(
        sagaId,
        sql`INSERT INTO saga_steps (saga_id, step, action, result)
            SELECT ${sagaId}, ${step}, ${action}, ${result === undefined ? null : JSON.stringify(result)}::jsonb
            WHERE EXISTS (${holds(sagaId)})
            ON CONFLICT (saga_id, step) DO UPDATE
              SET action = EXCLUDED.action, result = EXCLUDED.result, updated_at = now()
            RETURNING step`,
      )

    const service: SagaLogService = {
      owner,
      create: (id, name, input, deadline) =>
        sql`INSERT INTO saga_instances (id, name, input, state, deadline, lease_owner, lease_until)
            VALUES (${id}, ${name}, ${JSON.stringify(input)}::jsonb, 'running', ${deadline},
                    ${owner}, now() + ${leaseMillis}::int * interval '1 millisecond')`.pipe(
          Effect.asVoid,
          Effect.mapError(unavailable(id)),
        ),
      load: (id) =>
        Effect.gen(function* () {
          const sagas = yield* sql<SagaRow>`SELECT id, name, input, state, failure FROM saga_instances WHERE id = ${id}`
          const saga = sagas[0]
          if (saga === undefined) {
            return yield* new SagaLogError({ reason: "not-found", sagaId: id, message: "no such saga" })
          }
          const steps =
            yield* sql<StepRow>`SELECT step, action, result, compensated FROM saga_steps WHERE saga_id = ${id}`
          const record: SagaRecord = {
            id: saga.id,
            name: saga.name,
            input: saga.input,
            state: saga.state,
            failure: saga.failure === null ? Option.none() : decodeFailure(saga.failure),
            steps: Object.fromEntries(
              steps.map((row) => [row.step, { action: row.action, result: row.result, compensated: row.compensated }]),
            ),
          }
          return record
        }).pipe(Effect.catchTag("SqlError", (error) => Effect.fail(unavailable(id)(error)))),
      stepStarted: (id, step) => upsertStep(id, step, "started", undefined),
      stepCompleted: (id, step, result) => upsertStep(id, step, "completed", result),
      // One statement each: the step rows (and the saga's completion) are written together or not at all,
      // and only while this owner holds the lease.
      stepCompletedThen: (id, step, result, next) =>
        next === "finish"
          ? guarded(
              id,
              sql`WITH completed AS (
                    INSERT INTO saga_steps (saga_id, step, action, result)
                    SELECT ${id}, ${step}, 'completed', ${result === undefined ? null : JSON.stringify(result)}::jsonb
                    WHERE EXISTS (${holds(id)})
                    ON CONFLICT (saga_id, step) DO UPDATE
                      SET action = EXCLUDED.action, result = EXCLUDED.result, updated_at = now()
                    RETURNING step)
                  UPDATE saga_instances
                  SET state = 'completed', failure = NULL, lease_owner = NULL, lease_until = NULL, updated_at = now()
                  WHERE id = ${id} AND lease_owner = ${owner} AND EXISTS (SELECT 1 FROM completed)
                  RETURNING id`,
            )
          : guarded(
              id,
              sql`INSERT INTO saga_steps (saga_id, step, action, result)
                  SELECT ${id}, entry.step, entry.action, entry.result
                  FROM (VALUES (${step}, 'completed', ${result === undefined ? null : JSON.stringify(result)}::jsonb),
                               (${next.started}, 'started', NULL::jsonb)) AS entry (step, action, result)
                  WHERE EXISTS (${holds(id)})
                  ON CONFLICT (saga_id, step) DO UPDATE
                    SET action = EXCLUDED.action, result = EXCLUDED.result, updated_at = now()
                  RETURNING step`,
            ),
      stepFailed: (id, step, failure) =>
        sql
          .withTransaction(
            Effect.zipRight(
              upsertStep(id, step, "failed", undefined),
              guarded(
                id,
                sql`UPDATE saga_instances SET state = 'compensating', failure = ${JSON.stringify(encodeFailure(failure))}::jsonb,
                    updated_at = now()
                  WHERE id = ${id} AND lease_owner = ${owner} RETURNING id`,
              ),
            ),
          )
          .pipe(Effect.catchTag("SqlError", (error) => Effect.fail(unavailable(id)(error)))),
      stepCompensated: (id, step) =>
        guarded(
          id,
          sql`UPDATE saga_steps SET compensated = true, updated_at = now()
              WHERE saga_id = ${id} AND step = ${step} AND EXISTS (${holds(id)}) RETURNING step`,
        ),
      finish: (id, state, failure) =>
        guarded(
          id,
          sql`UPDATE saga_instances
              SET state = ${state},
                  failure = ${Option.match(failure, { onNone: () => null, onSome: (f) => JSON.stringify(encodeFailure(f)) })}::jsonb,
                  lease_owner = NULL, lease_until = NULL, updated_at = now()
              WHERE id = ${id} AND lease_owner = ${owner} RETURNING id`,
        ),
      claim: (limit) =>
        sql<{ id: string; name: string }>`
          UPDATE saga_instances SET lease_owner = ${owner},
                 lease_until = now() + ${leaseMillis}::int * interval '1 millisecond', updated_at = now()
          WHERE id IN (
            SELECT id FROM saga_instances
            WHERE state IN ('running', 'compensating') AND (lease_until IS NULL OR lease_until < now())
            ORDER BY created_at
            LIMIT ${limit}
            FOR UPDATE SKIP LOCKED)
          RETURNING id, name`.pipe(Effect.mapError(unavailable("*"))),
      renewAll: sql<{ id: string }>`
          UPDATE saga_instances SET lease_until = now() + ${leaseMillis}::int * interval '1 millisecond'
          WHERE lease_owner = ${owner} AND state IN ('running', 'compensating') RETURNING id`.pipe(
        Effect.map((rows) => rows.length),
        Effect.mapError(unavailable("*")),
      ),
      release: (id) =>
        sql`UPDATE saga_instances SET lease_owner = NULL, lease_until = NULL WHERE id = ${id} AND lease_owner = ${owner}`.pipe(
          Effect.asVoid,
          Effect.mapError(unavailable(id)),
        ),
      abandonOverdue: sql<{ id: string }>`
          UPDATE saga_instances
          SET state = 'compensating', updated_at = now(),
              failure = jsonb_build_object('step', '*', 'tag', 'DeadlineExceeded',
                        'message', 'the saga did not finish before its deadline', 'outcomeUnknown', true)
          WHERE state = 'running' AND deadline < now()
          RETURNING id`.pipe(
        Effect.map((rows) => rows.length),
        Effect.mapError(unavailable("*")),
      ),
    }
    return service
  })

export const PostgresSagaLogLive = (options: PostgresSagaLogOptions = {}) =>
  Layer.effect(SagaLog, makePostgresSagaLog(options))
