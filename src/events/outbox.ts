/**
 * The transactional outbox: a service writes its domain events to the `outbox` table in the same
 * transaction as the state change they describe, and a relay publishes them to Kafka afterwards.
 * So an event exists if and only if its state change committed — none lost, none invented.
 *
 * Table: `migrations/platform/outbox.sql`, which the platform applies in every service database (src/postgres.ts).
 *
 * Delivery is at least once. The relay publishes a batch and then marks it published in the same
 * database transaction; a crash (or a lost database connection) between the two publishes the batch
 * again on the next run. Consumers dedupe by `envelope.id`, which never changes across re-publishes.
 *
 * Ordering: rows are published in id order, and the Kafka key is the event's key (its aggregate id),
 * so one aggregate's events reach one partition in the order they were appended — provided the
 * aggregate's own row lock orders its writers (append after the UPDATE of the aggregate, as usual).
 */
import { SqlClient, type SqlError, type Statement } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Layer, Option, Queue, Schedule, Stream } from "effect"
import type { OutgoingEvent } from "./envelope.ts"
import { KafkaClient, type KafkaError } from "./kafka.ts"
import { EventProducer } from "./producer.ts"
import { outboxGatherMillis } from "../config.ts"
import { outboxPending, outboxPublished } from "../metrics.ts"

/** The NOTIFY channel appends raise on commit, so an idle relay wakes at once instead of at its next poll. */
export const outboxChannel = "outbox"

/** An event as its outbox row. */
const rowOf = (event: OutgoingEvent) => ({
  event_id: event.id,
  event_type: event.type,
  event_version: event.version,
  topic: event.topic,
  event_key: event.partitionKey,
  envelope: event.value,
})

export class Outbox extends Effect.Service<Outbox>()("platform/Outbox", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /**
     * Appends events to the outbox. Call it inside the caller's `sql.withTransaction`: the INSERT
     * runs on the transaction's connection (found in the fiber's context), so it commits or rolls
     * back with the state change. Called outside a transaction it is a bug, and dies.
     */
    const append = Effect.fn("Outbox.append")(function* (events: OutgoingEvent | ReadonlyArray<OutgoingEvent>) {
      const list: ReadonlyArray<OutgoingEvent> = Array.isArray(events) ? events : [events as OutgoingEvent]
      if (list.length === 0) return
      const transaction = yield* Effect.serviceOption(SqlClient.TransactionConnection)
      if (Option.isNone(transaction)) return yield* Effect.dieMessage("Outbox.append outside a transaction")
      // The notification rides on the INSERT (one round trip, not two). It is delivered only if the
      // transaction commits, and several in one transaction fold into one. The payload must not be
      // empty: @effect/sql-pg's listen() drops notifications without one.
      yield* sql`INSERT INTO outbox ${sql.insert(list.map(rowOf))} RETURNING pg_notify(${outboxChannel}, 'appended')`
    })

    /**
     * The append as one part of a caller's single statement (a CTE): the events are inserted only when
     * `onlyIf` (an SQL condition over the caller's other CTEs, e.g. `EXISTS (SELECT 1 FROM moved)`) holds.
     * One statement is atomic by itself, so the caller saves a transaction's BEGIN and COMMIT round trips.
     */
    const appendIf = (events: ReadonlyArray<OutgoingEvent>, onlyIf: Statement.Fragment): Statement.Fragment => {
      const rows = events.map(rowOf)
      return sql`
        INSERT INTO outbox (event_id, event_type, event_version, topic, event_key, envelope)
        SELECT e.event_id, e.event_type, e.event_version, e.topic, e.event_key, e.envelope::jsonb
        FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
          AS e (event_id uuid, event_type text, event_version integer, topic text, event_key text, envelope text)
        WHERE ${onlyIf}
        RETURNING pg_notify(${outboxChannel}, 'appended')`
    }

    return { append, appendIf }
  }),
}) {}

