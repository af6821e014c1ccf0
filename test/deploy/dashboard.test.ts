/**
 * The Grafana dashboard's shape, and the metric-name extraction the Prometheus test relies on. Whether
 * the metrics exist and the queries run is test/deploy/prometheus.test.ts's part.
 */
import { describe, expect, test } from "bun:test"
import { dashboardPath, dashboardQueries, isRecord, metricNamesOf } from "./support.ts"

describe("metric names in PromQL", () => {
  test("selectors, histogram suffixes and arithmetic; not functions, keywords, labels, ranges or strings", () => {
    expect(
      metricNamesOf(
        'histogram_quantile(0.99, sum by (service, le) (rate(rpc_request_duration_seconds_bucket{service=~"$service"}[$__rate_interval])))',
      ),
    ).toEqual(["rpc_request_duration_seconds_bucket"])
    expect(
      metricNamesOf(
        'sum by (service) (rate(rpc_requests_total{outcome!="ok"}[5m])) / sum by (service) (rate(rpc_requests_total[5m]))',
      ),
    ).toEqual(["rpc_requests_total"])
    expect(metricNamesOf('sum(increase(dead_letters_total{queue="a.b"}[1h])) or vector(0)')).toEqual([
      "dead_letters_total",
    ])
    expect(metricNamesOf("a_total * 60 + on (service) group_left (x) b_bytes offset 5m")).toEqual([
      "a_total",
      "b_bytes",
    ])
    expect(metricNamesOf('changes(process_start_time_seconds{job="commerce-mesh"}[1h]) > 2')).toEqual([
      "process_start_time_seconds",
    ])
  })
})

describe("deploy/grafana/dashboards/commerce-mesh.json", () => {
  test("a dashboard with a stable uid, a data source variable and a service variable", async () => {
    const dashboard = (await Bun.file(dashboardPath).json()) as Record<string, unknown>
    expect(dashboard.uid).toBe("commerce-mesh")
    const variables = ((dashboard.templating as { list: ReadonlyArray<{ name: string }> }).list ?? []).map(
      (v) => v.name,
    )
    expect(variables).toEqual(["datasource", "service"])
  })

  test("panels have unique ids, fit the 24-column grid without overlapping, and every target has a refId and a query", async () => {
    const dashboard = (await Bun.file(dashboardPath).json()) as { panels: ReadonlyArray<Record<string, unknown>> }
    const ids = dashboard.panels.map((panel) => panel.id)
    expect(new Set(ids).size).toBe(ids.length)
    const cells = new Set<string>()
    for (const panel of dashboard.panels) {
      const { x, y, w, h } = panel.gridPos as { x: number; y: number; w: number; h: number }
      expect(x + w).toBeLessThanOrEqual(24)
      for (let column = x; column < x + w; column++) {
        for (let row = y; row < y + h; row++) {
          const cell = `${column},${row}`
          expect(cells.has(cell)).toBe(false)
          cells.add(cell)
        }
      }
      if (panel.type === "row") continue
      const targets = Array.isArray(panel.targets) ? panel.targets : []
      expect(targets.length).toBeGreaterThan(0)
      for (const target of targets) {
        expect(isRecord(target) && typeof target.refId === "string" && typeof target.expr === "string").toBe(true)
      }
    }
  })

  test("every query follows the service selector", async () => {
    for (const query of await dashboardQueries()) expect(query.expr).toContain('service=~"$service"')
  })

  test("it shows what the architecture asks for: throughput, errors, latency quantiles, saga, inventory, bus, lag, outbox, processes", async () => {
    const metrics = new Set((await dashboardQueries()).flatMap((query) => metricNamesOf(query.expr)))
    for (const name of [
      "rpc_requests_total",
      "rpc_request_duration_seconds_bucket",
      "http_requests_total",
      "http_request_duration_seconds_bucket",
      "saga_runs_total",
      "saga_step_duration_seconds_bucket",
      "inventory_conflicts_total",
      "inventory_retries_total",
      "queue_depth",
      "dead_letters_total",
      "kafka_consumer_lag",
      "outbox_pending",
      "process_resident_memory_bytes",
      "process_cpu_seconds_total",
    ]) {
      expect(metrics).toContain(name)
    }
    const quantiles = (await dashboardQueries())
      .map((query) => /histogram_quantile\((0\.\d+)/.exec(query.expr)?.[1])
      .filter((q) => q !== undefined)
    expect(new Set(quantiles)).toEqual(new Set(["0.5", "0.95", "0.99"]))
  })
})
