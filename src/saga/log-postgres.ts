/**
 * The saga log in the owning service's own database (tables from `sagaLogMigration`). Leases are
 * rows: a replica claims expired ones with `FOR UPDATE SKIP LOCKED`, and every write checks that
 * this owner still holds the lease, so a replica that lost it (paused, partitioned) cannot write
 * over the one that took over. Chosen over a Redis lock because the lease then lives in the same
 * transaction domain as the saga rows it guards: no clock or fencing token has to cross systems.
 * Tables: migrations/order/0002_saga_log.sql (saga_instances, saga_steps).
 *
 * The forward path's writes — a step started, a step completed with the next one started or the saga
 * completed — are group-committed (group-commit.ts): the sagas of this process writing at the same
 * moment share one statement, each still waiting for its own write (and its own lease check) before
 * its next step acts.
 */
import { SqlClient, type SqlError } from "@effect/sql"
import { Duration, Effect, Exit, Layer, Option, Schema } from "effect"
import { makeGroupCommit } from "../group-commit.ts"
import {
  SagaFailure,
  SagaLog,
  SagaLogError,
  type SagaLogService,
  type SagaRecord,
  type SagaState,
  type StepEntry,
} from "./log.ts"
import { recordset } from "../postgres.ts"

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

/** One saga's forward write: its step rows, and whether the saga completes with them. */
interface ForwardWrite {
  readonly sagaId: string
  readonly entries: ReadonlyArray<{
    readonly step: string
    readonly action: StepEntry["action"]
    readonly result: unknown
  }>
  readonly finish: boolean
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

    /**
     * Every saga's rows in one statement, each saga's only while this owner holds its lease. Answers,
     * per saga, whether it was held (and, when finishing, completed).
     */
    const writeForward = (batch: ReadonlyArray<ForwardWrite>) => {
      const rows = batch.flatMap((write) =>
        write.entries.map((entry) => ({
          saga_id: write.sagaId,
          step: entry.step,
          action: entry.action,
          result: entry.result === undefined ? null : entry.result,
          finish: write.finish,
        })),
      )
      return sql<{ id: string; finished: boolean }>`
        WITH entries AS (
          SELECT * FROM ${recordset(sql, rows, "e (saga_id text, step text, action text, result jsonb, finish boolean)")}
        ), held AS (
          SELECT id FROM saga_instances
          WHERE id IN (SELECT saga_id FROM entries) AND lease_owner = ${owner} AND state IN ('running', 'compensating')
        ), written AS (
          INSERT INTO saga_steps (saga_id, step, action, result)
          SELECT e.saga_id, e.step, e.action, e.result FROM entries e WHERE e.saga_id IN (SELECT id FROM held)
          ON CONFLICT (saga_id, step) DO UPDATE
            SET action = EXCLUDED.action, result = EXCLUDED.result, updated_at = now()
          RETURNING saga_id
        ), finished AS (
          UPDATE saga_instances
          SET state = 'completed', failure = NULL, lease_owner = NULL, lease_until = NULL, updated_at = now()
          WHERE id IN (SELECT saga_id FROM entries WHERE finish) AND id IN (SELECT id FROM held)
            AND lease_owner = ${owner}
          RETURNING id
        )
        SELECT h.id, EXISTS (SELECT 1 FROM finished f WHERE f.id = h.id) AS finished FROM held h`.pipe(
        Effect.map((answered) => {
          const outcome = new Map(answered.map((row) => [row.id, row.finished]))
          return batch.map((write): Exit.Exit<void, SagaLogError> => {
            const finished = outcome.get(write.sagaId)
            return finished === undefined || (write.finish && !finished)
              ? Exit.fail(
                  new SagaLogError({
                    reason: "lease-lost",
                    sagaId: write.sagaId,
                    message: `lease not held by ${owner}`,
                  }),
                )
              : Exit.void
          })
        }),
        Effect.mapError((error) => unavailable(batch[0]?.sagaId ?? "*")(error)),
      )
    }

    /** A saga appears at most once per statement (ON CONFLICT cannot touch a row twice): repeats go in another. */
    const writeRounds = (batch: ReadonlyArray<ForwardWrite>) =>
      Effect.gen(function* () {
        const rounds: Array<Array<ForwardWrite>> = []
        for (const write of batch) {
          const round = rounds.find((r) => r.every((other) => other.sagaId !== write.sagaId))
          if (round === undefined) rounds.push([write])
          else round.push(write)
        }
        const answers = new Map<ForwardWrite, Exit.Exit<void, SagaLogError>>()
        for (const round of rounds) {
          const exits = yield* writeForward(round)
          round.forEach((write, index) => answers.set(write, exits[index] ?? Exit.void))
        }
        return batch.map((write) => answers.get(write) ?? Exit.void)
      })

    const forward = yield* makeGroupCommit("saga-log.forward", writeRounds)

    const service: SagaLogService = {
      owner,
      create: (id, name, input, deadline) =>
        sql`INSERT INTO saga_instances (id, name, input, state, deadline, lease_owner, lease_until)
            VALUES (${id}, ${name}, ${JSON.stringify(input)}::jsonb, 'running', ${deadline},
                    ${owner}, now() + ${leaseMillis}::int * interval '1 millisecond')`.pipe(
          Effect.asVoid,
          Effect.mapError(unavailable(id)),
        ),
      createIf: (id, name, input, deadline, onlyIf, firstStep) => [
        sql`INSERT INTO saga_instances (id, name, input, state, deadline, lease_owner, lease_until)
            SELECT ${id}::text, ${name}::text, ${JSON.stringify(input)}::jsonb, 'running', ${deadline}::timestamptz,
                   ${owner}::text, now() + ${leaseMillis}::int * interval '1 millisecond'
            WHERE ${onlyIf}`,
        // The step row's foreign key is checked at the end of the statement, after the saga row is in.
        ...(firstStep === undefined
          ? []
          : [
              sql`INSERT INTO saga_steps (saga_id, step, action) SELECT ${id}::text, ${firstStep}::text, 'started' WHERE ${onlyIf}`,
            ]),
      ],
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
      stepStarted: (id, step) =>
        forward({ sagaId: id, entries: [{ step, action: "started", result: null }], finish: false }),
      stepCompleted: (id, step, result) => upsertStep(id, step, "completed", result),
      // The step rows (and the saga's completion) are written together or not at all, and only while this
      // owner holds the lease.
      stepCompletedThen: (id, step, result, next) =>
        forward({
          sagaId: id,
          entries:
            next === "finish"
              ? [{ step, action: "completed", result }]
              : [
                  { step, action: "completed", result },
                  { step: next.started, action: "started", result: null },
                ],
          finish: next === "finish",
        }),
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
  Layer.scoped(SagaLog, makePostgresSagaLog(options))
