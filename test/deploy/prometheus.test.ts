/**
 * deploy/prometheus and deploy/grafana against the real mesh: every service under services/ runs as its
 * own process, a few checkouts go through it, and a real Prometheus (its own process, free port,
 * temporary data dir) scrapes it with deploy/prometheus/prometheus.yml's job — only the addresses are
 * the test's. Then every metric the Grafana dashboard queries must exist, and every query must run.
 * Installs prometheus with scripts/infra/prometheus.sh when it is missing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Subprocess } from "bun"
import { Effect } from "effect"
import type { ServiceName } from "../../src/config.ts"
import {
  type Clients,
  checkout,
  clientsOf,
  deliveryZone,
  newCustomer,
  settled,
  stockedProduct,
} from "../order/support.ts"
import { testRuntime } from "../support/run.ts"
import { freePort, type Mesh, startMesh } from "../support/service-process.ts"
import {
  dashboardQueries,
  defaultPorts,
  deployDir,
  existingServices,
  familyOf,
  isRecord,
  lagNeedsConsumer,
  lazyMetrics,
  metricNamesOf,
  root,
} from "./support.ts"

/** Dependencies before dependents: startMesh starts them in this order, each once the previous is ready. */
const startOrder: ReadonlyArray<ServiceName> = [
  "catalog",
  "inventory",
  "payment",
  "delivery",
  "user",
  "cart",
  "order",
  "analytics",
  "gateway",
]
const services = startOrder.filter((service) => existingServices().includes(service))
const checkoutServices: ReadonlyArray<ServiceName> = ["catalog", "inventory", "payment", "delivery", "cart", "order"]

let mesh: Mesh | undefined
let prometheus: Subprocess | undefined
let prometheusUrl = ""
let dataDir = ""
let prometheusLog = ""
let restRoutes: ReadonlyArray<string> = []

const ensurePrometheus = async () => {
  if (Bun.which("prometheus") !== null) return
  const install = Bun.spawn(["bash", join(root, "scripts", "infra", "prometheus.sh")], {
    stdout: "pipe",
    stderr: "pipe",
  })
  const [code, out, err] = await Promise.all([
    install.exited,
    new Response(install.stdout).text(),
    new Response(install.stderr).text(),
  ])
  if (code !== 0 || Bun.which("prometheus") === null) {
    throw new Error(`scripts/infra/prometheus.sh failed (${code}):\n${out}\n${err}`)
  }
}

/** deploy/prometheus/prometheus.yml with its targets moved to the test's ports and a 1 s scrape interval. */
const testConfig = async (ports: Partial<Record<ServiceName, { readonly http: number }>>) => {
  const config = Bun.YAML.parse(await Bun.file(join(deployDir, "prometheus", "prometheus.yml")).text())
  if (!isRecord(config) || !Array.isArray(config.scrape_configs))
    throw new Error("prometheus.yml has no scrape_configs")
  const job = config.scrape_configs.find((c: unknown) => isRecord(c) && c.job_name === "commerce-mesh")
  if (!isRecord(job) || !Array.isArray(job.static_configs)) throw new Error("prometheus.yml has no commerce-mesh job")
  const configured = new Map<string, unknown>()
  const staticConfigs = job.static_configs.flatMap((entry: unknown) => {
    if (!isRecord(entry) || !isRecord(entry.labels)) return []
    const service = String(entry.labels.service) as ServiceName
    configured.set(service, entry.targets)
    const port = ports[service]?.http
    return port === undefined ? [] : [{ ...entry, targets: [`127.0.0.1:${port}`] }]
  })
  return {
    configured,
    yaml: Bun.YAML.stringify({
      ...config,
      global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
      rule_files: [join(deployDir, "prometheus", "rules.yml")],
      scrape_configs: [{ ...job, static_configs: staticConfigs }],
    }),
  }
}

const api = async (path: string): Promise<unknown> => {
  const response = await fetch(`${prometheusUrl}${path}`)
  const body = (await response.json()) as { status?: string; data?: unknown; error?: string }
  if (body.status !== "success") throw new Error(`${path}: ${body.error ?? response.status}`)
  return body.data
}

const until = async <A>(what: string, seconds: number, probe: () => Promise<A | undefined>): Promise<A> => {
  const deadline = Date.now() + seconds * 1000
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    await Bun.sleep(250)
  }
  throw new Error(`${what} within ${seconds}s${last === undefined ? "" : `: ${String(last)}`}\n${prometheusLog}`)
}

const metricNames = async () => new Set((await api("/api/v1/label/__name__/values")) as ReadonlyArray<string>)

