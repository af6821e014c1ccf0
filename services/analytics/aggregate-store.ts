/**
 * The write side of analytics: applies events' Facts to the aggregates, exactly once per event id.
 *
 * The event ids are inserted into processed_events in the same transaction as the aggregate updates,
 * and only the events whose id was new are applied: an event handed over again (the process died
 * after the commit but before Kafka got the offset, or a rebalance moved the partition mid-batch)
 * finds its id taken and changes nothing. A run of events is one transaction with one upsert per table.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { activityCounters, foldFacts } from "./aggregate-deltas.ts"
import { Fact } from "./facts.ts"

export interface EventIdentity {
  readonly id: string
  readonly type: string
  readonly topic: string
  readonly occurredAt: Date
}

export interface FactOfEvent {
  readonly event: EventIdentity
  readonly fact: Fact
}

/** applied: it changed aggregates; ignored: recorded, changes nothing; duplicate: seen before, skipped. */
export type RecordOutcome = "applied" | "ignored" | "duplicate"

export class AggregateStore extends Effect.Service<AggregateStore>()("analytics/AggregateStore", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const increments = (table: string, columns: ReadonlyArray<string>) =>
      sql.csv(columns.map((column) => sql`${sql(column)} = ${sql(table)}.${sql(column)} + EXCLUDED.${sql(column)}`))

    /** Records the ids not seen before and returns them. */
    const claim = (events: ReadonlyArray<EventIdentity>) =>
      sql<{ readonly event_id: string }>`INSERT INTO processed_events ${sql.insert(
        events.map((event) => ({
          event_id: event.id,
          event_type: event.type,
          topic: event.topic,
          occurred_at: event.occurredAt,
        })),
      )} ON CONFLICT (event_id) DO NOTHING RETURNING event_id`.pipe(
        Effect.map((rows) => new Set(rows.map((row) => row.event_id))),
      )

    const applyFacts = (facts: ReadonlyArray<FactOfEvent>) =>
      Effect.gen(function* () {
        const deltas = foldFacts(facts.map(({ event, fact }) => ({ fact, occurredAt: event.occurredAt })))
        // Tables in one fixed order, rows sorted by key (foldFacts): see aggregate-deltas.ts.
        if (deltas.activity.length > 0) {
          yield* sql`INSERT INTO activity ${sql.insert(deltas.activity)}
            ON CONFLICT (unit, bucket) DO UPDATE SET ${increments("activity", activityCounters)}`
        }
        if (deltas.money.length > 0) {
          yield* sql`INSERT INTO money ${sql.insert(deltas.money)}
            ON CONFLICT (unit, bucket, currency) DO UPDATE SET ${increments("money", ["revenue", "refunded"])}`
        }
        if (deltas.productSales.length > 0) {
          yield* sql`INSERT INTO product_sales ${sql.insert(deltas.productSales)}
            ON CONFLICT (day, sku, currency) DO UPDATE SET ${increments("product_sales", ["units", "orders", "revenue"])}`
        }
        if (deltas.failures.length > 0) {
          yield* sql`INSERT INTO failure_reasons ${sql.insert(deltas.failures)}
            ON CONFLICT (day, step, reason) DO UPDATE SET ${increments("failure_reasons", ["count"])}`
        }
        if (deltas.stockCommits.length > 0) {
          yield* sql`INSERT INTO stock_commits ${sql.insert(deltas.stockCommits)}
            ON CONFLICT (day, sku) DO UPDATE SET ${increments("stock_commits", ["units"])}`
        }
      })

    /** Applies the facts of the events not recorded before; commits all of them or none. */
    const recordAll = Effect.fn("Analytics.recordAll")(function* (facts: ReadonlyArray<FactOfEvent>) {
      if (facts.length === 0) return []
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          // The same event twice in one run (published twice in a row) is one event. Postgres returns
          // uuids in lower case, whatever case the envelope used.
          const idOf = (event: EventIdentity) => event.id.toLowerCase()
          const unique = [...new Map(facts.map(({ event }) => [idOf(event), event])).values()]
          const fresh = yield* claim(unique)
          const firstOfId = new Set<string>()
          const outcomes = facts.map(({ event, fact }): RecordOutcome => {
            const id = idOf(event)
            if (!fresh.has(id) || firstOfId.has(id)) return "duplicate"
            firstOfId.add(id)
            return Fact.$is("Ignored")(fact) ? "ignored" : "applied"
          })
          yield* applyFacts(facts.filter((_, i) => outcomes[i] === "applied"))
          return outcomes
        }),
      )
    })

    const record = (event: EventIdentity, fact: Fact) =>
      Effect.map(recordAll([{ event, fact }]), (outcomes) => outcomes[0] ?? ("duplicate" satisfies RecordOutcome))

    return { recordAll, record }
  }),
}) {}
