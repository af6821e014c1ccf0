/**
 * The payment service's SQL: payments (one per charge key), refunds (one per refund key) and the
 * provider ledger, with the outbox events written in the transaction of the state change they announce.
 * A database that stays away after the pool's own retries is infrastructure, not an answer: every
 * function here turns SQL errors into defects, so callers see only the outcomes they decide on.
 */
import { SqlClient, type SqlError } from "@effect/sql"
import { Data, Effect, Exit } from "effect"
import type { Currency, UserId } from "../../rpc/common.ts"
import {
  Money,
  type OrderId,
  Payment,
  PaymentCompleted,
  PaymentFailed,
  type PaymentId,
  type PaymentIdempotencyKey,
  PaymentRefunded,
  type PaymentStatus,
  Refund,
  type RefundId,
} from "../../rpc/payment.ts"
import { Outbox } from "../../src/events/outbox.ts"
import { makeGroupCommit } from "../../src/group-commit.ts"
import { dieOnSql, dying, recordset } from "../../src/postgres.ts"
import { pendingLeaseMillis } from "./config.ts"
import type { ChargeOutcome } from "./provider.ts"

export interface PaymentRow {
  readonly id: string
  readonly idempotency_key: string
  readonly order_id: string
  readonly customer: string
  readonly amount: number
  readonly currency: string
  readonly status: PaymentStatus
  readonly decline_reason: string | null
  readonly provider_reference: string | null
  readonly refunded: number
  /** Whether the lease of a pending payment ran out (its driver is presumed dead). */
  readonly lease_expired: boolean
  /** The payment method charged (payment_methods), if the charge named one. */
  readonly payment_method: string | null
  readonly created_at: Date
}

export interface RefundRow {
  readonly id: string
  readonly idempotency_key: string
  readonly payment_id: string
  readonly order_id: string
  readonly requested_payment_id: string | null
  readonly requested_order_id: string | null
  readonly requested_amount: number | null
  readonly amount: number
  readonly currency: string
  readonly status: "pending" | "refunded"
  readonly lease_expired: boolean
  readonly created_at: Date
}

export interface NewPayment {
  readonly id: string
  readonly idempotencyKey: string
  readonly orderId: string
  readonly customer: string
  readonly amount: number
  readonly currency: string
  readonly paymentMethod: string | null
}

export interface NewRefund {
  readonly id: string
  readonly idempotencyKey: string
  readonly paymentId: string
  readonly requestedPaymentId: string | null
  readonly requestedOrderId: string | null
  readonly requestedAmount: number | null
  readonly amount: number
  readonly currency: string
}

export type RefundReservation =
  | { readonly _tag: "Reserved"; readonly refund: RefundRow }
  | { readonly _tag: "NothingToRefund"; readonly payment: PaymentRow }

/** Another request inserted the same refund key first; the transaction rolls back and the caller re-reads. */
export class RefundKeyTaken extends Data.TaggedError("RefundKeyTaken")<{}> {}

// Rows come from our own tables, already checked by their constraints: no re-validation.
export const toPayment = (row: PaymentRow): Payment =>
  new Payment(
    {
      id: row.id as PaymentId,
      idempotencyKey: row.idempotency_key as PaymentIdempotencyKey,
      orderId: row.order_id as OrderId,
      customer: row.customer as UserId,
      amount: new Money({ amount: row.amount, currency: row.currency as Currency }, true),
      status: row.status,
      declineReason: row.decline_reason,
      providerReference: row.provider_reference,
      refunded: row.refunded,
      createdAt: row.created_at,
    },
    true,
  )

export const toRefund = (row: RefundRow): Refund =>
  new Refund(
    {
      id: row.id as RefundId,
      idempotencyKey: row.idempotency_key as PaymentIdempotencyKey,
      paymentId: row.payment_id as PaymentId,
      orderId: row.order_id as OrderId,
      amount: new Money({ amount: row.amount, currency: row.currency as Currency }, true),
      status: "refunded",
      createdAt: row.created_at,
    },
    true,
  )