export interface OutboxRelayOptions {
  /**
   * How often an idle relay looks for rows when no notification woke it: the safety net behind LISTEN
   * (and the only trigger without it). Default 2 s when listening, 250 ms otherwise.
   */
  readonly pollInterval?: Duration.DurationInput
  /**
   * After a notification, how long the relay waits for more commits before claiming a batch, so a
   * busy service publishes one batch per many commits instead of one transaction per commit. Default
   * `OUTBOX_GATHER_MS` (100 ms): nothing in a request's path waits for an event to reach Kafka.
   */
  readonly gatherDelay?: Duration.DurationInput
  /** Rows claimed and published per transaction. Default 200. */
  readonly batchSize?: number
  /** LISTEN on the outbox channel to wake fast (needs PgClient; plain polling otherwise). Default true. */
  readonly listen?: boolean
  /** Published rows older than this are deleted (hourly). Default 7 days. */
  readonly retention?: Duration.DurationInput
  /** Fault injection for tests only: runs after a batch reached Kafka and before it is marked published. */
  readonly afterPublish?: (events: ReadonlyArray<OutgoingEvent>) => Effect.Effect<void>
}

interface OutboxRow {
  readonly id: string
  readonly event_id: string
  readonly event_type: string
  readonly event_version: number
  readonly topic: string
  readonly event_key: string
  readonly value: string
}

/**
 * Errors that may pass (Kafka leader moving, broker restarting, database failover) are retried for
 * ever with a capped backoff: the relay is a daemon and its backlog only waits.
 */
const relayRetry = Schedule.exponential("200 millis").pipe(Schedule.union(Schedule.spaced("5 seconds")))

/** One relay per database publishes at a time: two relays publishing different batches could reorder a key. */
const relayLockKey = "commerce-mesh/outbox-relay"

