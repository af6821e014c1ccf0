/**
 * The inventory's SQL: the batch primitives (`loadBatch`, `writeBatch`) the coalescing StockWriter
 * composes, one read and one version-guarded statement per batch, and the reads. (The plain per-request
 * optimistic reservation it is measured against lives with its benchmark, bench/inventory/optimistic.ts.)
 * Bulk statements take their rows as one `jsonb` parameter (`jsonb_to_recordset`): typed columns, one
 * parameter whatever the batch size.
 */
import { SqlClient, type SqlError, type Statement } from "@effect/sql"
import { Data, Effect } from "effect"
import {
  type OrderId,
  Reservation,
  ReservationNotFound,
  type ReservationId,
  type ReservationStatus,
  type ReserveLine,
  type Sku,
  StockItem,
  UnknownSku,
} from "../../rpc/inventory.ts"
import { onGuardFailure, recordset } from "../../src/postgres.ts"

export interface StockRow {
  readonly sku: string
  readonly available: number
  readonly reserved: number
  readonly committed: number
  readonly version: number
}

export interface ReservationRow {
  readonly id: string
  readonly order_id: string
  readonly status: ReservationStatus
  readonly lines: ReadonlyArray<{ readonly sku: string; readonly quantity: number }>
  readonly expires_at: Date
}

export type MovementKind = "restock" | "adjust" | "reserve" | "release" | "commit" | "expire"

export interface Movement {
  readonly sku: string
  readonly kind: MovementKind
  readonly quantity: number
  readonly reference: string
}

export interface NewReservation {
  readonly id: string
  readonly order_id: string
  readonly lines: ReadonlyArray<{ readonly sku: string; readonly quantity: number }>
  readonly expires_at: Date
}

export interface MovementKey {
  readonly kind: MovementKind
  readonly reference: string
  readonly sku: string
}

/** What a writer batch must read before it can decide its operations. */
export interface BatchNeeds {
  readonly reservationIds: ReadonlyArray<string>
  /** SKUs the operations name (a released or committed reservation's lines are found from its row). */
  readonly skus: ReadonlyArray<string>
  /** Restock and adjustment movements whose booking makes a replay a no-op. */
  readonly movementKeys: ReadonlyArray<MovementKey>
}

/** What a decided batch writes. A reservation created and finished in the same batch is inserted final. */
export interface BatchWrites {
  readonly updates: ReadonlyArray<StockRow>
  readonly inserts: ReadonlyArray<StockRow>
  readonly newReservations: ReadonlyArray<NewReservation & { readonly status: ReservationStatus }>
  readonly finished: ReadonlyArray<{ readonly id: string; readonly status: "released" | "committed" }>
  readonly movements: ReadonlyArray<Movement>
}

/**
 * A part of a batch's write found rows changed since the batch read them (another process wrote them);
 * nothing of the batch was written, and the writer reads and decides it again.
 */
export class BatchOutdated extends Data.TaggedError("BatchOutdated")<{ readonly what: string }> {}

// Rows come from our own tables, already checked by their constraints: skip re-validation on the hot path.
export const toStockItem = (row: StockRow): StockItem =>
  new StockItem(
    {
      sku: row.sku as Sku,
      available: row.available,
      reserved: row.reserved,
      committed: row.committed,
      version: row.version,
    },
    true,
  )

export const toReservation = (row: ReservationRow): Reservation =>
  new Reservation(
    {
      id: row.id as ReservationId,
      orderId: row.order_id as OrderId,
      status: row.status,
      lines: row.lines.map((line): ReserveLine => ({ sku: line.sku as Sku, quantity: line.quantity })) as [
        ReserveLine,
        ...Array<ReserveLine>,
      ],
      expiresAt: row.expires_at,
    },
    true,
  )

/** Lines naming the same SKU are summed, and lines are sorted by SKU so row locks are always taken in one order. */
export const mergeLines = (lines: ReadonlyArray<{ readonly sku: string; readonly quantity: number }>) => {
  const totals = new Map<string, number>()
  for (const line of lines) totals.set(line.sku, (totals.get(line.sku) ?? 0) + line.quantity)
  return [...totals.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([sku, quantity]) => ({ sku, quantity }))
}

export interface LedgerViolation {
  readonly sku: string
  readonly booked: number
  readonly available: number
  readonly reserved: number
  readonly committed: number
}

