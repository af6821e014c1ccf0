/** The cheap labelled metrics of src/metrics.ts render exactly as prom-client's own would for the same updates. */
import { describe, expect, test } from "bun:test"
import { Counter, Histogram, Registry } from "prom-client"
import { registry, SeriesCounter, SeriesHistogram } from "../../src/metrics.ts"

describe("series metrics", () => {
  test("a SeriesHistogram renders what a prom-client Histogram renders, whichever way it was fed", async () => {
    const name = `test_series_${crypto.randomUUID().slice(0, 8)}_seconds`
    const config = { name, help: "latency", labelNames: ["route"] as const, buckets: [0.1, 1] }
    const series = new SeriesHistogram(config)
    const plainRegistry = new Registry()
    const plain = new Histogram({ ...config, labelNames: ["route"], buckets: [0.1, 1], registers: [plainRegistry] })
    const observe = series.series({ route: "/a" })
    for (const value of [0.05, 0.5, 5]) {
      observe(value)
      plain.observe({ route: "/a" }, value)
    }
    series.observe({ route: "/b" }, 0.2)
    series.record({ route: "/b" }, 0.1)
    plain.observe({ route: "/b" }, 0.2)
    plain.observe({ route: "/b" }, 0.1)
    expect(await registry.getSingleMetricAsString(name)).toBe(await plainRegistry.getSingleMetricAsString(name))
    expect((await series.get()).values).toEqual((await plain.get()).values)
  })

  test("a SeriesCounter renders what a prom-client Counter renders, through add, inc, series and labels", async () => {
    const name = `test_series_${crypto.randomUUID().slice(0, 8)}_total`
    const config = { name, help: "answers", labelNames: ["route", "status"] as const }
    const series = new SeriesCounter(config)
    const plainRegistry = new Registry()
    const plain = new Counter({ ...config, labelNames: ["route", "status"], registers: [plainRegistry] })
    series.add({ route: "/a", status: "200" })
    series.inc({ route: "/a", status: "200" }, 2)
    series.series({ route: "/a", status: "404" })(5)
    series.labels("/b", "200").inc()
    plain.inc({ route: "/a", status: "200" }, 3)
    plain.inc({ route: "/a", status: "404" }, 5)
    plain.inc({ route: "/b", status: "200" })
    expect(await registry.getSingleMetricAsString(name)).toBe(await plainRegistry.getSingleMetricAsString(name))
    expect((await series.get()).values).toEqual((await plain.get()).values)
  })
})
