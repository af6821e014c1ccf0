/**
 * The coalescing single writer. Every stock mutation of this process (reserve, release, commit, restock,
 * adjust, expiry) is queued with a Deferred; one worker fiber drains whatever is pending into a batch and
 * applies it: read the touched rows with their versions, decide each operation in arrival order in memory
 * (StockBatch), write every touched row, reservation and movement in one version-guarded statement, then
 * answer each caller.
 *
 * Why: with one transaction per request, N concurrent reservers of a hot SKU queue on its row lock and all
 * but one find the version moved — throughput collapses into retries. Here the queue serialises this
 * process's writers for free and a batch costs a handful of round trips whatever its size. The version
 * guard still decides between processes: if another replica wrote a row since the batch read it, the
 * batch rolls back and is retried whole; after the bounded retries each of its operations fails with
 * ConcurrencyConflict.
 */
import { Chunk, Clock, Deferred, Effect, FiberId, Either, Exit, Queue, Schedule } from "effect"
import {
  type AdjustRequest,
  ConcurrencyConflict,
  type InsufficientStock,
  type InvalidAdjustment,
  type Reservation,
  type ReservationNotActive,
  type ReservationNotFound,
  type ReservationId,
  type ReserveRequest,
  type RestockRequest,
  type StockItem,
  type UnknownSku,
} from "../../rpc/inventory.ts"
import {
  inventoryBatchDuration,
  inventoryBatchSize,
  inventoryConflicts,
  inventoryQueueLength,
  inventoryReservations,
  inventoryRetries,
} from "../../src/metrics.ts"
import { writerMaxBatch } from "./config.ts"
import { InventoryEvents } from "./events.ts"
import { type MovementKey, StockRepository } from "./repository.ts"
import { StockBatch } from "./stock-batch.ts"

type Pending =
  | {
      readonly _tag: "Reserve"
      readonly request: ReserveRequest
      readonly done: Deferred.Deferred<Reservation, InsufficientStock | UnknownSku | ConcurrencyConflict>
    }
  | {
      readonly _tag: "Release"
      readonly reservationId: ReservationId
      readonly expiry: boolean
      readonly done: Deferred.Deferred<Reservation, ReservationNotFound | ReservationNotActive | ConcurrencyConflict>
    }
  | {
      readonly _tag: "Commit"
      readonly reservationId: ReservationId
      readonly done: Deferred.Deferred<Reservation, ReservationNotFound | ReservationNotActive | ConcurrencyConflict>
    }
  | {
      readonly _tag: "Restock"
      readonly request: RestockRequest
      readonly done: Deferred.Deferred<StockItem, ConcurrencyConflict>
    }
  | {
      readonly _tag: "Adjust"
      readonly request: AdjustRequest
      readonly done: Deferred.Deferred<StockItem, UnknownSku | InvalidAdjustment | ConcurrencyConflict>
    }

export interface StockWriterOptions {
  /** Most operations per transaction. */
  readonly maxBatch?: number
  /** Retries of a whole batch after a version conflict with another process. */
  readonly conflictRetry?: Schedule.Schedule<unknown, unknown>
  /** Prometheus `service` label (and log annotation). */
  readonly service?: string
}

const defaultBatchRetry = Schedule.exponential("5 millis", 1.5).pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(10)),
)

