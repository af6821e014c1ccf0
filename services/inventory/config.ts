/**
 * The inventory service's own settings. (src/config.ts lists the platform's variables; these belong
 * there too once the lead folds service settings in.)
 */
import { Config } from "effect"

/** `INVENTORY_WRITER_MAX_BATCH`: most stock operations the writer applies in one transaction. */
export const writerMaxBatch = Config.integer("INVENTORY_WRITER_MAX_BATCH").pipe(Config.withDefault(512))

/** `INVENTORY_SWEEP_INTERVAL_MS`: how often expired reservations are looked for. */
export const sweepIntervalMillis = Config.integer("INVENTORY_SWEEP_INTERVAL_MS").pipe(Config.withDefault(1000))

/** `INVENTORY_SWEEP_BATCH`: expired reservations released per round of a sweep. */
export const sweepBatch = Config.integer("INVENTORY_SWEEP_BATCH").pipe(Config.withDefault(100))
