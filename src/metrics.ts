/**
 * One prom-client registry per process. Metric names and labels are shared by every service so a
 * dashboard query works across all of them; `service` is a label because the monolith mode runs
 * several services in one process. The list of metrics lives in deploy/METRICS.md.
 */
import { isMainThread } from "node:worker_threads"
import {
  AggregatorRegistry,
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type IncreaseDataWithExemplar,
  type ObserveDataWithExemplar,
  Registry,
} from "prom-client"

export const registry = new Registry()
// The process's own figures (CPU, memory, event loop) once, from its main thread: a worker thread's
// registry (src/saga/thread.ts) is merged into the main thread's, where they would count twice.
if (isMainThread) collectDefaultMetrics({ register: registry })
// Under Bun, v8.getHeapSpaceStatistics() walks the whole heap (~30 ms with 400k objects) and most spaces
// read 0: collected on every scrape, it stalled each service's event loop for 10-40 ms per scrape. The
// heap's totals stay (nodejs_heap_size_{total,used}_bytes, from process.memoryUsage(), which is free).
for (const name of [
  "nodejs_heap_space_size_total_bytes",
  "nodejs_heap_space_size_used_bytes",
  "nodejs_heap_space_size_available_bytes",
]) {
  registry.removeSingleMetric(name)
}

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
/** A saga step may wait on a slow provider or a retry schedule for tens of seconds. */
const stepBuckets = [...latencyBuckets, 10, 30, 60]

/** Label values by label name, as prom-client takes them. */
type Labels<T extends string> = Partial<Record<T, string | number>>

/** prom-client's `{ labels, value, exemplarLabels }` form of inc/observe, told from plain labels. */
const isExemplarData = <D extends { readonly exemplarLabels?: unknown }>(data: object): data is D =>
  "exemplarLabels" in data || ("value" in data && "labels" in data && typeof data.labels === "object")

/** The series of `labels` in `series` (keyed by the label values in the metric's label order), made on first use. */
const seriesOf = <T extends string, S>(
  series: Map<string, S>,
  labelNames: ReadonlyArray<T>,
  labels: Labels<T>,
  make: () => S,
) => {
  let key = ""
  for (const name of labelNames) key += `${labels[name] ?? ""}\u0000`
  let found = series.get(key)
  if (found === undefined) {
    found = make()
    series.set(key, found)
  }
  return found
}

/**
 * A counter whose series are looked up once and then counted with one addition. prom-client hashes and
 * validates the labels on every `inc`, even through a `labels()` child (with the histogram below, ~11 % of the
 * gateway's CPU on a cached read, and the same on every RPC each service serves); this one keeps its series
 * in a Map and renders them at scrape time in the same exposition format.
 */
export class SeriesCounter<T extends string> extends Counter<T> {
  readonly #labelNames: ReadonlyArray<T>
  readonly #series = new Map<string, { readonly labels: Labels<T>; value: number }>()

  constructor(config: { name: string; help: string; labelNames: ReadonlyArray<T> }) {
    super({ ...config, registers: [registry] })
    // prom-client's constructor sets `inc` on the instance, which would hide the method below.
    Reflect.deleteProperty(this, "inc")
    this.#labelNames = config.labelNames
  }

