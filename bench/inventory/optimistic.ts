/**
 * The plain per-request optimistic reservation, kept only as the contention benchmark's case (a) and the
 * reference the service's StockWriter is measured against: one transaction per request (read the rows'
 * versions, a version-guarded UPDATE per line, insert the reservation and its movements), and on a
 * conflict a jittered bounded retry of the whole request. Correct, but on one hot row every concurrent
 * writer waits for the row lock and then finds the version moved: throughput collapses.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Schedule } from "effect"
import {
  ConcurrencyConflict,
  defaultReservationTtlSeconds,
  InsufficientStock,
  type ReserveRequest,
  type Sku,
  UnknownSku,
} from "../../rpc/inventory.ts"
import { inventoryConflicts, inventoryReservations, inventoryRetries } from "../../src/metrics.ts"
import { mergeLines, StockRepository, toReservation } from "../../services/inventory/repository.ts"

/** Short, jittered (so losers do not collide again in lock-step), bounded (a typed conflict, not a hang). */
const conflictRetry = Schedule.exponential("2 millis", 1.5).pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(8)),
)

export const makeOptimisticReserve = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const repository = yield* StockRepository

  /** One attempt in its own transaction; a stale version fails with ConcurrencyConflict. */
  const reserveOnce = (request: ReserveRequest) =>
    sql.withTransaction(
      Effect.gen(function* () {
        const found = (yield* repository.loadReservations([request.reservationId]))[0]
        if (found !== undefined) return toReservation(found)
        const lines = mergeLines(request.lines)
        const stocks = new Map(
          (yield* repository.loadStocks(lines.map((line) => line.sku))).map((row) => [row.sku, row]),
        )
        for (const line of lines) {
          const stock = stocks.get(line.sku)
          if (stock === undefined) return yield* new UnknownSku({ sku: line.sku as Sku })
          if (stock.available < line.quantity) {
            return yield* new InsufficientStock({
              sku: line.sku as Sku,
              requested: line.quantity,
              available: stock.available,
            })
          }
        }
        for (const line of lines) {
          // The guard: this UPDATE only applies if nobody wrote the row since we read it.
          const updated = yield* sql`
            UPDATE stock_items
            SET available = available - ${line.quantity}, reserved = reserved + ${line.quantity},
                version = version + 1, updated_at = now()
            WHERE sku = ${line.sku} AND version = ${stocks.get(line.sku)?.version ?? -1}
            RETURNING sku`
          if (updated.length === 0) return yield* new ConcurrencyConflict({ sku: line.sku as Sku })
        }
        const now = yield* Clock.currentTimeMillis
        const reservation = {
          id: request.reservationId,
          order_id: request.orderId,
          lines,
          expires_at: new Date(now + (request.ttlSeconds ?? defaultReservationTtlSeconds) * 1000),
        }
        const inserted = yield* sql`
          INSERT INTO reservations (id, order_id, status, lines, expires_at)
          VALUES (${reservation.id}, ${reservation.order_id}, 'reserved', ${JSON.stringify(lines)}::jsonb,
                  ${reservation.expires_at})
          ON CONFLICT (id) DO NOTHING
          RETURNING id`
        // A concurrent request with the same id won; roll back and let the retry return its reservation.
        if (inserted.length === 0) return yield* new ConcurrencyConflict({})
        yield* sql`
          INSERT INTO stock_movements (sku, kind, quantity, reference)
          SELECT v.sku, 'reserve', v.quantity, ${request.reservationId}
          FROM jsonb_to_recordset(${JSON.stringify(lines)}::jsonb) AS v(sku text, quantity int)
          ON CONFLICT (kind, reference, sku) DO NOTHING`
        return toReservation({ ...reservation, status: "reserved" })
      }),
    )

  return Effect.fn("Inventory.reserveOptimistic")(function* (request: ReserveRequest) {
    return yield* reserveOnce(request).pipe(
      Effect.tapError((error) =>
        error._tag === "ConcurrencyConflict"
          ? Effect.sync(() => inventoryConflicts.inc({ service: "inventory", path: "optimistic" }))
          : Effect.void,
      ),
      Effect.retry({
        schedule: conflictRetry.pipe(
          Schedule.tapOutput(() =>
            Effect.sync(() => inventoryRetries.inc({ service: "inventory", path: "optimistic" })),
          ),
        ),
        while: (error) => error._tag === "ConcurrencyConflict",
      }),
      Effect.catchTag("SqlError", (error) => Effect.die(error)),
      Effect.tapBoth({
        onFailure: (error) =>
          Effect.sync(() =>
            inventoryReservations.inc({ service: "inventory", path: "optimistic", outcome: error._tag }),
          ),
        onSuccess: () =>
          Effect.sync(() => inventoryReservations.inc({ service: "inventory", path: "optimistic", outcome: "ok" })),
      }),
    )
  })
})
