/**
 * The order service's own settings (listed with the others in src/config.ts's README section).
 */
import { Config } from "effect"

/** `CHECKOUT_DEADLINE_SECONDS`: a checkout saga still running after this is compensated. */
export const checkoutDeadlineSeconds = Config.integer("CHECKOUT_DEADLINE_SECONDS").pipe(Config.withDefault(120))

/** `SAGA_LEASE_MS`: how long a replica's claim on a saga lasts without renewal (a crashed owner's sagas wait this long). */
export const sagaLeaseMillis = Config.integer("SAGA_LEASE_MS").pipe(Config.withDefault(5_000))

/** `SAGA_RECOVERY_INTERVAL_MS`: how often the service looks for sagas to resume. */
export const sagaRecoveryIntervalMillis = Config.integer("SAGA_RECOVERY_INTERVAL_MS").pipe(Config.withDefault(1_000))

/**
 * `SAGA_CONCURRENCY_MAX` (256): the most checkout sagas this process drives at once; below it the limit
 * follows what the services complete (src/saga/adaptive-limit.ts).
 */
export const sagaConcurrencyMax = Config.integer("SAGA_CONCURRENCY_MAX").pipe(Config.withDefault(256))

/**
 * `CHECKOUT_MAX_QUEUE_SECONDS` (3): a checkout that would wait longer than this for the sagas ahead of it
 * is refused (`CheckoutOverloaded`, a 503 with Retry-After at the gateway) instead of accepted.
 */
export const checkoutMaxQueueSeconds = Config.number("CHECKOUT_MAX_QUEUE_SECONDS").pipe(Config.withDefault(3))

/**
 * `SAGA_STEP_BEAT_MS` (100): checkout sagas take each step on a beat of this many milliseconds, one beat per
 * step with the steps' ticks spread over it (src/saga/beat.ts), so the sagas reaching a step together share
 * its statements and round trips in every service behind it; 0 lets each step go at once. Costs about one
 * beat between the 201 and CONFIRMED.
 */
export const sagaStepBeatMillis = Config.integer("SAGA_STEP_BEAT_MS").pipe(Config.withDefault(100))

/**
 * `SAGA_STEP_RETRY_SECONDS` (10): how long a checkout step keeps retrying a transient error (a service
 * restarting, a broken connection) — backing off from 50 ms to 1 s between tries — before the saga unwinds.
 * Long enough to ride out a restart of the service behind the step.
 */
export const sagaStepRetrySeconds = Config.number("SAGA_STEP_RETRY_SECONDS").pipe(Config.withDefault(10))

/**
 * `SAGA_THREAD` (true): the order process runs its checkout sagas on a thread of their own, so the thread
 * answering PlaceOrder does not wait on saga steps or their garbage (src/saga/thread.ts). It costs ~0.3–0.9 ms
 * more CPU per checkout (two event loops waking apart) and ~45 MB more memory; once the checkout's CPU fell
 * to ~6 ms it bought the 201's p99 under 20 ms up to 150–250/s instead of 100/s (bench/RESULTS.md, "The sagas
 * on a thread of their own, by default"). false runs them on the main thread.
 */
export const sagaThread = Config.boolean("SAGA_THREAD").pipe(Config.withDefault(true))