  /** The series of `labels`, as a function adding to it. */
  series(labels: Labels<T>): (value?: number) => void {
    const counted = seriesOf(this.#series, this.#labelNames, labels, () => ({ labels: { ...labels }, value: 0 }))
    return (value = 1) => {
      counted.value += value
    }
  }

  /** Adds to the series of `labels` (a Map lookup; `series` skips even that). */
  add(labels: Labels<T>, value = 1) {
    this.series(labels)(value)
  }

  /** prom-client's own entry point goes to the same series (exemplars are not kept). */
  override inc(labels: Labels<T>, value?: number): void
  override inc(value?: number): void
  override inc(incData: IncreaseDataWithExemplar<T>): void
  override inc(first?: Labels<T> | number | IncreaseDataWithExemplar<T>, value?: number) {
    if (first === undefined || typeof first === "number") this.add({}, first ?? 1)
    else if (isExemplarData<IncreaseDataWithExemplar<T>>(first)) this.add(first.labels ?? {}, first.value ?? 1)
    else this.add(first, value ?? 1)
  }

  override labels(...values: Array<string>): Counter.Internal
  override labels(labels: Labels<T>): Counter.Internal
  override labels(...args: Array<string | Labels<T>>): Counter.Internal {
    const [first] = args
    const labels: Labels<T> = typeof first === "object" ? first : {}
    if (typeof first !== "object") {
      this.#labelNames.forEach((name, i) => {
        const value = args[i]
        if (typeof value === "string") labels[name] = value
      })
    }
    const add = this.series(labels)
    return { inc: (value?: number) => add(value) }
  }

  override async get() {
    const base = await super.get()
    return { ...base, values: [...this.#series.values()].map(({ labels, value }) => ({ labels, value })) }
  }

  override reset() {
    // prom-client's constructor calls reset() before this class's fields exist.
    if (#series in this) this.#series.clear()
    super.reset()
  }
}

/**
 * The histogram twin of SeriesCounter: a series keeps its count per bucket, sum and count. `observe` goes to
 * the same series; prom-client's `labels()`, `startTimer()` and `zero()` do not (nothing here uses them).
 */
export class SeriesHistogram<T extends string> extends Histogram<T> {
  readonly #name: string
  readonly #help: string
  readonly #labelNames: ReadonlyArray<T>
  readonly #bounds: ReadonlyArray<number>
  readonly #series = new Map<
    string,
    { readonly labels: Labels<T>; readonly counts: Array<number>; sum: number; count: number }
  >()

  constructor(config: { name: string; help: string; labelNames: ReadonlyArray<T>; buckets: ReadonlyArray<number> }) {
    super({ ...config, buckets: [...config.buckets], registers: [registry] })
    // prom-client's constructor sets `observe` on the instance, which would hide the method below.
    Reflect.deleteProperty(this, "observe")
    this.#name = config.name
    this.#help = config.help
    this.#labelNames = config.labelNames
    this.#bounds = config.buckets
  }

  /** The series of `labels`, as a function observing a value into it. */
  series(labels: Labels<T>): (value: number) => void {
    const bounds = this.#bounds
    const observed = seriesOf(this.#series, this.#labelNames, labels, () => ({
      labels: { ...labels },
      counts: bounds.map(() => 0),
      sum: 0,
      count: 0,
    }))
    return (value) => {
      observed.sum += value
      observed.count++
      for (let i = 0; i < bounds.length; i++) {
        if (value <= (bounds[i] ?? Number.POSITIVE_INFINITY)) {
          observed.counts[i] = (observed.counts[i] ?? 0) + 1
          return
        }
      }
    }
  }

  /** Observes into the series of `labels` (a Map lookup; `series` skips even that). */
  record(labels: Labels<T>, value: number) {
    this.series(labels)(value)
  }

  /** prom-client's own entry point goes to the same series (exemplars are not kept). */
  override observe(value: number): void
  override observe(labels: Labels<T>, value: number): void
  override observe(observeData: ObserveDataWithExemplar<T>): void
  override observe(first: Labels<T> | number | ObserveDataWithExemplar<T>, value?: number) {
    if (typeof first === "number") this.record({}, first)
    else if (isExemplarData<ObserveDataWithExemplar<T>>(first)) this.record(first.labels ?? {}, first.value)
    else this.record(first, value ?? 0)
  }

  /** The exposition samples, shaped as prom-client shapes its own: cumulative buckets, +Inf, sum, count. */
  #samples() {
    const name = this.#name
    return [...this.#series.values()].flatMap(({ labels, counts, sum, count }) => {
      let cumulative = 0
      return [
        ...this.#bounds.map((bound, i) => {
          cumulative += counts[i] ?? 0
          return {
            labels: { le: bound },
            sharedLabels: labels,
            value: cumulative,
            metricName: `${name}_bucket`,
            exemplar: null,
          }
        }),
        { labels: { le: "+Inf" }, sharedLabels: labels, value: count, metricName: `${name}_bucket`, exemplar: null },
        { labels: {}, sharedLabels: labels, value: sum, metricName: `${name}_sum` },
        { labels: {}, sharedLabels: labels, value: count, metricName: `${name}_count` },
      ]
    })
  }

  /**
   * What prom-client renders a histogram from (its registry prefers this to `get`, and its `get` reads
   * this too); not in prom-client's types, so nothing here overrides a typed member.
   */
  async getForPromString() {
    return { name: this.#name, help: this.#help, type: "histogram", aggregator: "sum", values: this.#samples() }
  }

  override reset() {
    // prom-client's constructor calls reset() before this class's fields exist.
    if (#series in this) this.#series.clear()
    super.reset()
  }
}

export const httpRequests = new SeriesCounter({
  name: "http_requests_total",
  help: "HTTP requests answered, by route pattern and status code",
  labelNames: ["service", "method", "route", "status"] as const,
})

export const httpRequestDuration = new SeriesHistogram({
  name: "http_request_duration_seconds",
  help: "HTTP request latency",
  labelNames: ["service", "method", "route"] as const,
  buckets: latencyBuckets,
})

/**
 * Records one HTTP answer of `service`. Each (route, method, status) finds its two series through maps keyed
 * by the strings it is given: building a label key string per answer was 8 % of the gateway's CPU on a
 * cached read (a new string is hashed on every lookup; the route and method strings are the same objects
 * every time and keep their hash).
 */
export const httpRecorder = (service: string) => {
  type Record = (seconds: number) => void
  const byRoute = new Map<string, Map<string, Map<number, Record>>>()
  const recordOf = (method: string, route: string, status: number): Record => {
    const count = httpRequests.series({ service, method, route, status: String(status) })
    const observe = httpRequestDuration.series({ service, method, route })
    return (seconds) => {
      count()
      observe(seconds)
    }
  }
  return (method: string, route: string, status: number, seconds: number) => {
    let byMethod = byRoute.get(route)
    if (byMethod === undefined) byRoute.set(route, (byMethod = new Map()))
    let byStatus = byMethod.get(method)
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map()))
    let record = byStatus.get(status)
    if (record === undefined) byStatus.set(status, (record = recordOf(method, route, status)))
    record(seconds)
  }
}

