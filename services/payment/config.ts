/**
 * The payment service's own settings. (src/config.ts lists the platform's variables; these belong there
 * too once the lead folds service settings in.)
 */
import { Config } from "effect"

/** `PAYMENT_PROVIDER_LATENCY_MS`: how long the simulated provider takes to answer a charge or a refund. */
export const providerLatencyMillis = Config.integer("PAYMENT_PROVIDER_LATENCY_MS").pipe(Config.withDefault(50))

/**
 * `PAYMENT_DECLINE_RATE`: share of charges (0..1) the simulated provider declines at random. The draw is a
 * hash of the idempotency key, so asking again with the same key gets the same answer — as from a real
 * provider that is idempotent by key.
 */
export const providerDeclineRate = Config.number("PAYMENT_DECLINE_RATE").pipe(
  Config.withDefault(0),
  Config.validate({ message: "must be between 0 and 1", validation: (rate) => rate >= 0 && rate <= 1 }),
)

/**
 * `PAYMENT_PENDING_LEASE_MS`: how long the request that inserted a pending charge or refund owns it. A
 * repeat of the key arriving later than this after a driver died takes the payment over and asks the
 * provider again (safe: the provider is idempotent by key, and a payment settles only once). Keep it well
 * above the provider's latency and below the checkout saga's step retry window (SAGA_STEP_RETRY_SECONDS,
 * 10 s): a charge left pending by a crashed payment process is then taken over by the saga's next retry.
 * (At 30 s every checkout charging when payment was killed failed with RpcClientError, its saga out of
 * retries while the charge still waited; test/order/crash.test.ts.)
 */
export const pendingLeaseMillis = Config.integer("PAYMENT_PENDING_LEASE_MS").pipe(Config.withDefault(5_000))