export class StockRepository extends Effect.Service<StockRepository>()("inventory/StockRepository", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const stockColumns = sql`sku, available, reserved, committed, version::float8 AS version`
    const reservationColumns = sql`id, order_id, status, lines, expires_at`

    const loadStocks = (skus: ReadonlyArray<string>) =>
      skus.length === 0
        ? Effect.succeed<ReadonlyArray<StockRow>>([])
        : sql<StockRow>`SELECT ${stockColumns} FROM stock_items WHERE ${sql.in("sku", skus)}`

    const loadReservations = (ids: ReadonlyArray<string>) =>
      ids.length === 0
        ? Effect.succeed<ReadonlyArray<ReservationRow>>([])
        : sql<ReservationRow>`SELECT ${reservationColumns} FROM reservations WHERE ${sql.in("id", ids)}`

    /** `column = ANY(...)` over a jsonb array parameter: one parameter, planned in microseconds. */
    const anyOf = (values: ReadonlyArray<string>) =>
      sql`ANY(ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(values)}::jsonb)))`

    /**
     * Everything a writer batch reads, in one round trip: the reservations it names, the stock rows of the
     * SKUs it names and of those reservations' lines (with their versions), and which of its restock/adjust
     * movements are already booked. Read outside the batch's transaction: the version guard of the write
     * is what makes the decision safe. `= ANY(ARRAY(...))` keeps planning in the sub-millisecond range.
     */
    const loadBatch = (needs: BatchNeeds) => {
      const ids = anyOf(needs.reservationIds)
      const movements =
        needs.movementKeys.length === 0
          ? sql``
          : sql`UNION ALL
            SELECT 'm', to_jsonb(m) FROM (
              SELECT m.kind, m.reference, m.sku FROM stock_movements m
              JOIN ${recordset(sql, needs.movementKeys, "k (kind text, reference text, sku text)")}
                ON m.kind = k.kind AND m.reference = k.reference AND m.sku = k.sku) m`
      return sql<{ source: "r" | "s" | "m"; row: unknown }>`
        SELECT 'r' AS source, to_jsonb(r) AS row FROM (
          SELECT ${reservationColumns} FROM reservations WHERE id = ${ids}) r
        UNION ALL
        SELECT 's', to_jsonb(s) FROM (
          SELECT sku, available, reserved, committed, version FROM stock_items
          WHERE sku = ANY(ARRAY(
            SELECT jsonb_array_elements_text(${JSON.stringify(needs.skus)}::jsonb)
            UNION SELECT line->>'sku' FROM reservations r, jsonb_array_elements(r.lines) AS line WHERE r.id = ${ids}))) s
        ${movements}`.pipe(
        Effect.map((rows) => {
          const reservations: Array<ReservationRow> = []
          const stocks: Array<StockRow> = []
          const booked: Array<MovementKey> = []
          for (const { source, row } of rows) {
            if (source === "r") {
              const reservation = row as Omit<ReservationRow, "expires_at"> & { expires_at: string }
              reservations.push({ ...reservation, expires_at: new Date(reservation.expires_at) })
            } else if (source === "s") stocks.push(row as StockRow)
            else booked.push(row as MovementKey)
          }
          return { reservations, stocks, booked }
        }),
      )
    }

    /**
     * Writes a batch's outcome in ONE statement (only the parts it needs): every guarded part must touch
     * exactly the rows it expects (a stock row whose version moved, a reservation finished or inserted by
     * another process, touches fewer), or cm_guard raises and the whole statement — `alongside` (the
     * batch's events) included — rolls back.
     */
    const writeBatch = (writes: BatchWrites, alongside?: Statement.Fragment) => {
      const parts: Array<{
        readonly name: string
        readonly what: string
        readonly rows: number
        readonly write: Statement.Fragment
      }> = []
      if (writes.updates.length > 0) {
        parts.push({
          name: "updated",
          what: "stock_items",
          rows: writes.updates.length,
          write: sql`UPDATE stock_items s
              SET available = v.available, reserved = v.reserved, committed = v.committed,
                  version = s.version + 1, updated_at = now()
              FROM ${recordset(sql, writes.updates, "v (sku text, available int, reserved int, committed int, version bigint)")}
              WHERE s.sku = v.sku AND s.version = v.version
              RETURNING 1`,
        })
      }
      if (writes.inserts.length > 0) {
        parts.push({
          name: "created",
          what: "new stock",
          rows: writes.inserts.length,
          write: sql`INSERT INTO stock_items (sku, available, reserved, committed, version)
              SELECT v.sku, v.available, v.reserved, v.committed, 0
              FROM ${recordset(sql, writes.inserts, "v (sku text, available int, reserved int, committed int)")}
              ON CONFLICT (sku) DO NOTHING
              RETURNING 1`,
        })
      }
      if (writes.newReservations.length > 0) {
        parts.push({
          name: "inserted",
          what: "reservations",
          rows: writes.newReservations.length,
          write: sql`INSERT INTO reservations (id, order_id, status, lines, expires_at)
              SELECT v.id, v.order_id, v.status, v.lines, v.expires_at
              FROM ${recordset(sql, writes.newReservations, "v (id text, order_id text, status text, lines jsonb, expires_at timestamptz)")}
              ON CONFLICT (id) DO NOTHING
              RETURNING 1`,
        })
      }
      if (writes.finished.length > 0) {
        parts.push({
          name: "finished",
          what: "reservation status",
          rows: writes.finished.length,
          write: sql`UPDATE reservations r SET status = v.status, updated_at = now()
              FROM ${recordset(sql, writes.finished, "v (id text, status text)")}
              WHERE r.id = v.id AND r.status = 'reserved'
              RETURNING 1`,
        })
      }
      if (writes.movements.length > 0) {
        parts.push({
          name: "booked",
          what: "movements",
          rows: writes.movements.length,
          write: sql`INSERT INTO stock_movements (sku, kind, quantity, reference)
              SELECT v.sku, v.kind, v.quantity, v.reference
              FROM ${recordset(sql, writes.movements, "v (sku text, kind text, quantity int, reference text)")}
              ON CONFLICT (kind, reference, sku) DO NOTHING
              RETURNING 1`,
        })
      }
      if (parts.length === 0 && alongside === undefined) return Effect.void
      const ctes = sql.join(
        ", ",
        false,
      )([
        ...parts.map((part) => sql`${sql(part.name)} AS (${part.write})`),
        ...(alongside === undefined ? [] : [sql`alongside AS (${alongside})`]),
      ])
      const guards = sql.join(
        " AND ",
        false,
      )([
        sql`true`,
        ...parts.map((part) => sql`cm_guard((SELECT count(*) FROM ${sql(part.name)}) = ${part.rows}, ${part.what})`),
      ])
      return sql`WITH ${ctes} SELECT ${guards} AS ok`.pipe(
        Effect.asVoid,
        onGuardFailure((what) => new BatchOutdated({ what })),
      )
    }

    const getStock = Effect.fn("Inventory.getStock")(function* (sku: Sku) {
      const rows = yield* loadStocks([sku]).pipe(Effect.orDie)
      const row = rows[0]
      if (row === undefined) return yield* new UnknownSku({ sku })
      return toStockItem(row)
    })

    const getStocks = Effect.fn("Inventory.getStocks")(function* (skus: ReadonlyArray<Sku>) {
      const rows = yield* loadStocks([...new Set(skus)]).pipe(Effect.orDie)
      return rows.map(toStockItem)
    })

    const getReservation = Effect.fn("Inventory.getReservation")(function* (reservationId: ReservationId) {
      const rows = yield* loadReservations([reservationId]).pipe(Effect.orDie)
      const row = rows[0]
      if (row === undefined) return yield* new ReservationNotFound({ reservationId })
      return toReservation(row)
    })

    /** Live reservations whose hold ran out by `now`, oldest first: the sweeper's work list. */
    const expiredReservations = (now: Date, limit: number) =>
      sql<{ id: string }>`
        SELECT id FROM reservations
        WHERE status = 'reserved' AND expires_at <= ${now}
        ORDER BY expires_at
        LIMIT ${limit}`.pipe(Effect.map((rows) => rows.map((row) => row.id as ReservationId)))

    /**
     * SKUs (all, or the given ones) where the ledger and the stock row disagree or a quantity is negative.
     * Booked stock (restocks + adjustments) must equal available + reserved + committed.
     */
    const auditLedger = (skus?: ReadonlyArray<string>) =>
      sql<LedgerViolation>`
        SELECT s.sku, coalesce(m.booked, 0)::int AS booked, s.available, s.reserved, s.committed
        FROM stock_items s
        LEFT JOIN (
          SELECT sku, sum(quantity) AS booked FROM stock_movements
          WHERE kind IN ('restock', 'adjust') GROUP BY sku
        ) m ON m.sku = s.sku
        WHERE (${skus === undefined}
               OR s.sku IN (SELECT jsonb_array_elements_text(${JSON.stringify(skus ?? [])}::jsonb)))
          AND (coalesce(m.booked, 0) <> s.available + s.reserved + s.committed
               OR s.available < 0 OR s.reserved < 0 OR s.committed < 0)`

    return {
      loadStocks,
      loadReservations,
      loadBatch,
      writeBatch,
      getStock,
      getStocks,
      getReservation,
      expiredReservations,
      auditLedger,
    } as const
  }),
}) {}

export type BatchSqlError = SqlError.SqlError