export const rateLimited = new Counter({
  name: "gateway_rate_limited_total",
  help: "Requests the gateway refused with 429 before routing them",
  labelNames: ["service", "method"] as const,
  registers: [registry],
})

export const rpcRequests = new SeriesCounter({
  name: "rpc_requests_total",
  help: "RPC calls handled, by method and outcome (ok, or the error tag)",
  labelNames: ["service", "method", "outcome"] as const,
})

export const rpcRequestDuration = new SeriesHistogram({
  name: "rpc_request_duration_seconds",
  help: "RPC handler latency",
  labelNames: ["service", "method"] as const,
  buckets: latencyBuckets,
})

export const messagesHandled = new SeriesCounter({
  name: "messages_handled_total",
  help: "Bus messages handled, by transport (amqp, kafka), queue or topic and outcome (ok, retry, dead_letter)",
  labelNames: ["service", "transport", "queue", "outcome"] as const,
})

export const deadLetters = new Counter({
  name: "dead_letters_total",
  help: "Messages sent to a dead-letter queue",
  labelNames: ["service", "queue", "reason"] as const,
  registers: [registry],
})

export const queueDepth = new Gauge({
  name: "queue_depth",
  help: "Messages waiting in a queue, sampled",
  labelNames: ["service", "queue"] as const,
  registers: [registry],
})

export const outboxPending = new Gauge({
  name: "outbox_pending",
  help: "Outbox events not yet published",
  labelNames: ["service"] as const,
  registers: [registry],
})

export const outboxPublished = new Counter({
  name: "outbox_published_total",
  help: "Outbox events published to Kafka",
  labelNames: ["service", "topic"] as const,
  registers: [registry],
})

export const kafkaConsumerLag = new Gauge({
  name: "kafka_consumer_lag",
  help: "Messages between a consumer group's committed offset and the partition's high watermark",
  labelNames: ["service", "group", "topic", "partition"] as const,
  registers: [registry],
})

export const sagaRuns = new SeriesCounter({
  name: "saga_runs_total",
  help: "Saga runs that reached a terminal state, by outcome (completed, failed)",
  labelNames: ["service", "saga", "outcome"] as const,
})

export const sagaRecoveries = new Counter({
  name: "saga_recoveries_total",
  help: "Sagas resumed by the recovery loop after a crash, a lost lease or a paused unwind",
  labelNames: ["service", "saga"] as const,
  registers: [registry],
})

export const sagaStepDuration = new SeriesHistogram({
  name: "saga_step_duration_seconds",
  help: "Duration of saga steps and compensations, by outcome",
  labelNames: ["service", "saga", "step", "outcome"] as const,
  buckets: stepBuckets,
})

export const sagaStepRetries = new SeriesCounter({
  name: "saga_step_retries_total",
  help: "Saga step attempts that failed on a transient error (and were retried while the schedule allowed)",
  labelNames: ["service", "saga", "step"] as const,
})

