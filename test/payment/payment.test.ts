/**
 * The payment service as a real process (services/payment/main.ts) on the real PostgreSQL and Kafka,
 * called over RPC. The simulated provider answers after 30 ms, so racing requests really overlap.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { SQL } from "bun"
import { Effect, Layer, Redacted } from "effect"
import type { Currency, UserId } from "../../rpc/common.ts"
import {
  Money,
  type OrderId,
  type PaymentId,
  type PaymentIdempotencyKey,
  PaymentMethodId,
  PaymentDeclined,
  PaymentRpcs,
} from "../../rpc/payment.ts"
import { PaymentMethodSeal, sealKeys, sealPaymentMethod } from "../../src/payment-method-seal.ts"
import { RpcClientTag } from "../../src/rpc/index.ts"
import { adminQuery, databaseUrlFor, statementCalls } from "../support/postgres.ts"
import { testRuntime } from "../support/run.ts"
import { type ServiceProcess, startService, testDatabaseSuffix } from "../support/service-process.ts"

class PaymentClient extends RpcClientTag<PaymentClient>()("payment", PaymentRpcs) {}

const database = `cm_payment${testDatabaseSuffix}`
const unique = (prefix: string) => `${prefix}-${crypto.randomUUID()}`
const key = () => unique("key") as PaymentIdempotencyKey
const order = () => unique("order") as OrderId
const customer = (prefix = "cus") => unique(prefix) as UserId
const eur = (amount: number) => new Money({ amount, currency: "EUR" as Currency })

let service: ServiceProcess
let runtime: ReturnType<typeof testRuntime<PaymentClient, unknown>>
const run = <A, E>(effect: Effect.Effect<A, E, PaymentClient>) => runtime.run(effect)

beforeAll(async () => {
  service = await startService("payment", { PAYMENT_PROVIDER_LATENCY_MS: "30", DATABASE_POOL_SIZE: "8" })
  runtime = testRuntime(PaymentClient.layer({ timeout: "20 seconds" }).pipe(Layer.provide(service.clientConfig)))
})

afterAll(async () => {
  await runtime?.dispose()
  await service?.stop()
})

const charge = (amount = 1_000, overrides: { customer?: UserId; orderId?: OrderId } = {}) =>
  Effect.flatMap(PaymentClient, (payments) =>
    payments.Charge({
      idempotencyKey: key(),
      orderId: overrides.orderId ?? order(),
      amount: eur(amount),
      customer: overrides.customer ?? customer(),
    }),
  )

describe("the payment process", () => {
  test("is live and ready on its side port, and counts its RPCs in /metrics", async () => {
    const base = `http://127.0.0.1:${service.httpPort}`
    expect((await fetch(`${base}/healthz`)).status).toBe(200)
    const readiness = await fetch(`${base}/readyz`)
    expect(readiness.status).toBe(200)
    expect(await readiness.json()).toMatchObject({ status: "ready", service: "payment" })
    await run(charge())
    const metrics = await (await fetch(`${base}/metrics`)).text()
    expect(metrics).toContain('method="Charge",outcome="ok"')
    // How many callers each statement of a group commit carried.
    expect(metrics).toMatch(/group_commit_batch_size_count\{writer="payment\.insert"\} [1-9]/)
  })
})

describe("Charge", () => {
  test("captures, and GetPayment / GetPaymentByOrder read the payment back", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const orderId = order()
        const payment = yield* charge(2_500, { orderId })
        expect(payment.status).toBe("captured")
        expect(payment.amount).toEqual(eur(2_500))
        expect(payment.refunded).toBe(0)
        expect(payment.providerReference).toStartWith("sim_ch_")
        expect(yield* payments.GetPayment({ paymentId: payment.id })).toEqual(payment)
        expect(yield* payments.GetPaymentByOrder({ orderId })).toEqual(payment)
      }),
    ))

  test("a repeat of the key answers the first payment and charges nothing more", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const request = { idempotencyKey: key(), orderId: order(), amount: eur(700), customer: customer() }
        const first = yield* payments.Charge(request)
        const again = yield* payments.Charge(request)
        expect(again).toEqual(first)
        const rows = yield* Effect.promise(() =>
          adminQuery(`SELECT count(*)::int AS n FROM transactions WHERE payment_id = '${first.id}'`, database),
        )
        expect(rows[0]?.n).toBe(1)
      }),
    ))

  test("the same key with another amount fails with IdempotencyKeyReused", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const request = { idempotencyKey: key(), orderId: order(), amount: eur(700), customer: customer() }
        yield* payments.Charge(request)
        const error = yield* payments.Charge({ ...request, amount: eur(701) }).pipe(Effect.flip)
        expect(error._tag).toBe("IdempotencyKeyReused")
      }),
    ))

  test("an amount ending in 13 is declined, typed, and a repeat is declined the same way", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const request = { idempotencyKey: key(), orderId: order(), amount: eur(1_013), customer: customer() }
        const error = yield* payments.Charge(request).pipe(Effect.flip)
        expect(error).toBeInstanceOf(PaymentDeclined)
        if (error._tag !== "PaymentDeclined") throw new Error("expected PaymentDeclined")
        expect(error.reason).toBe("insufficient_funds")
        expect(yield* payments.Charge(request).pipe(Effect.flip)).toEqual(error)
        const stored = yield* payments.GetPayment({ paymentId: error.paymentId })
        expect(stored.status).toBe("declined")
        expect(stored.declineReason).toBe("insufficient_funds")
      }),
    ))

  test("a customer whose id starts with 'decline' is always declined", () =>
    run(
      Effect.gen(function* () {
        const error = yield* charge(500, { customer: customer("decline") }).pipe(Effect.flip)
        expect(error._tag).toBe("PaymentDeclined")
        if (error._tag === "PaymentDeclined") expect(error.reason).toBe("card_declined")
      }),
    ))

  test("the provider decides on the payment method's token; a method not registered for the customer is declined", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const buyer = customer()
        const [good, bad] = [unique("pm") as PaymentMethodId, unique("pm") as PaymentMethodId]
        yield* payments.RegisterPaymentMethod({ paymentMethod: good, customer: buyer, token: "tok_visa" })
        yield* payments.RegisterPaymentMethod({ paymentMethod: bad, customer: buyer, token: "decline_card" })
        // Registering again changes nothing (a retried checkout registers its method again).
        yield* payments.RegisterPaymentMethod({ paymentMethod: good, customer: buyer, token: "tok_visa" })
        const pay = (paymentMethod: PaymentMethodId, who = buyer) =>
          payments.Charge({ idempotencyKey: key(), orderId: order(), amount: eur(800), customer: who, paymentMethod })
        expect((yield* pay(good)).status).toBe("captured")
        const declined = yield* pay(bad).pipe(Effect.flip)
        expect(declined).toMatchObject({ _tag: "PaymentDeclined", reason: "card_declined" })
        const unknown = yield* pay(unique("pm") as PaymentMethodId).pipe(Effect.flip)
        expect(unknown).toMatchObject({ _tag: "PaymentDeclined", reason: "unknown_payment_method" })
        const someoneElses = yield* pay(good, customer()).pipe(Effect.flip)
        expect(someoneElses).toMatchObject({ _tag: "PaymentDeclined", reason: "unknown_payment_method" })
      }),
    ))

  test("a card token sealed for payment (the gateway's checkout) charges on its token, only for its customer", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        // The payment process runs with the default key, as the gateway does.
        const seal = yield* PaymentMethodSeal.pipe(Effect.provide(PaymentMethodSeal.Default))
        const buyer = customer()
        const sealed = (token: string, who: string = buyer) => PaymentMethodId.make(seal.seal(who, token))
        const pay = (paymentMethod: PaymentMethodId, who = buyer) =>
          payments.Charge({ idempotencyKey: key(), orderId: order(), amount: eur(800), customer: who, paymentMethod })
        const good = sealed("tok_visa")
        expect(good).not.toContain("tok_visa")
        expect((yield* pay(good)).status).toBe("captured")
        expect(yield* pay(sealed("decline_card")).pipe(Effect.flip)).toMatchObject({ reason: "card_declined" })
        // Opened with the customer it was sealed for only, and not once altered or sealed with another key.
        expect(yield* pay(good, customer()).pipe(Effect.flip)).toMatchObject({ reason: "unknown_payment_method" })
        const altered = PaymentMethodId.make(`${good.slice(0, -2)}${good.endsWith("AA") ? "BB" : "AA"}`)
        expect(yield* pay(altered).pipe(Effect.flip)).toMatchObject({ reason: "unknown_payment_method" })
        const otherKey = sealKeys(Redacted.make("another key"))
        const foreign = PaymentMethodId.make(sealPaymentMethod(otherKey, buyer, "tok_visa"))
        expect(yield* pay(foreign).pipe(Effect.flip)).toMatchObject({ reason: "unknown_payment_method" })
      }),
    ))

  test("methods registered at the same moment share one statement, and each charges with its own token", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const buyers = Array.from({ length: 12 }, () => customer())
        const methods = buyers.map(() => unique("pm") as PaymentMethodId)
        const inserts = Effect.promise(() => statementCalls(database, "INSERT INTO payment_methods"))
        const before = yield* inserts
        yield* Effect.forEach(
          buyers,
          (buyer, i) =>
            payments.RegisterPaymentMethod({
              paymentMethod: methods[i] as PaymentMethodId,
              customer: buyer,
              // Every third a card the provider declines: each method keeps its own token.
              token: i % 3 === 0 ? "decline_card" : "tok_visa",
            }),
          { concurrency: "unbounded", discard: true },
        )
        const statements = (yield* inserts) - before
        expect(statements).toBeGreaterThan(0)
        expect(statements).toBeLessThan(buyers.length / 2)
        const outcomes = yield* Effect.forEach(buyers, (buyer, i) =>
          payments
            .Charge({
              idempotencyKey: key(),
              orderId: order(),
              amount: eur(800),
              customer: buyer,
              paymentMethod: methods[i] as PaymentMethodId,
            })
            .pipe(
              Effect.map((payment) => payment.status),
              Effect.catchTag("PaymentDeclined", (declined) => Effect.succeed(declined.reason)),
            ),
        )
        expect(outcomes).toEqual(buyers.map((_, i) => (i % 3 === 0 ? "card_declined" : "captured")))
      }),
    ))

  test("GetPayment and GetPaymentByOrder of unknown ids fail with PaymentNotFound", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const byId = yield* payments.GetPayment({ paymentId: unique("pay") as PaymentId }).pipe(Effect.flip)
        expect(byId._tag).toBe("PaymentNotFound")
        const byOrder = yield* payments.GetPaymentByOrder({ orderId: order() }).pipe(Effect.flip)
        expect(byOrder._tag).toBe("PaymentNotFound")
      }),
    ))

  test("50 racing charges with one key capture exactly once and all answer the same", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const request = { idempotencyKey: key(), orderId: order(), amount: eur(4_200), customer: customer() }
        const answers = yield* Effect.all(
          Array.from({ length: 50 }, () => payments.Charge(request)),
          { concurrency: "unbounded" },
        )
        const first = answers[0]
        expect(first?.status).toBe("captured")
        for (const answer of answers) expect(answer).toEqual(first!)
        const rows = yield* Effect.promise(() =>
          adminQuery(
            `SELECT (SELECT count(*)::int FROM payments WHERE idempotency_key = '${request.idempotencyKey}') AS payments,
                    (SELECT count(*)::int FROM transactions t JOIN payments p ON p.id = t.payment_id
                      WHERE p.idempotency_key = '${request.idempotencyKey}' AND t.kind = 'capture') AS captures,
                    (SELECT count(*)::int FROM outbox WHERE event_key = '${request.orderId}'
                      AND event_type = 'payment.completed') AS events`,
            database,
          ),
        )
        expect(rows[0]).toEqual({ payments: 1, captures: 1, events: 1 })
      }),
    ))

  test("charges arriving together share their statements, and each caller gets its own outcome", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const voided = order()
        yield* payments.Refund({ idempotencyKey: key(), orderId: voided })
        const fresh = (amount: number, orderId = order()) => ({
          idempotencyKey: key(),
          orderId,
          amount: eur(amount),
          customer: customer(),
        })
        const repeated = fresh(700)
        const requests = [
          ...Array.from({ length: 10 }, () => fresh(1_000)),
          ...Array.from({ length: 5 }, () => fresh(1_013)),
          fresh(1_000, voided),
          repeated,
          repeated,
          repeated,
        ]
        const inserts = Effect.promise(() => statementCalls(database, "INSERT INTO payments"))
        const before = yield* inserts
        const answers = yield* Effect.forEach(requests, (request) => Effect.either(payments.Charge(request)), {
          concurrency: "unbounded",
        })
        const statements = (yield* inserts) - before

        const outcome = (index: number) => {
          const answer = answers[index]
          if (answer === undefined) return "missing"
          if (answer._tag === "Right") return answer.right.status
          return answer.left._tag === "PaymentDeclined" ? `PaymentDeclined:${answer.left.reason}` : answer.left._tag
        }
        expect(requests.map((_, index) => outcome(index))).toEqual([
          ...Array.from({ length: 10 }, () => "captured"),
          ...Array.from({ length: 5 }, () => "PaymentDeclined:insufficient_funds"),
          "PaymentDeclined:order_voided",
          "captured",
          "captured",
          "captured",
        ])
        // Each caller's own payment (the three repeats one and the same), with its own amount and order.
        for (const [index, request] of requests.entries()) {
          const answer = answers[index]
          if (answer?._tag === "Right")
            expect([answer.right.orderId, answer.right.amount]).toEqual([request.orderId, request.amount])
        }
        const repeats = answers.slice(-3).map((answer) => (answer._tag === "Right" ? answer.right.id : undefined))
        expect(new Set(repeats).size).toBe(1)
        // One statement per caller would be 19; here they share (the first alone, the rest together as a rule).
        expect(statements).toBeGreaterThan(0)
        expect(statements).toBeLessThan(requests.length / 2)
        const rows = yield* Effect.promise(() =>
          adminQuery(
            `SELECT count(*)::int AS payments, count(*) FILTER (WHERE status = 'captured')::int AS captured,
                    (SELECT count(*)::int FROM transactions t JOIN payments q ON q.id = t.payment_id
                      WHERE q.order_id IN (${requests.map((request) => `'${request.orderId}'`).join(",")})) AS ledger,
                    (SELECT count(*)::int FROM outbox WHERE event_key IN
                      (${requests.map((request) => `'${request.orderId}'`).join(",")})) AS events
             FROM payments WHERE order_id IN (${requests.map((request) => `'${request.orderId}'`).join(",")})`,
            database,
          ),
        )
        expect(rows[0]).toEqual({ payments: 17, captured: 11, ledger: 17, events: 17 })
      }),
    ))

  test("a charge left pending by a dead driver is taken over by a repeat once its lease ran out", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const request = { idempotencyKey: key(), orderId: order(), amount: eur(1_200), customer: customer() }
        const paymentId = unique("pay")
        // The row a driver leaves when it dies after inserting and before recording the provider's answer.
        yield* Effect.promise(() =>
          adminQuery(
            `INSERT INTO payments (id, idempotency_key, order_id, customer, amount, currency, status, lease_until)
             VALUES ('${paymentId}', '${request.idempotencyKey}', '${request.orderId}', '${request.customer}',
                     1200, 'EUR', 'pending', now() - interval '1 second')`,
            database,
          ),
        )
        const payment = yield* payments.Charge(request)
        expect(payment.id).toBe(paymentId as PaymentId)
        expect(payment.status).toBe("captured")
      }),
    ))

  test("a caller going away mid-charge leaves nothing pending: the retry with the key answers at once", async () => {
    const request = { idempotencyKey: key(), orderId: order(), amount: eur(700), customer: customer() }
    // Holding order_voids stops the charge between its pending row and the provider (the void check reads
    // it); the caller gives up there. Before the fix that left the row pending, undriven, for its whole
    // lease (30 s then), and every retry of the key waited that long.
    const locker = new SQL(databaseUrlFor(database), { max: 1 })
    try {
      let release = () => {}
      const released = new Promise<void>((resolve) => {
        release = resolve
      })
      const holding = locker.begin(async (tx) => {
        await tx`LOCK TABLE order_voids IN ACCESS EXCLUSIVE MODE`
        await released
      })
      await Bun.sleep(50)
      const abandoned = await run(
        Effect.flatMap(PaymentClient, (payments) => payments.Charge(request)).pipe(
          Effect.timeout("400 millis"),
          Effect.either,
        ),
      )
      expect(abandoned._tag).toBe("Left")
      release()
      await holding
      const started = performance.now()
      const payment = await run(Effect.flatMap(PaymentClient, (payments) => payments.Charge(request)))
      expect(payment.status).toBe("captured")
      expect(performance.now() - started).toBeLessThan(5_000)
    } finally {
      await locker.close()
    }
  }, 60_000)
})

describe("Refund", () => {
  test("refunds part, then the rest; past the capture fails with RefundExceedsCapture", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const payment = yield* charge(1_000)
        const part = yield* payments.Refund({ idempotencyKey: key(), paymentId: payment.id, amount: eur(300) })
        expect(part.status).toBe("refunded")
        expect(part.amount).toEqual(eur(300))
        const over = yield* payments
          .Refund({ idempotencyKey: key(), paymentId: payment.id, amount: eur(701) })
          .pipe(Effect.flip)
        expect(over._tag).toBe("RefundExceedsCapture")
        if (over._tag === "RefundExceedsCapture") expect([over.requested, over.refundable]).toEqual([701, 700])
        const rest = yield* payments.Refund({ idempotencyKey: key(), orderId: payment.orderId })
        expect(rest.amount).toEqual(eur(700))
        expect((yield* payments.GetPayment({ paymentId: payment.id })).refunded).toBe(1_000)
        const nothingLeft = yield* payments.Refund({ idempotencyKey: key(), paymentId: payment.id })
        expect(nothingLeft.status).toBe("noop")
      }),
    ))

  test("a repeat of the key answers the first refund; the key with another amount is IdempotencyKeyReused", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const payment = yield* charge(1_000)
        const request = { idempotencyKey: key(), paymentId: payment.id, amount: eur(400) }
        const first = yield* payments.Refund(request)
        expect(yield* payments.Refund(request)).toEqual(first)
        expect((yield* payments.GetPayment({ paymentId: payment.id })).refunded).toBe(400)
        const reused = yield* payments.Refund({ ...request, amount: eur(100) }).pipe(Effect.flip)
        expect(reused._tag).toBe("IdempotencyKeyReused")
      }),
    ))

  test("a refund in another currency fails with RefundCurrencyMismatch", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const payment = yield* charge(1_000)
        const error = yield* payments
          .Refund({
            idempotencyKey: key(),
            paymentId: payment.id,
            amount: new Money({ amount: 10, currency: "USD" as Currency }),
          })
          .pipe(Effect.flip)
        expect(error._tag).toBe("RefundCurrencyMismatch")
      }),
    ))

  test("a refund of an unknown payment fails with PaymentNotFound", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const error = yield* payments
          .Refund({ idempotencyKey: key(), paymentId: unique("pay") as PaymentId })
          .pipe(Effect.flip)
        expect(error._tag).toBe("PaymentNotFound")
      }),
    ))

  test("a refund of an order that was never charged, or was declined, is a no-op success", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const never = yield* payments.Refund({ idempotencyKey: key(), orderId: order() })
        expect(never.status).toBe("noop")
        expect(never.amount).toBeNull()
        const orderId = order()
        yield* charge(513, { orderId }).pipe(Effect.flip)
        const declined = yield* payments.Refund({ idempotencyKey: key(), orderId })
        expect(declined.status).toBe("noop")
        expect(declined.amount).toEqual(eur(0))
      }),
    ))

  test("a refund by order that comes before the order's charge voids it: the late charge is declined", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const orderId = order()
        const early = yield* payments.Refund({ idempotencyKey: key(), orderId })
        expect(early.status).toBe("noop")
        const late = yield* charge(1_000, { orderId }).pipe(Effect.flip)
        expect(late._tag).toBe("PaymentDeclined")
        expect(late._tag === "PaymentDeclined" ? late.reason : "").toBe("order_voided")
        const payment = yield* payments.GetPaymentByOrder({ orderId })
        expect([payment.status, payment.refunded]).toEqual(["declined", 0])
      }),
    ))

  test("a refund by order racing the order's charge waits for it and refunds the capture", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const orderId = order()
        const charging = yield* Effect.fork(charge(900, { orderId }))
        yield* Effect.sleep("10 millis")
        const refund = yield* payments.Refund({ idempotencyKey: key(), orderId })
        const payment = yield* charging
        expect(refund.status).toBe("refunded")
        expect(refund.paymentId).toBe(payment.id)
        expect(refund.amount).toEqual(eur(900))
      }),
    ))

  test("20 racing refunds of 150 on a capture of 1000: six succeed, the rest exceed, nothing over-refunds", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const payment = yield* charge(1_000)
        const outcomes = yield* Effect.all(
          Array.from({ length: 20 }, () =>
            payments.Refund({ idempotencyKey: key(), paymentId: payment.id, amount: eur(150) }).pipe(Effect.either),
          ),
          { concurrency: "unbounded" },
        )
        const refunded = outcomes.filter((o) => o._tag === "Right")
        const exceeded = outcomes.filter((o) => o._tag === "Left" && o.left._tag === "RefundExceedsCapture")
        expect([refunded.length, exceeded.length]).toEqual([6, 14])
        expect((yield* payments.GetPayment({ paymentId: payment.id })).refunded).toBe(900)
        const rows = yield* Effect.promise(() =>
          adminQuery(
            `SELECT coalesce(sum(amount), 0)::int AS total, count(*)::int AS n FROM refunds
             WHERE payment_id = '${payment.id}' AND status = 'refunded'`,
            database,
          ),
        )
        expect(rows[0]).toEqual({ total: 900, n: 6 })
      }),
    ))

  test("refunds racing with one key refund once", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const payment = yield* charge(1_000)
        const request = { idempotencyKey: key(), paymentId: payment.id, amount: eur(600) }
        const answers = yield* Effect.all(
          Array.from({ length: 10 }, () => payments.Refund(request)),
          { concurrency: "unbounded" },
        )
        for (const answer of answers) expect(answer).toEqual(answers[0]!)
        expect((yield* payments.GetPayment({ paymentId: payment.id })).refunded).toBe(600)
      }),
    ))

  test("completed, failed and refunded events reach the outbox and are published", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* PaymentClient
        const payment = yield* charge(300)
        yield* payments.Refund({ idempotencyKey: key(), orderId: payment.orderId })
        const declined = yield* charge(313).pipe(Effect.flip)
        if (declined._tag !== "PaymentDeclined") throw new Error("expected PaymentDeclined")
        const published = (orderId: string) =>
          Effect.promise(() =>
            adminQuery(
              `SELECT event_type, published_at IS NOT NULL AS published FROM outbox
               WHERE event_key = '${orderId}' ORDER BY id`,
              database,
            ),
          )
        yield* Effect.sleep("1 second")
        expect(yield* published(payment.orderId)).toEqual([
          { event_type: "payment.completed", published: true },
          { event_type: "payment.refunded", published: true },
        ])
        expect(yield* published(declined.orderId)).toEqual([{ event_type: "payment.failed", published: true }])
      }),
    ))
})
