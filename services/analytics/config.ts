/**
 * The analytics service's own settings (to be listed with the others in src/config.ts's index).
 */
import { Config } from "effect"

/** `ANALYTICS_CONSUMER_GROUP`: the Kafka consumer group; replicas share it and split the partitions. */
export const consumerGroup = Config.string("ANALYTICS_CONSUMER_GROUP").pipe(Config.withDefault("analytics"))

/**
 * `ANALYTICS_SESSION_TIMEOUT_MS`: how long the group waits on a member that went silent (a killed
 * process) before its partitions move to the others. Heartbeats go at a tenth of it. The broker's
 * floor is 6000 by default.
 */
export const sessionTimeoutMillis = Config.integer("ANALYTICS_SESSION_TIMEOUT_MS").pipe(Config.withDefault(30_000))

/** `ANALYTICS_LAG_SAMPLE_INTERVAL_MS`: how often the group's lag is read from the broker into kafka_consumer_lag. */
export const lagSampleIntervalMillis = Config.integer("ANALYTICS_LAG_SAMPLE_INTERVAL_MS").pipe(
  Config.withDefault(5_000),
)

/**
 * `ANALYTICS_NEW_GROUP_STARTS_AT`: where a consumer group with no committed offsets begins: `earliest`
 * (default: the whole history, so totals match the sources) or `latest` (only what comes from now on, for
 * a throwaway group on a broker with a long history).
 */
export const newGroupStartsAtEarliest = Config.literal(
  "earliest",
  "latest",
)("ANALYTICS_NEW_GROUP_STARTS_AT").pipe(
  Config.withDefault("earliest"),
  Config.map((start) => start === "earliest"),
)