export const sagaStarts = new SeriesCounter({
  name: "saga_starts_total",
  help: "Sagas handed to a runner by the process that created them",
  labelNames: ["service", "saga"] as const,
})

export const sagaConcurrencyLimit = new Gauge({
  name: "saga_concurrency_limit",
  help: "Sagas a runner drives at once, as its gradient limit last set it",
  labelNames: ["service"] as const,
  registers: [registry],
})

/** Each runner's count of sagas waiting for a permit, read when the registry is scraped. */
const sagaQueues = new Map<string, () => number>()

export const sagaQueued = new Gauge({
  name: "saga_queued",
  help: "Sagas waiting for one of the runner's permits",
  labelNames: ["service"] as const,
  registers: [registry],
  collect() {
    for (const [service, waiting] of sagaQueues) this.set({ service }, waiting())
  },
})

/** Reports `waiting` as saga_queued{service} at every scrape. */
export const watchSagaQueue = (service: string, waiting: () => number) => {
  sagaQueues.set(service, waiting)
}

export const sagaAdmissionsRefused = new Counter({
  name: "saga_admissions_refused_total",
  help: "New sagas refused because those already waiting would keep them waiting too long (503 at the gateway)",
  labelNames: ["service", "saga"] as const,
  registers: [registry],
})

/** Metrics of this process kept in other registries (a worker thread's), as prom-client's JSON. */
type MetricsSource = () => Promise<ReadonlyArray<unknown>>
const metricsSources = new Set<MetricsSource>()

/** Adds `source`'s metrics to this process's exposition until the returned function is called. */
export const addMetricsSource = (source: MetricsSource) => {
  metricsSources.add(source)
  return () => {
    metricsSources.delete(source)
  }
}

/** Prometheus text exposition of everything registered in this process, its worker threads' included. */
export const renderMetrics = async (): Promise<string> => {
  if (metricsSources.size === 0) return registry.metrics()
  const parts = await Promise.all([registry.getMetricsAsJSON(), ...[...metricsSources].map((source) => source())])
  // Series of the same name and labels from several threads add up (prom-client's default aggregator).
  return AggregatorRegistry.aggregate(parts as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics()
}
export const metricsContentType = registry.contentType

// --- Inventory (services/inventory) -------------------------------------------------------------
// `path` says which write path produced the figure: "writer" (the coalescing single-writer queue the
// service uses) or "optimistic" (the plain per-request version-guarded UPDATE, kept as the reference).

export const inventoryReservations = new SeriesCounter({
  name: "inventory_reservations_total",
  help: "Reserve requests decided, by write path and outcome (ok, or the error tag)",
  labelNames: ["service", "path", "outcome"] as const,
})

export const inventoryConflicts = new Counter({
  name: "inventory_conflicts_total",
  help: "Version-guarded writes that found the stock row changed by another writer",
  labelNames: ["service", "path"] as const,
  registers: [registry],
})

export const inventoryRetries = new Counter({
  name: "inventory_retries_total",
  help: "Attempts repeated after a version conflict (a batch for the writer, a request for the optimistic path)",
  labelNames: ["service", "path"] as const,
  registers: [registry],
})

export const groupCommitBatchSize = new SeriesHistogram({
  name: "group_commit_batch_size",
  help: "Callers written per statement by a group commit (src/group-commit.ts), per writer",
  labelNames: ["writer"] as const,
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
})

export const inventoryBatchSize = new Histogram({
  name: "inventory_batch_size",
  help: "Stock operations applied per writer transaction",
  labelNames: ["service"] as const,
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
  registers: [registry],
})

export const inventoryBatchDuration = new Histogram({
  name: "inventory_batch_duration_seconds",
  help: "Duration of one writer batch, retries included",
  labelNames: ["service"] as const,
  buckets: latencyBuckets,
  registers: [registry],
})

export const inventoryQueueLength = new Gauge({
  name: "inventory_queue_length",
  help: "Stock operations waiting for the writer",
  labelNames: ["service"] as const,
  registers: [registry],
})

export const analyticsEvents = new Counter({
  name: "analytics_events_total",
  help: "Events handed to the analytics projections, by topic, type and outcome (applied, ignored, duplicate, undecodable)",
  labelNames: ["service", "topic", "type", "outcome"] as const,
  registers: [registry],
})
