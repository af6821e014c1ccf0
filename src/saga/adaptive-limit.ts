/**
 * How many units of work (sagas) to run at once, following what the system behind them completes
 * instead of a fixed number: a gradient limit. While the recent latency stays within `tolerance` of
 * the lowest latency seen lately (or under a floor), the system has room and the limit grows (by its
 * square root, and only while the work actually fills it); once the latency grows past that, work is
 * queueing inside the system, so the limit shrinks in proportion. The lowest latency is kept over two windows, so it
 * follows a system that got slower for good (a new deployment, a bigger database) instead of
 * remembering a fast moment forever.
 *
 * Pure bookkeeping, no clock of its own: callers pass the time, which keeps it testable.
 */
export interface GradientLimitOptions {
  readonly initial: number
  readonly min: number
  readonly max: number
  /** Latency above this multiple of the lowest recent latency counts as queueing (default 2). */
  readonly tolerance?: number
  /** How long the lowest latency is remembered, in ms (default 10 s; kept over two such windows). */
  readonly windowMillis?: number
  /**
   * Latency (ms) below which nothing counts as queueing, whatever the lowest was (default 0). Work that
   * is batched downstream gets slower per unit as it gets cheaper in total: without a floor, the limit
   * would shrink the batches that make the system fast.
   */
  readonly floorMillis?: number
}

export interface GradientLimit {
  /** The current limit, a whole number within [min, max]. */
  readonly limit: () => number
  /** Recent latency (ms, smoothed); undefined before the first sample. */
  readonly recentLatency: () => number | undefined
  /** Records one unit finished after `latencyMillis` with `inFlight` running; returns the new limit. */
  readonly sample: (latencyMillis: number, inFlight: number, nowMillis: number) => number
}

export const makeGradientLimit = (options: GradientLimitOptions): GradientLimit => {
  const tolerance = options.tolerance ?? 2
  const windowMillis = options.windowMillis ?? 10_000
  const floorMillis = options.floorMillis ?? 0
  let estimate = options.initial
  let recent: number | undefined
  let lowestNow = Number.POSITIVE_INFINITY
  let lowestBefore = Number.POSITIVE_INFINITY
  let windowStarted: number | undefined
  const clamp = (n: number) => Math.min(options.max, Math.max(options.min, n))

  return {
    limit: () => Math.round(estimate),
    recentLatency: () => recent,
    sample: (latencyMillis, inFlight, nowMillis) => {
      if (windowStarted === undefined) windowStarted = nowMillis
      if (nowMillis - windowStarted >= windowMillis) {
        lowestBefore = lowestNow
        lowestNow = Number.POSITIVE_INFINITY
        windowStarted = nowMillis
      }
      lowestNow = Math.min(lowestNow, latencyMillis)
      recent = recent === undefined ? latencyMillis : 0.8 * recent + 0.2 * latencyMillis
      const lowest = Math.min(lowestNow, lowestBefore)
      const gradient = Math.max(0.5, Math.min(1, Math.max(tolerance * lowest, floorMillis) / recent))
      // Growing a limit the work does not reach would only let a later burst in all at once.
      const used = inFlight >= estimate / 2
      const target = gradient < 1 ? estimate * gradient : used ? estimate + Math.sqrt(estimate) : estimate
      estimate = clamp(0.9 * estimate + 0.1 * target)
      return Math.round(estimate)
    },
  }
}