/** The metric families each service declares in its /metrics text (`# TYPE name kind`). */
const declaredFamilies = async () => {
  const declared = new Set<string>()
  for (const process of mesh?.services.values() ?? []) {
    const text = await (await fetch(`${process.httpUrl}/metrics`)).text()
    for (const match of text.matchAll(/^# TYPE (\S+) \S+$/gm)) if (match[1] !== undefined) declared.add(match[1])
  }
  return declared
}

let checkouts: ReturnType<typeof testRuntime<Clients, never>> | undefined

/** Three checkouts of one product, each until it settles (CONFIRMED or FAILED: either makes the metrics). */
const someCheckouts = async () => {
  if (checkouts === undefined || !checkoutServices.every((service) => services.includes(service))) return
  await checkouts.run(
    Effect.gen(function* () {
      const sku = yield* stockedProduct(100, 1_250)
      const zone = yield* deliveryZone(10)
      yield* Effect.forEach(
        [1, 2, 3],
        () =>
          checkout(newCustomer(), [{ sku, quantity: 1 }], zone).pipe(Effect.flatMap((placed) => settled(placed.id))),
        { concurrency: 3, discard: true },
      )
    }),
  )
}

beforeAll(async () => {
  await ensurePrometheus()
  // Databases and command queues of its own, so a mesh running beside it on the same servers is not disturbed.
  mesh = await startMesh(services, {
    DATABASE_NAME_SUFFIX: "_deploy_test",
    COMMAND_QUEUE_PREFIX: "deploy-test.",
    // A consumer group of its own, from the end of the broker's history: only this test's events.
    ANALYTICS_CONSUMER_GROUP: `deploy-test-${crypto.randomUUID().slice(0, 8)}`,
    ANALYTICS_NEW_GROUP_STARTS_AT: "latest",
    PAYMENT_PROVIDER_LATENCY_MS: "5",
  })

  // Traffic: a few checkouts make the RPC, saga, inventory, bus and outbox metrics appear.
  checkouts = testRuntime(clientsOf(mesh))
  await someCheckouts()

  // Traffic through the gateway's REST API: every GET route without path parameters in its OpenAPI document.
  const gateway = mesh.services.get("gateway")
  if (gateway !== undefined) {
    const document = (await (await fetch(`${gateway.httpUrl}/openapi.json`)).json()) as {
      paths?: Record<string, Record<string, unknown>>
    }
    restRoutes = Object.entries(document.paths ?? {})
      .filter(([path, operations]) => !path.includes("{") && operations.get !== undefined)
      .map(([path]) => path)
    for (const path of restRoutes) await fetch(`${gateway.httpUrl}${path}`).then((response) => response.arrayBuffer())
  }

  const ports = mesh.ports
  const { yaml } = await testConfig(ports)
  dataDir = mkdtempSync(join(tmpdir(), "cm-prometheus-"))
  await Bun.write(join(dataDir, "prometheus.yml"), yaml)
  const port = freePort()
  prometheusUrl = `http://127.0.0.1:${port}`
  prometheus = Bun.spawn(
    [
      "prometheus",
      `--config.file=${join(dataDir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dataDir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdout: "pipe", stderr: "pipe" },
  )
  void (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of prometheus.stderr as ReadableStream<Uint8Array>) {
      prometheusLog = (prometheusLog + decoder.decode(chunk)).slice(-5_000)
    }
  })()
  await until("prometheus ready", 20, async () =>
    (await fetch(`${prometheusUrl}/-/ready`).catch(() => undefined))?.ok ? true : undefined,
  )
}, 150_000)

afterAll(async () => {
  if (prometheus !== undefined) {
    prometheus.kill("SIGTERM")
    await Promise.race([prometheus.exited, Bun.sleep(5_000)])
    if (prometheus.exitCode === null) prometheus.kill("SIGKILL")
  }
  await checkouts?.dispose()
  await mesh?.stop()
  if (dataDir !== "") rmSync(dataDir, { recursive: true, force: true })
})

describe("prometheus and the grafana dashboard against the running mesh", () => {
  test("deploy/prometheus/prometheus.yml names every service under services/, and each target is scraped up", async () => {
    const { configured } = await testConfig({})
    for (const service of services) expect(configured.get(service)).toEqual([`127.0.0.1:${defaultPorts(service).http}`])

    const targets = await until("every target up", 30, async () => {
      const data = (await api("/api/v1/targets?state=active")) as {
        activeTargets: ReadonlyArray<{ labels: Record<string, string>; health: string; lastError: string }>
      }
      const up = data.activeTargets.filter((target) => target.health === "up")
      return up.length === services.length ? data.activeTargets : undefined
    })
    expect(targets.map((target) => target.labels.service).sort()).toEqual([...services].sort())
    expect(targets.every((target) => target.labels.job === "commerce-mesh")).toBe(true)
  }, 40_000)

  test("promtool accepts the local and compose scrape configs and the rules", async () => {
    // Debian's prometheus is built without Kubernetes service discovery, so prometheus.k8s.yml is left out.
    const promtool = Bun.which("promtool")
    expect(promtool).not.toBeNull()
    const folder = join(deployDir, "prometheus")
    for (const args of [
      ["check", "config", "prometheus.yml"],
      ["check", "config", "prometheus.compose.yml"],
      ["check", "rules", "rules.yml"],
    ]) {
      const check = Bun.spawn([promtool ?? "promtool", ...args], { cwd: folder, stdout: "pipe", stderr: "pipe" })
      const [code, err] = await Promise.all([check.exited, new Response(check.stderr).text()])
      expect({ args, code, err }).toEqual({ args, code: 0, err: expect.any(String) })
    }
  })

  test("the rules file loads: recording and alerting groups are evaluated", async () => {
    const data = (await api("/api/v1/rules")) as { groups: ReadonlyArray<{ name: string; rules: unknown[] }> }
    expect(data.groups.map((group) => group.name).sort()).toEqual(["commerce-mesh.alerts", "commerce-mesh.recording"])
    expect(data.groups.every((group) => group.rules.length > 0)).toBe(true)
  })

  test("every metric the dashboard queries is declared by the services, and has series unless it is created lazily", async () => {
    const queries = await dashboardQueries()
    const queried = new Set(queries.flatMap((query) => metricNamesOf(query.expr)))
    expect(queried.size).toBeGreaterThan(20)
    const declared = await declaredFamilies()
    // `up` comes from Prometheus itself; everything else must be a family some service exports.
    const undeclared = [...queried].filter((name) => name !== "up" && !declared.has(familyOf(name, declared)))
    expect(undeclared).toEqual([])

    const lazy = new Set(Object.keys(lazyMetrics))
    if (!services.includes("analytics")) lazy.add(lagNeedsConsumer)
    const required = [...queried].filter((name) => !lazy.has(familyOf(name, declared)))
    // Scrapes every second; the analytics consumer may still be joining its group, so allow some time.
    // A consumer still joining its group (analytics) misses the first events: go on checking out meanwhile.
    let nextTraffic = Date.now() + 5_000
    const found = await until("series for every required dashboard metric", 45, async () => {
      const names = await metricNames()
      if (required.every((name) => names.has(name))) return names
      if (Date.now() > nextTraffic) {
        await someCheckouts()
        nextTraffic = Date.now() + 5_000
      }
      return undefined
    }).catch(async (error) => {
      const names = await metricNames()
      throw new Error(`missing: ${required.filter((name) => !names.has(name)).join(", ")}\n${String(error)}`)
    })
    const lazyFound = [...queried].filter((name) => lazy.has(familyOf(name, declared)) && found.has(name))
    const lazyAbsent = [...queried].filter((name) => lazy.has(familyOf(name, declared)) && !found.has(name))
    console.log(
      `dashboard: ${queries.length} queries over ${queried.size} metrics; ${queried.size - lazyAbsent.length} have series` +
        ` (${required.length} required${lazyFound.length > 0 ? `, lazily created and present: ${lazyFound.join(", ")}` : ""});` +
        ` lazily created, absent: ${lazyAbsent.join(", ") || "none"}`,
    )
  }, 60_000)

  test("every dashboard query runs, with Grafana's variables filled in", async () => {
    const queries = await dashboardQueries()
    for (const query of queries) {
      const expr = query.expr
        .replaceAll("$__rate_interval", "1m")
        .replaceAll("$__range", "5m")
        .replaceAll("$service", ".*")
      const result = await api(`/api/v1/query?query=${encodeURIComponent(expr)}`).catch(
        (error) => new Error(`${query.panel}: ${expr}: ${String(error)}`),
      )
      expect(result).not.toBeInstanceOf(Error)
    }
  })

  test("the gateway's REST routes are measured per route pattern (when the gateway exists)", async () => {
    if (!services.includes("gateway")) return
    expect(restRoutes.length).toBeGreaterThan(0)
    const routes = await until("gateway REST route series", 15, async () => {
      const series = (await api(
        `/api/v1/series?match[]=${encodeURIComponent('http_request_duration_seconds_count{service="gateway"}')}`,
      )) as ReadonlyArray<Record<string, string>>
      const found = new Set(series.map((labels) => labels.route))
      return restRoutes.every((route) => found.has(route)) ? found : undefined
    })
    expect([...routes]).toEqual(expect.arrayContaining([...restRoutes]))
  })

  test("services label their own metrics: `service` on every series is the service of the process it came from", async () => {
    const instances = new Map<string, string>()
    for (const [service, ports] of Object.entries(mesh?.ports ?? {})) {
      if (ports !== undefined) instances.set(`127.0.0.1:${ports.http}`, service)
    }
    const series = (await api(
      `/api/v1/series?${["rpc_requests_total", "http_requests_total", "process_resident_memory_bytes", "outbox_pending"]
        .map((name) => `match[]=${name}`)
        .join("&")}`,
    )) as ReadonlyArray<Record<string, string>>
    expect(series.length).toBeGreaterThan(services.length)
    const mislabelled = series.filter((labels) => labels.instance && labels.service !== instances.get(labels.instance))
    expect(mislabelled).toEqual([])
    // The prom-client defaults carry no `service` label; the scrape config gives them the target's.
    const memory = series.filter((labels) => labels.__name__ === "process_resident_memory_bytes")
    expect(memory.map((labels) => labels.service).sort()).toEqual([...services].sort())
  })
})
