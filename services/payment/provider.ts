/**
 * The payment provider the service charges and refunds through. Only a simulated one exists: it lives in
 * the process, answers after a configurable latency, and declines
 *
 * - every charge whose amount in minor units ends in 13 (12.13, 0.13 …) — reason "insufficient_funds";
 * - every charge with a token that starts with "decline" (e.g. `decline_card`), or of a customer whose id
 *   does — reason "card_declined";
 * - a configurable share of the rest (PAYMENT_DECLINE_RATE) — reason "do_not_honor".
 *
 * Like a real provider it is idempotent by key: the same key always gets the same answer and reference,
 * so a charge re-driven after a crash can never turn a decline into a capture or charge twice.
 */
import { Context, Duration, Effect, Layer } from "effect"
import { createHash } from "node:crypto"
import type { Money, UserId } from "../../rpc/common.ts"
import { providerDeclineRate, providerLatencyMillis } from "./config.ts"

export type ChargeOutcome =
  | { readonly _tag: "Captured"; readonly reference: string }
  | { readonly _tag: "Declined"; readonly reference: string; readonly reason: string }

export interface ProviderChargeRequest {
  readonly key: string
  readonly amount: Money
  readonly customer: UserId
  /** The card's token, from the payment method charged; none for a charge that named no method. */
  readonly token?: string | undefined
}

export interface ProviderRefundRequest {
  readonly key: string
  readonly chargeReference: string
  readonly amount: Money
}

export class PaymentProvider extends Context.Tag("payment/PaymentProvider")<
  PaymentProvider,
  {
    readonly charge: (request: ProviderChargeRequest) => Effect.Effect<ChargeOutcome>
    readonly refund: (request: ProviderRefundRequest) => Effect.Effect<{ readonly reference: string }>
  }
>() {
  static readonly Simulated = Layer.effect(
    PaymentProvider,
    Effect.gen(function* () {
      const latency = Duration.millis(yield* providerLatencyMillis)
      const declineRate = yield* providerDeclineRate
      return {
        charge: (request) =>
          Effect.sleep(latency).pipe(
            Effect.as(simulateCharge(request, declineRate)),
            Effect.withSpan("PaymentProvider.charge"),
          ),
        refund: (request) =>
          Effect.sleep(latency).pipe(
            Effect.as({ reference: `sim_re_${digest(request.key).toString("hex").slice(0, 24)}` }),
            Effect.withSpan("PaymentProvider.refund"),
          ),
      }
    }),
  )
}

const digest = (key: string) => createHash("sha256").update(key).digest()

/** The simulated provider's decision: a pure function of the request, documented in the module comment. */
export const simulateCharge = (request: ProviderChargeRequest, declineRate: number): ChargeOutcome => {
  const hash = digest(request.key)
  const reference = `sim_ch_${hash.toString("hex").slice(0, 24)}`
  if (request.amount.amount % 100 === 13) return { _tag: "Declined", reference, reason: "insufficient_funds" }
  if (request.customer.startsWith("decline") || request.token?.startsWith("decline") === true) {
    return { _tag: "Declined", reference, reason: "card_declined" }
  }
  // A uniform draw in [0, 1) from the key's hash.
  if (hash.readUInt32BE(0) / 2 ** 32 < declineRate) return { _tag: "Declined", reference, reason: "do_not_honor" }
  return { _tag: "Captured", reference }
}
