/**
 * Charging, once per idempotency key. The row is inserted `pending` BEFORE the provider is asked: the
 * unique index on the key makes exactly one request the driver, and every other request with the key —
 * a retry, or a duplicate racing it — finds that row and waits for it to settle, then answers the same.
 * A driver that dies mid-way leaves the row pending; once its lease runs out the next request with the
 * key takes it over and asks the provider again, which answers the same for the same key.
 */
import { Effect } from "effect"
import {
  type ChargeRequest,
  IdempotencyKeyReused,
  type Payment,
  PaymentDeclined,
  type PaymentId,
  type OrderId,
} from "../../rpc/payment.ts"
import { isSealed, PaymentMethodSeal } from "../../src/payment-method-seal.ts"
import { type ChargeOutcome, PaymentProvider } from "./provider.ts"
import { type PaymentRow, PaymentRepository, toPayment } from "./repository.ts"

/** How often a waiting duplicate looks again: soon at first (the provider is usually quick), then calmly. */
const pollDelays = [5, 10, 20, 40, 80, 100] as const
const pollDelay = (attempt: number) => pollDelays[Math.min(attempt, pollDelays.length - 1)] ?? 100

const samePayload = (row: PaymentRow, request: ChargeRequest) =>
  row.order_id === request.orderId &&
  row.customer === request.customer &&
  row.amount === request.amount.amount &&
  row.currency === request.amount.currency

export class Charges extends Effect.Service<Charges>()("payment/Charges", {
  effect: Effect.gen(function* () {
    const repository = yield* PaymentRepository
    const provider = yield* PaymentProvider
    const sealed = yield* PaymentMethodSeal

    /**
     * Asks the provider and records its answer. Uninterruptible: a caller that goes away (a client
     * timeout, a shutdown) must not leave behind a charge the provider made and we never recorded.
     */
    const drive = (row: PaymentRow, registered?: { readonly token: string | undefined }) => {
      const { amount, customer } = toPayment(row)
      return Effect.gen(function* () {
        const token =
          row.payment_method === null
            ? undefined
            : isSealed(row.payment_method)
              ? sealed.open(customer, row.payment_method)
              : registered !== undefined
                ? registered.token
                : yield* repository.tokenOf(row.payment_method, customer)
        // A method named but never registered, or sealed for someone else or with another key, has nothing
        // the provider could charge.
        const outcome: ChargeOutcome =
          row.payment_method !== null && token === undefined
            ? { _tag: "Declined", reference: `none_${row.id}`, reason: "unknown_payment_method" }
            : yield* provider.charge({ key: row.idempotency_key, amount, customer, token })
        return yield* repository.settlePayment(row, outcome)
      }).pipe(Effect.uninterruptible)
    }

    const load = (id: string) =>
      Effect.flatMap(repository.findById(id), (row) =>
        row === undefined ? Effect.dieMessage(`payment ${id} vanished`) : Effect.succeed(row),
      )

    /** The payment once it is captured or declined, taking it over when its driver's lease ran out. */
    const awaitSettled = Effect.fn("Payment.awaitSettled")(function* (id: string) {
      for (let attempt = 0; ; attempt++) {
        const row = yield* load(id)
        if (row.status !== "pending") return row
        if (row.lease_expired && (yield* repository.takeOverPayment(id))) {
          yield* Effect.logWarning("took over a pending payment whose driver's lease ran out").pipe(
            Effect.annotateLogs({ paymentId: id }),
          )
          yield* drive(row)
          continue
        }
        yield* Effect.sleep(pollDelay(attempt))
      }
    })

    /** The answer a settled payment gives, the same for the first request and every repeat. */
    const answer = (row: PaymentRow): Effect.Effect<Payment, PaymentDeclined> =>
      row.status === "declined"
        ? Effect.fail(
            new PaymentDeclined({
              paymentId: row.id as PaymentId,
              orderId: row.order_id as OrderId,
              reason: row.decline_reason ?? "declined",
            }),
          )
        : Effect.succeed(toPayment(row))

    /**
     * The payment row inserted pending and, when this request inserted it, driven to its outcome — in one
     * uninterruptible piece: a caller going away between the insert and the drive (a client that timed out,
     * a saga thread draining) would leave a pending row that nobody drives until its lease runs out, and
     * every retry of the key waiting that long. Undefined when the key was inserted before.
     */
    const insertAndDrive = (request: ChargeRequest) =>
      Effect.gen(function* () {
        const inserted = yield* repository.insertPending({
          id: `pay_${crypto.randomUUID()}`,
          idempotencyKey: request.idempotencyKey,
          orderId: request.orderId,
          customer: request.customer,
          amount: request.amount.amount,
          currency: request.amount.currency,
          paymentMethod: request.paymentMethod ?? null,
        })
        if (inserted === undefined) return undefined
        // The payment row is written before the void is read, and a refund writes the void before it
        // reads payments: whichever comes second sees the other, so a voided order is never captured.
        const registered =
          inserted.payment_method !== null && !isSealed(inserted.payment_method) ? inserted.payment_method : null
        const context = yield* repository.chargeContext(request.orderId, registered, request.customer)
        const settled = context.voided
          ? yield* repository.settlePayment(inserted, {
              _tag: "Declined",
              reference: `void_${inserted.id}`,
              reason: "order_voided",
            })
          : yield* drive(inserted, context)
        // Settled by this request as a rule; by a driver that took over only if this one stalled past its lease.
        return settled ?? (yield* load(inserted.id))
      }).pipe(Effect.uninterruptible)

    const charge = Effect.fn("Payment.charge")(function* (request: ChargeRequest) {
      const driven = yield* insertAndDrive(request)
      if (driven !== undefined) return yield* answer(driven)
      const existing = yield* repository.findByKey(request.idempotencyKey)
      if (existing === undefined) return yield* Effect.dieMessage(`payment key ${request.idempotencyKey} vanished`)
      if (!samePayload(existing, request)) {
        return yield* new IdempotencyKeyReused({ idempotencyKey: request.idempotencyKey })
      }
      return yield* answer(yield* awaitSettled(existing.id))
    })

    return { charge, awaitSettled } as const
  }),
  dependencies: [PaymentRepository.Default, PaymentMethodSeal.Default],
}) {}
