/**
 * The open-model load driver every REST bench shares (checkout, chaos, replicas, the peer): requests
 * are sent at a fixed rate whatever the answers do, so a slow server meets a growing backlog instead of
 * a politely slower client (a closed loop hides overload by sending less). Each answer is counted by
 * status with its latency; transport failures count under "error".
 */
import { percentile } from "./stats.ts"

export interface OpenModelOptions {
  /** Requests per second offered. */
  readonly rate: number
  readonly seconds: number
  /** Sends request `i` and resolves with the HTTP status; a rejection counts as "error". */
  readonly send: (i: number) => Promise<number>
}

export interface OpenModelResult {
  readonly offered: number
  readonly offeredRate: number
  /** Seconds from the first send to the last answer. */
  readonly elapsedSeconds: number
  /** How late the sender fell behind its schedule at worst (a saturated load generator shows here). */
  readonly maxSendLagMs: number
  readonly byStatus: Readonly<Record<string, number>>
  /** Sorted latencies (ms) per status. */
  readonly latencies: ReadonlyMap<string, ReadonlyArray<number>>
}

export const runOpenModel = async (options: OpenModelOptions): Promise<OpenModelResult> => {
  const total = Math.round(options.rate * options.seconds)
  const latencies = new Map<string, Array<number>>()
  const record = (status: string, ms: number) => {
    const list = latencies.get(status)
    if (list === undefined) latencies.set(status, [ms])
    else list.push(ms)
  }
  const answers: Array<Promise<void>> = []
  let maxSendLagMs = 0
  const started = performance.now()
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / options.rate
    const wait = due - performance.now()
    if (wait > 1) await Bun.sleep(wait)
    else maxSendLagMs = Math.max(maxSendLagMs, -wait)
    const sent = performance.now()
    answers.push(
      options.send(i).then(
        (status) => record(String(status), performance.now() - sent),
        () => record("error", performance.now() - sent),
      ),
    )
  }
  await Promise.all(answers)
  const elapsedSeconds = (performance.now() - started) / 1000
  const byStatus: Record<string, number> = {}
  for (const [status, list] of latencies) {
    list.sort((a, b) => a - b)
    byStatus[status] = list.length
  }
  return {
    offered: total,
    offeredRate: options.rate,
    elapsedSeconds,
    maxSendLagMs: Number(maxSendLagMs.toFixed(1)),
    byStatus,
    latencies,
  }
}

/** p50/p99 of one status's answers, in ms (NaN when there were none). */
export const latencyOf = (result: OpenModelResult, status: string) => {
  const sorted = result.latencies.get(status) ?? []
  return { p50Ms: round(percentile(sorted, 50)), p99Ms: round(percentile(sorted, 99)) }
}

const round = (n: number) => (Number.isNaN(n) ? null : Number(n.toFixed(1)))
