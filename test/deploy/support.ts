/**
 * What the deploy tests compare deploy/ against: the services that exist (services/<name>/main.ts), the
 * ports src/config.ts gives them when no environment overrides it, and the metric names the Grafana
 * dashboard queries.
 */
import { readdirSync, existsSync } from "node:fs"
import { join } from "node:path"
import { ConfigProvider, Effect } from "effect"
import { httpPort, rpcPort, ServiceNames, type ServiceName } from "../../src/config.ts"

export const root = join(import.meta.dir, "..", "..")
export const deployDir = join(root, "deploy")

/** Every service with an entry point, in the order of src/config.ts's ServiceNames. */
export const existingServices = (): ReadonlyArray<ServiceName> => {
  const folders = new Set(readdirSync(join(root, "services")))
  return ServiceNames.filter((name) => folders.has(name) && existsSync(join(root, "services", name, "main.ts")))
}

/** The gateway has no RpcGroup of its own: only its HTTP port (REST + /healthz /readyz /metrics). */
export const hasRpcPort = (service: ServiceName) => service !== "gateway"

const defaults = ConfigProvider.fromMap(new Map())

/** The ports src/config.ts gives `service` by default (the environment of this process is ignored). */
export const defaultPorts = (service: ServiceName) =>
  Effect.runSync(
    Effect.all({ rpc: rpcPort(service), http: httpPort(service) }).pipe(Effect.withConfigProvider(defaults)),
  )

/** The documents of a YAML file, split on `---` lines (Bun.YAML parses each). Empty documents are dropped. */
export const readYamlDocuments = async (path: string): Promise<ReadonlyArray<unknown>> =>
  (await Bun.file(path).text())
    .split(/^---[ \t]*$/m)
    .map((chunk): unknown => Bun.YAML.parse(chunk))
    .filter((document) => document !== null && document !== undefined)

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

// --- The dashboard's queries ---------------------------------------------------------------------

export interface DashboardQuery {
  readonly panel: string
  readonly expr: string
}

export const dashboardPath = join(deployDir, "grafana", "dashboards", "commerce-mesh.json")

/** Every PromQL expression of every panel (rows' nested panels included). */
export const dashboardQueries = async (): Promise<ReadonlyArray<DashboardQuery>> => {
  const dashboard = (await Bun.file(dashboardPath).json()) as { panels?: ReadonlyArray<unknown> }
  const queries: Array<DashboardQuery> = []
  const visit = (panels: ReadonlyArray<unknown> | undefined) => {
    for (const panel of panels ?? []) {
      if (!isRecord(panel)) continue
      const title = String(panel.title ?? "")
      for (const target of Array.isArray(panel.targets) ? panel.targets : []) {
        if (isRecord(target) && typeof target.expr === "string") queries.push({ panel: title, expr: target.expr })
      }
      visit(Array.isArray(panel.panels) ? panel.panels : undefined)
    }
  }
  visit(dashboard.panels)
  return queries
}

const keywords = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "offset",
  "and",
  "or",
  "unless",
  "atan2",
  "inf",
  "nan",
])

/**
 * The metric names a PromQL expression selects: identifiers that are not functions, keywords, label
 * matchers, grouping labels, ranges or strings. Enough for the dashboard's queries, not a full parser.
 */
export const metricNamesOf = (expr: string): ReadonlyArray<string> => {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
  const names = new Set<string>()
  for (const match of stripped.matchAll(/(?<![\w:.$])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()/g)) {
    const name = match[1]
    if (name !== undefined && !keywords.has(name.toLowerCase())) names.add(name)
  }
  return [...names]
}

/** The exposition family a sample name belongs to (a histogram's `_bucket`, `_sum`, `_count`). */
export const familyOf = (name: string, declared: ReadonlySet<string>) => {
  if (declared.has(name)) return name
  const base = name.replace(/_(bucket|sum|count)$/, "")
  return declared.has(base) ? base : name
}

/**
 * Dashboard metrics a freshly started mesh with a few checkouts does not produce. Each is declared by
 * every service (src/metrics.ts) but only gets a series when its event happens; the Prometheus test
 * requires these to be declared, and every other dashboard metric to have series.
 */
export const lazyMetrics: Record<string, string> = {
  saga_recoveries_total: "a saga resumed by the recovery loop: needs a crash, a lost lease or a paused unwind",
  saga_step_retries_total: "a saga step failing on a transient error (a timeout, a service away)",
  inventory_conflicts_total: "two writers racing on one stock row (inventory replicas, or the optimistic path)",
  inventory_retries_total: "an attempt repeated after a version conflict",
  dead_letters_total: "a RabbitMQ message dead-lettered (malformed, or failing past its retries)",
  queue_depth: "a service sampling a queue with CommandBus.checkQueue; no service does so periodically yet",
  saga_admissions_refused_total: "a checkout refused because the sagas already waiting would keep it waiting too long",
}

/** kafka_consumer_lag is set by a Kafka consumer (analytics) once it handled a batch. */
export const lagNeedsConsumer = "kafka_consumer_lag"