export const makeStockWriter = (options: StockWriterOptions = {}) =>
  Effect.gen(function* () {
    const repository = yield* StockRepository
    const events = yield* InventoryEvents
    const maxBatch = options.maxBatch ?? 512
    const service = options.service ?? "inventory"
    const batchRetry = options.conflictRetry ?? defaultBatchRetry
    const queue = yield* Queue.unbounded<Pending>()

    /**
     * Reads what the batch touches, decides every operation in memory, then writes the outcome in one
     * transaction whose guarded statement fails the attempt if anything changed since the read.
     */
    const attempt = (batch: ReadonlyArray<Pending>) =>
      Effect.gen(function* () {
        const reservationIds = new Set<string>()
        const skus = new Set<string>()
        const movementKeys: Array<MovementKey> = []
        for (const op of batch) {
          switch (op._tag) {
            case "Reserve":
              reservationIds.add(op.request.reservationId)
              for (const line of op.request.lines) skus.add(line.sku)
              break
            case "Release":
            case "Commit":
              reservationIds.add(op.reservationId)
              break
            case "Restock":
              skus.add(op.request.sku)
              movementKeys.push({ kind: "restock", reference: op.request.restockId, sku: op.request.sku })
              break
            case "Adjust":
              skus.add(op.request.sku)
              movementKeys.push({ kind: "adjust", reference: op.request.adjustmentId, sku: op.request.sku })
              break
          }
        }
        const loaded = yield* repository.loadBatch({
          reservationIds: [...reservationIds],
          skus: [...skus],
          movementKeys,
        })
        const now = yield* Clock.currentTimeMillis
        const state = new StockBatch(now, loaded.stocks, loaded.reservations, loaded.booked)

        const answers: Array<Effect.Effect<unknown>> = []
        const reserveOutcomes: Array<string> = []
        for (const op of batch) {
          switch (op._tag) {
            case "Reserve": {
              const result = state.reserve(op.request)
              reserveOutcomes.push(Either.isRight(result) ? "ok" : result.left._tag)
              answers.push(Deferred.done(op.done, eitherToExit(result)))
              break
            }
            case "Release":
              answers.push(Deferred.done(op.done, eitherToExit(state.release(op.reservationId, op.expiry))))
              break
            case "Commit":
              answers.push(Deferred.done(op.done, eitherToExit(state.commit(op.reservationId))))
              break
            case "Restock":
              answers.push(Deferred.done(op.done, eitherToExit(state.restock(op.request))))
              break
            case "Adjust":
              answers.push(Deferred.done(op.done, eitherToExit(state.adjust(op.request))))
              break
          }
        }

        const writes = state.writes()
        const nothingToWrite =
          writes.updates.length + writes.inserts.length + writes.newReservations.length + writes.finished.length === 0
        if (!nothingToWrite) {
          // The batch's events ride on its statement: a conflict rolls them back with it.
          yield* repository.writeBatch(writes, events.asPart(state.events, new Date(now)))
        }
        return { answers, reserveOutcomes }
      })

    const failAll = (batch: ReadonlyArray<Pending>, exit: Exit.Exit<never, ConcurrencyConflict>) =>
      Effect.forEach(batch, (op) => settle(op, exit), { discard: true })

    const applyBatch = (batch: ReadonlyArray<Pending>) =>
      Effect.gen(function* () {
        const started = performance.now()
        inventoryBatchSize.observe({ service }, batch.length)
        const outcome = yield* attempt(batch).pipe(
          Effect.tapError((error) =>
            error._tag === "BatchOutdated"
              ? Effect.sync(() => inventoryConflicts.inc({ service, path: "writer" }))
              : Effect.void,
          ),
          Effect.retry({
            schedule: batchRetry.pipe(
              Schedule.tapOutput(() => Effect.sync(() => inventoryRetries.inc({ service, path: "writer" }))),
            ),
            while: (error) => error._tag === "BatchOutdated",
          }),
          Effect.either,
        )
        const countReserves = (outcomes: ReadonlyArray<string>) =>
          outcomes.forEach((outcome) => inventoryReservations.add({ service, path: "writer", outcome }))
        const reserves = batch.filter((op) => op._tag === "Reserve").length
        if (Either.isRight(outcome)) {
          yield* Effect.all(outcome.right.answers, { discard: true })
          countReserves(outcome.right.reserveOutcomes)
        } else if (outcome.left._tag === "BatchOutdated") {
          yield* Effect.logWarning("writer batch lost to another writer after retries").pipe(
            Effect.annotateLogs({ size: batch.length, what: outcome.left.what }),
          )
          yield* failAll(batch, Exit.fail(new ConcurrencyConflict({})))
          countReserves(Array.from({ length: reserves }, () => "ConcurrencyConflict"))
        } else {
          // The database failed (not a decision about stock): those callers get a defect, the worker goes on.
          yield* Effect.logError("writer batch failed", outcome.left).pipe(Effect.annotateLogs({ size: batch.length }))
          yield* failAll(batch, Exit.die(outcome.left))
          countReserves(Array.from({ length: reserves }, () => "defect"))
        }
        inventoryBatchDuration.observe({ service }, (performance.now() - started) / 1000)
      }).pipe(Effect.withSpan("Inventory.writeBatch", { attributes: { size: batch.length } }))

    // Finishing a batch is never interrupted: on shutdown the batch in hand is written and answered.
    const worker = Effect.gen(function* () {
      const taken = yield* Queue.takeBetween(queue, 1, maxBatch)
      inventoryQueueLength.set({ service }, yield* Queue.size(queue))
      yield* Effect.uninterruptible(applyBatch(Chunk.toReadonlyArray(taken)))
    }).pipe(Effect.forever)

    yield* Effect.forkScoped(worker)
    // Whatever is still queued at shutdown is never written: interrupt its callers instead of leaving them hanging.
    yield* Effect.addFinalizer(() =>
      Queue.takeAll(queue).pipe(
        Effect.flatMap((rest) =>
          Effect.forEach(rest, (op) => settle(op, Exit.interrupt(FiberId.none)), {
            discard: true,
          }),
        ),
        Effect.zipRight(Queue.shutdown(queue)),
      ),
    )

    /** One operation queued, built by `make` around the Deferred its caller waits on; its outcome. */
    const submit = <I, A, E>(item: I, make: (item: I, done: Deferred.Deferred<A, E>) => Pending) =>
      Effect.flatMap(Deferred.make<A, E>(), (done) =>
        Effect.zipRight(Queue.offer(queue, make(item, done)), Deferred.await(done)),
      )

    /**
     * Many operations queued at once (one offer, so they join one batch) and each one's outcome, in order:
     * the calls of a batched RPC wait here without a fiber each.
     */
    const submitAll = <I, A, E>(items: ReadonlyArray<I>, make: (item: I, done: Deferred.Deferred<A, E>) => Pending) =>
      Effect.gen(function* () {
        const pending = items.map((item) => ({ item, done: Deferred.unsafeMake<A, E>(FiberId.none) }))
        yield* Queue.offerAll(
          queue,
          pending.map(({ item, done }) => make(item, done)),
        )
        const outcomes: Array<Either.Either<A, E>> = []
        for (const { done } of pending) outcomes.push(yield* Effect.either(Deferred.await(done)))
        return outcomes
      })

    const reserveOf = (
      request: ReserveRequest,
      done: Deferred.Deferred<Reservation, InsufficientStock | UnknownSku | ConcurrencyConflict>,
    ): Pending => ({ _tag: "Reserve", request, done })
    const commitOf = (
      reservationId: ReservationId,
      done: Deferred.Deferred<Reservation, ReservationNotFound | ReservationNotActive | ConcurrencyConflict>,
    ): Pending => ({ _tag: "Commit", reservationId, done })
    const releaseOf =
      (expiry: boolean) =>
      (
        reservationId: ReservationId,
        done: Deferred.Deferred<Reservation, ReservationNotFound | ReservationNotActive | ConcurrencyConflict>,
      ): Pending => ({ _tag: "Release", reservationId, expiry, done })
    const restockOf = (request: RestockRequest, done: Deferred.Deferred<StockItem, ConcurrencyConflict>): Pending => ({
      _tag: "Restock",
      request,
      done,
    })
    const adjustOf = (
      request: AdjustRequest,
      done: Deferred.Deferred<StockItem, UnknownSku | InvalidAdjustment | ConcurrencyConflict>,
    ): Pending => ({ _tag: "Adjust", request, done })

    // The per-reservation operations carry no span of their own (`Effect.fn`'s span and stack capture cost
    // ~4 µs a call; bench/RESULTS.md, "The hot SKU over RPC"); their batch has one, `Inventory.writeBatch`.
    return {
      reserve: (request: ReserveRequest) => submit(request, reserveOf),
      /** Each request's reservation or refusal, in order: a refusal fails only its own request. */
      reserveAll: (requests: ReadonlyArray<ReserveRequest>) => submitAll(requests, reserveOf),
      release: (reservationId: ReservationId) => submit(reservationId, releaseOf(false)),
      /** The sweeper's release: only a live reservation past its expiry is released; anything else is left as is. */
      expire: (reservationId: ReservationId) => submit(reservationId, releaseOf(true)),
      commit: (reservationId: ReservationId) => submit(reservationId, commitOf),
      /** Each reservation's commit or refusal, in order. */
      commitAll: (reservationIds: ReadonlyArray<ReservationId>) => submitAll(reservationIds, commitOf),
      restock: Effect.fn("Inventory.restock")(function* (request: RestockRequest) {
        return yield* submit(request, restockOf)
      }),
      adjust: Effect.fn("Inventory.adjust")(function* (request: AdjustRequest) {
        return yield* submit(request, adjustOf)
      }),
      /** Operations waiting for the worker. */
      pending: Queue.size(queue),
    } as const
  })

/** Answers a caller with an outcome every operation can take (a conflict, a defect, an interruption). */
const settle = (op: Pending, exit: Exit.Exit<never, ConcurrencyConflict>): Effect.Effect<boolean> => {
  switch (op._tag) {
    case "Reserve":
      return Deferred.done(op.done, exit)
    case "Release":
    case "Commit":
      return Deferred.done(op.done, exit)
    case "Restock":
      return Deferred.done(op.done, exit)
    case "Adjust":
      return Deferred.done(op.done, exit)
  }
}

const eitherToExit = <A, E>(either: Either.Either<A, E>): Exit.Exit<A, E> =>
  Either.isRight(either) ? Exit.succeed(either.right) : Exit.fail(either.left)

/** The service's writer: one per process, started with the Layer and drained when it closes. */
export class StockWriter extends Effect.Service<StockWriter>()("inventory/StockWriter", {
  scoped: Effect.flatMap(writerMaxBatch, (maxBatch) => makeStockWriter({ maxBatch })),
  dependencies: [StockRepository.Default],
}) {}
