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