const makeRelay = (options: OutboxRelayOptions) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const producer = yield* EventProducer
    const { service } = yield* KafkaClient
    const batchSize = options.batchSize ?? 200
    const pgClient = options.listen === false ? Option.none() : yield* Effect.serviceOption(PgClient.PgClient)
    const pollInterval = options.pollInterval ?? Duration.millis(Option.isSome(pgClient) ? 2_000 : 250)
    const gatherDelay = options.gatherDelay ?? Duration.millis(yield* outboxGatherMillis)
    const afterPublish = options.afterPublish ?? (() => Effect.void)

    /**
     * Claims the oldest unpublished rows, publishes them, marks them — one transaction. The advisory
     * lock keeps relays of the same database from publishing concurrently (and so out of order);
     * `FOR UPDATE SKIP LOCKED` additionally guarantees that a row is never claimed twice at once.
     */
    const publishBatch: Effect.Effect<number, SqlError.SqlError | KafkaError> = sql
      .withTransaction(
        Effect.gen(function* () {
          // The lock and the claim in one statement: a CTE calling a volatile function is evaluated once,
          // before the rows, and a relay that did not get the lock claims nothing.
          const rows = yield* sql<OutboxRow>`
          WITH relay AS (SELECT pg_try_advisory_xact_lock(hashtext(${relayLockKey})) AS locked)
          SELECT id, event_id::text AS event_id, event_type, event_version, topic, event_key, envelope::text AS value
          FROM outbox, relay
          WHERE relay.locked AND published_at IS NULL
          ORDER BY id
          LIMIT ${batchSize}
          FOR UPDATE OF outbox SKIP LOCKED`
          if (rows.length === 0) return 0
          const events = rows.map(
            (row): OutgoingEvent => ({
              id: row.event_id,
              type: row.event_type,
              version: row.event_version,
              topic: row.topic,
              partitionKey: row.event_key,
              value: row.value,
            }),
          )
          yield* producer.publish(events)
          countPublished(service, events)
          yield* afterPublish(events)
          yield* sql`UPDATE outbox SET published_at = now() WHERE id IN ${sql.in(rows.map((row) => row.id))}`
          return rows.length
        }),
      )
      .pipe(
        Effect.tap((published) => Effect.annotateCurrentSpan("published", published)),
        Effect.withSpan("OutboxRelay.publishBatch"),
      )

    const countPending = sql<{ pending: number }>`
      SELECT count(*)::int AS pending FROM outbox WHERE published_at IS NULL`.pipe(
      Effect.tap(([row]) => Effect.sync(() => outboxPending.set({ service }, row?.pending ?? 0))),
      Effect.ignore,
    )

    const wake = yield* Queue.dropping<void>(1)
    if (Option.isSome(pgClient)) {
      yield* pgClient.value.listen(outboxChannel).pipe(
        Stream.runForEach(() => Queue.offer(wake, undefined)),
        Effect.tapErrorCause((cause) => Effect.logWarning("outbox LISTEN lost; polling meanwhile", cause)),
        Effect.retry(relayRetry),
        Effect.forkScoped,
      )
    }

    const round = Effect.gen(function* () {
      // A started batch finishes (publish and mark) before a shutdown takes effect, so a graceful stop never re-publishes.
      const published = yield* Effect.uninterruptible(publishBatch).pipe(
        Effect.tapErrorCause((cause) => Effect.logWarning("outbox relay failed; retrying", cause)),
        Effect.sandbox,
        Effect.retry(relayRetry),
        Effect.unsandbox,
      )
      if (published > 0) {
        yield* Effect.logDebug("outbox batch published").pipe(Effect.annotateLogs({ published }))
      }
      // The backlog gauge without a query per batch: a batch short of full took every row pending when it
      // claimed them (it held the relay lock), so none was left. Only an empty round (idle, or another
      // relay holding the lock) counts.
      if (published === 0) yield* countPending
      else if (published < batchSize) outboxPending.set({ service }, 0)
      // A full batch means more is waiting: go again at once. Otherwise wait for a commit or the poll,
      // then a moment more so the commits arriving meanwhile go out in the same batch.
      if (published < batchSize) {
        yield* Effect.raceFirst(Effect.sleep(pollInterval), Queue.take(wake))
        yield* Effect.sleep(gatherDelay)
        yield* Queue.takeAll(wake)
      }
    })

    const prune = sql`
      DELETE FROM outbox
      WHERE published_at < now() - ${Duration.toMillis(options.retention ?? Duration.days(7))}::bigint * interval '1 millisecond'`.pipe(
      Effect.tapErrorCause((cause) => Effect.logWarning("outbox pruning failed", cause)),
      Effect.ignore,
      Effect.repeat(Schedule.spaced("1 hour")),
    )

    yield* Effect.forkScoped(prune)
    yield* Effect.forkScoped(Effect.forever(round))
    yield* Effect.logDebug("outbox relay started")
  }).pipe(Effect.annotateLogs({ component: "outbox-relay" }))

/** Counts published rows per topic in the Prometheus counter. */
const countPublished = (service: string, events: ReadonlyArray<OutgoingEvent>) => {
  const perTopic = new Map<string, number>()
  for (const event of events) perTopic.set(event.topic, (perTopic.get(event.topic) ?? 0) + 1)
  for (const [topic, n] of perTopic) outboxPublished.inc({ service, topic }, n)
}

/**
 * The relay as a background fiber for the life of the Layer. Needs the service's SqlClient (and
 * PgClient for LISTEN), an EventProducer and the KafkaClient.
 */
export const OutboxRelayLive = (options: OutboxRelayOptions = {}) => Layer.scopedDiscard(makeRelay(options))

/** What a service's main.ts runs: the relay with its own Kafka producer (given the KafkaClient and SqlClient). */
export const OutboxPublisherLive = (options: OutboxRelayOptions = {}) =>
  OutboxRelayLive(options).pipe(Layer.provide(EventProducer.Default))