export class PaymentRepository extends Effect.Service<PaymentRepository>()("payment/PaymentRepository", {
  scoped: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const outbox = yield* Outbox
    const leaseMillis = yield* pendingLeaseMillis
    const leaseUntil = sql`now() + ${leaseMillis}::int * interval '1 millisecond'`

    const paymentColumns = sql`
      id, idempotency_key, order_id, customer, amount::float8 AS amount, currency, status, decline_reason,
      provider_reference, refunded::float8 AS refunded, (status = 'pending' AND lease_until < now()) AS lease_expired,
      payment_method, created_at`
    const refundColumns = sql`
      r.id, r.idempotency_key, r.payment_id, p.order_id, r.requested_payment_id, r.requested_order_id,
      r.requested_amount::float8 AS requested_amount, r.amount::float8 AS amount, r.currency, r.status,
      (r.status = 'pending' AND r.lease_until < now()) AS lease_expired, r.created_at`

    const first = <A>(rows: ReadonlyArray<A>): A | undefined => rows[0]

    /**
     * Inserts each pending payment unless its key exists. Answers each new row, or undefined where the key was
     * taken — by an earlier request, or by a racing one (which this insert waited for on the unique index).
     */
    const insertPendingMany = (payments: ReadonlyArray<NewPayment>) =>
      sql<PaymentRow>`
        INSERT INTO payments (id, idempotency_key, order_id, customer, amount, currency, status, lease_until,
                              payment_method)
        SELECT v.id, v.idempotency_key, v.order_id, v.customer, v.amount, v.currency, 'pending', ${leaseUntil},
               v.payment_method
        FROM ${recordset(
          sql,
          payments.map((payment) => ({
            id: payment.id,
            idempotency_key: payment.idempotencyKey,
            order_id: payment.orderId,
            customer: payment.customer,
            amount: payment.amount,
            currency: payment.currency,
            payment_method: payment.paymentMethod,
          })),
          "v (id text, idempotency_key text, order_id text, customer text, amount bigint, currency text, payment_method text)",
        )}
        -- Keys in one order, so two batches sharing keys wait for each other instead of deadlocking.
        ORDER BY v.idempotency_key
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING ${paymentColumns}`.pipe(
        Effect.map((rows) => {
          const inserted = new Map(rows.map((row) => [row.id, row]))
          return payments.map((payment) => Exit.succeed(inserted.get(payment.id)))
        }),
      )

    /** Marks the order voided (idempotent). Written before a refund looks for the order's payments. */
    const voidOrder = (orderId: string) =>
      sql`INSERT INTO order_voids (order_id) VALUES (${orderId}) ON CONFLICT (order_id) DO NOTHING`.pipe(Effect.asVoid)

    /** Holds each `token` as its `id` for the customer; the same id again changes nothing. */
    const savePaymentMethods = (
      methods: ReadonlyArray<{ readonly id: string; readonly customer: string; readonly token: string }>,
    ) =>
      sql`INSERT INTO payment_methods (id, customer, token)
          SELECT v.id, v.customer, v.token FROM ${recordset(sql, methods, "v (id text, customer text, token text)")}
          ORDER BY v.id
          ON CONFLICT (id) DO NOTHING`.pipe(Effect.as(methods.map(() => Exit.void)))

    /** The token of a payment method of `customer`; undefined when there is none. */
    const tokenOf = (id: string, customer: string) =>
      sql<{ token: string }>`SELECT token FROM payment_methods WHERE id = ${id} AND customer = ${customer}`.pipe(
        Effect.map((rows) => rows[0]?.token),
      )

    /**
     * What each fresh charge needs before the provider is asked, in one read: whether the order was voided
     * and the token of the registered payment method it names (undefined when none is named or none is
     * registered; a sealed method is opened by the charge itself, not looked up).
     */
    const chargeContextMany = (
      requests: ReadonlyArray<{
        readonly orderId: string
        readonly paymentMethod: string | null
        readonly customer: string
      }>,
    ) =>
      sql<{ voided: boolean; token: string | null }>`
        SELECT EXISTS (SELECT 1 FROM order_voids o WHERE o.order_id = v.order_id) AS voided,
               (SELECT token FROM payment_methods m WHERE m.id = v.payment_method AND m.customer = v.customer) AS token
        FROM ${recordset(
          sql,
          requests.map((request, i) => ({
            i,
            order_id: request.orderId,
            payment_method: request.paymentMethod,
            customer: request.customer,
          })),
          "v (i int, order_id text, payment_method text, customer text)",
        )}
        ORDER BY v.i`.pipe(
        Effect.map((rows) =>
          requests.map((_, i) =>
            Exit.succeed({ voided: rows[i]?.voided === true, token: rows[i]?.token ?? undefined }),
          ),
        ),
      )

    const findByKey = (key: string) =>
      sql<PaymentRow>`SELECT ${paymentColumns} FROM payments WHERE idempotency_key = ${key}`.pipe(Effect.map(first))

    const findById = (id: string) =>
      sql<PaymentRow>`SELECT ${paymentColumns} FROM payments WHERE id = ${id}`.pipe(Effect.map(first))

    /** The order's latest payment: a captured one before any other, then the newest. */
    const findByOrder = (orderId: string) =>
      sql<PaymentRow>`
        SELECT ${paymentColumns} FROM payments WHERE order_id = ${orderId}
        ORDER BY (status = 'captured') DESC, created_at DESC, id LIMIT 1`.pipe(Effect.map(first))

    /** A payment of the order still waiting for the provider, if any (a refund by order waits for it first). */
    const findPendingOfOrder = (orderId: string) =>
      sql<PaymentRow>`
        SELECT ${paymentColumns} FROM payments WHERE order_id = ${orderId} AND status = 'pending'
        ORDER BY created_at LIMIT 1`.pipe(Effect.map(first))

    /** Takes over a pending payment whose lease ran out; true when this caller now drives it. */
    const takeOverPayment = (id: string) =>
      sql<{ id: string }>`
        UPDATE payments SET lease_until = ${leaseUntil}, updated_at = now()
        WHERE id = ${id} AND status = 'pending' AND lease_until < now()
        RETURNING id`.pipe(Effect.map((rows) => rows.length > 0))

    const settledEvent = (row: PaymentRow, outcome: ChargeOutcome) => {
      const fields = {
        paymentId: row.id as PaymentId,
        orderId: row.order_id as OrderId,
        customer: row.customer as UserId,
        amount: new Money({ amount: row.amount, currency: row.currency as Currency }, true),
      }
      return (
        outcome._tag === "Captured"
          ? PaymentCompleted.make({ ...fields, providerReference: outcome.reference }, { key: row.order_id })
          : PaymentFailed.make({ ...fields, reason: outcome.reason }, { key: row.order_id })
      ).pipe(
        // Our own values always fit our own event schemas: a failure to encode is a bug.
        Effect.orDie,
      )
    }

    /**
     * Records the provider's answer for each `row` (a payment read or inserted before), once: only a payment
     * still pending moves, so a second driver (after a takeover) finds it settled and records nothing. The
     * move, its transaction row and its event are one statement. Answers each settled row, or undefined
     * where another driver had settled it.
     */
    const settleMany = (settlements: ReadonlyArray<{ readonly row: PaymentRow; readonly outcome: ChargeOutcome }>) =>
      Effect.gen(function* () {
        const entries = yield* Effect.forEach(settlements, ({ row, outcome }) =>
          Effect.map(settledEvent(row, outcome), (event) => ({
            event,
            value: {
              id: row.id,
              status: outcome._tag === "Captured" ? "captured" : "declined",
              decline_reason: outcome._tag === "Declined" ? outcome.reason : null,
              provider_reference: outcome.reference,
              kind: outcome._tag === "Captured" ? "capture" : "decline",
              event_id: event.id,
            },
          })),
        )
        // A payment moves only while pending and each move carries its own event, so the event of a
        // payment another driver settled first is not written.
        const settled = yield* sql<PaymentRow & { readonly settled_by: string }>`
          WITH settled AS (
            UPDATE payments p
            SET status = v.status, decline_reason = v.decline_reason, provider_reference = v.provider_reference,
                updated_at = now()
            FROM ${recordset(
              sql,
              entries.map((entry) => entry.value),
              "v (id text, status text, decline_reason text, provider_reference text, kind text, event_id text)",
            )}
            WHERE p.id = v.id AND p.status = 'pending'
            RETURNING p.*, v.kind, v.event_id),
          recorded AS (
            INSERT INTO transactions (payment_id, kind, amount, currency, provider_reference)
            SELECT id, kind, amount, currency, provider_reference FROM settled),
          event AS (${outbox.appendIf(
            entries.map((entry) => entry.event),
            sql`EXISTS (SELECT 1 FROM settled s WHERE s.event_id = e.event_id::text)`,
          )})
          SELECT ${paymentColumns}, event_id AS settled_by FROM settled`
        const byEvent = new Map(settled.map(({ settled_by, ...row }) => [settled_by, row as PaymentRow]))
        return entries.map((entry) => Exit.succeed(byEvent.get(entry.event.id)))
      })

    const findRefundByKey = (key: string) =>
      sql<RefundRow>`
        SELECT ${refundColumns} FROM refunds r JOIN payments p ON p.id = r.payment_id
        WHERE r.idempotency_key = ${key}`.pipe(Effect.map(first))

    /**
     * Reserves a refund on a captured payment: locks the payment row (so concurrent refunds of it queue up
     * and each sees the others' amounts), checks what is left, inserts the refund pending and raises
     * `refunded` — one transaction. `decide` sees the locked payment and names the amount to refund (or
     * fails typed); zero means nothing to do.
     */
    const reserveRefund = <E>(
      paymentId: string,
      refund: Omit<NewRefund, "amount" | "currency" | "paymentId">,
      decide: (payment: PaymentRow) => Effect.Effect<number, E>,
    ): Effect.Effect<RefundReservation, E | RefundKeyTaken | SqlError.SqlError> =>
      sql.withTransaction(
        Effect.gen(function* () {
          const payment = first(
            yield* sql<PaymentRow>`SELECT ${paymentColumns} FROM payments WHERE id = ${paymentId} FOR UPDATE`,
          )
          if (payment === undefined) return yield* Effect.dieMessage(`payment ${paymentId} vanished`)
          // A racing request with this key may have committed while this one waited for the lock: its refund
          // is the answer, and judging the amount against what it left would wrongly fail this repeat.
          const taken = yield* sql`SELECT 1 FROM refunds WHERE idempotency_key = ${refund.idempotencyKey}`
          if (taken.length > 0) return yield* new RefundKeyTaken()
          const amount = yield* decide(payment)
          if (amount === 0) return { _tag: "NothingToRefund", payment } as const
          const inserted = yield* sql<{ id: string }>`
            INSERT INTO refunds (id, idempotency_key, payment_id, requested_payment_id, requested_order_id,
                                 requested_amount, amount, currency, status, lease_until)
            VALUES (${refund.id}, ${refund.idempotencyKey}, ${paymentId}, ${refund.requestedPaymentId},
                    ${refund.requestedOrderId}, ${refund.requestedAmount}, ${amount}, ${payment.currency},
                    'pending', ${leaseUntil})
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING id`
          if (inserted.length === 0) return yield* new RefundKeyTaken()
          // The row lock above already serialises refunds of this payment; the guard is kept as the rule itself.
          const raised = yield* sql<{ id: string }>`
            UPDATE payments SET refunded = refunded + ${amount}, updated_at = now()
            WHERE id = ${paymentId} AND status = 'captured' AND refunded + ${amount} <= amount
            RETURNING id`
          if (raised.length === 0) return yield* Effect.dieMessage(`refund past the capture of ${paymentId}`)
          const reserved = first(
            yield* sql<RefundRow>`
              SELECT ${refundColumns} FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE r.id = ${refund.id}`,
          )
          if (reserved === undefined) return yield* Effect.dieMessage(`refund ${refund.id} vanished`)
          return { _tag: "Reserved", refund: reserved } as const
        }),
      )

    const takeOverRefund = (id: string) =>
      sql<{ id: string }>`
        UPDATE refunds SET lease_until = ${leaseUntil}, updated_at = now()
        WHERE id = ${id} AND status = 'pending' AND lease_until < now()
        RETURNING id`.pipe(Effect.map((rows) => rows.length > 0))

    /** Records the provider's refund, once, with its event. */
    const settleRefund = (id: string, providerReference: string) =>
      sql.withTransaction(
        Effect.gen(function* () {
          const updated = yield* sql<{ id: string }>`
            UPDATE refunds SET status = 'refunded', provider_reference = ${providerReference}, updated_at = now()
            WHERE id = ${id} AND status = 'pending'
            RETURNING id`
          if (updated.length === 0) return
          const [row] = yield* sql<RefundRow & { customer: string; total_refunded: number }>`
            SELECT ${refundColumns}, p.customer, p.refunded::float8 AS total_refunded
            FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE r.id = ${id}`
          if (row === undefined) return yield* Effect.dieMessage(`refund ${id} vanished`)
          yield* sql`
            INSERT INTO transactions (payment_id, refund_id, kind, amount, currency, provider_reference)
            VALUES (${row.payment_id}, ${id}, 'refund', ${row.amount}, ${row.currency}, ${providerReference})`
          const event = yield* PaymentRefunded.make(
            {
              refundId: row.id as RefundId,
              paymentId: row.payment_id as PaymentId,
              orderId: row.order_id as OrderId,
              customer: row.customer as UserId,
              amount: new Money({ amount: row.amount, currency: row.currency as Currency }, true),
              totalRefunded: row.total_refunded,
            },
            { key: row.order_id },
          )
          yield* outbox.append(event)
        }).pipe(Effect.catchTag("ParseError", Effect.die)),
      )

    const findRefundById = (id: string) =>
      sql<RefundRow>`
        SELECT ${refundColumns} FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE r.id = ${id}`.pipe(
        Effect.map(first),
      )

    const chargeReference = (paymentId: string) =>
      sql<{ provider_reference: string | null }>`SELECT provider_reference FROM payments WHERE id = ${paymentId}`.pipe(
        Effect.map((rows) => first(rows)?.provider_reference ?? null),
      )

    // Charges arriving together share their statements: each of these runs once for every caller waiting
    // at that moment (src/group-commit.ts), and each caller still gets its own row.
    const insertPending = yield* makeGroupCommit("payment.insert", dying(insertPendingMany))
    const chargeContext = yield* makeGroupCommit("payment.context", dying(chargeContextMany))
    // Every checkout registers its payment method on the way in, so these arrive as often as checkouts do.
    const savePaymentMethod = yield* makeGroupCommit("payment.methods", dying(savePaymentMethods))
    const settle = yield* makeGroupCommit("payment.settle", dying(settleMany))

    return {
      voidOrder: dying(voidOrder),
      chargeContext: (orderId: string, paymentMethod: string | null, customer: string) =>
        chargeContext({ orderId, paymentMethod, customer }),
      insertPending,
      savePaymentMethod: (id: string, customer: string, token: string) => savePaymentMethod({ id, customer, token }),
      tokenOf: dying(tokenOf),
      findByKey: dying(findByKey),
      findById: dying(findById),
      findByOrder: dying(findByOrder),
      findPendingOfOrder: dying(findPendingOfOrder),
      takeOverPayment: dying(takeOverPayment),
      settlePayment: (row: PaymentRow, outcome: ChargeOutcome) => settle({ row, outcome }),
      findRefundByKey: dying(findRefundByKey),
      findRefundById: dying(findRefundById),
      reserveRefund: <E>(
        paymentId: string,
        refund: Omit<NewRefund, "amount" | "currency" | "paymentId">,
        decide: (payment: PaymentRow) => Effect.Effect<number, E>,
      ) => dieOnSql(reserveRefund(paymentId, refund, decide)),
      takeOverRefund: dying(takeOverRefund),
      settleRefund: dying(settleRefund),
      chargeReference: dying(chargeReference),
    } as const
  }),
  dependencies: [Outbox.Default],
}) {}
