import { describe, expect, test } from "bun:test"
import { ConfigProvider, Effect, Layer } from "effect"
import { join } from "node:path"
import { HealthServerLive } from "../../src/http.ts"
import { PostgresLive, postgresReady } from "../../src/postgres.ts"
import { runTest } from "../support/run.ts"

const port = 19_000 + Math.floor(Math.random() * 1000)
const base = `http://127.0.0.1:${port}`

const withPort = Layer.setConfigProvider(
  ConfigProvider.fromMap(new Map([["CATALOG_HTTP_PORT", String(port)]])).pipe(
    ConfigProvider.orElse(() => ConfigProvider.fromEnv()),
  ),
)

const serveWhile = <A, E>(server: Layer.Layer<never, E>, body: Effect.Effect<A>) =>
  runTest(Effect.scoped(Effect.zipRight(Layer.build(server), body)).pipe(Effect.provide(withPort)))

const get = (path: string) =>
  Effect.promise(async () => {
    const response = await fetch(`${base}${path}`)
    return { status: response.status, body: await response.text() }
  })

const counterValue = (metrics: string, route: string) => {
  const line = metrics
    .split("\n")
    .find(
      (l) =>
        l.startsWith("http_requests_total{") &&
        l.includes(`route="${route}"`) &&
        l.includes(`status="200"`) &&
        l.includes(`service="catalog"`),
    )
  return line === undefined ? 0 : Number(line.split(" ").at(-1))
}

describe("HealthServerLive", () => {
  test("/healthz answers while a failing dependency makes /readyz 503 and names it", async () => {
    const server = HealthServerLive({
      service: "catalog",
      checks: { postgres: postgresReady, ledger: Effect.fail("ledger unreachable") },
    }).pipe(Layer.provide(PostgresLive("platform_health", { migrations: join(import.meta.dir, "migrations") })))
    const [health, ready] = await serveWhile(server, Effect.all([get("/healthz"), get("/readyz")]))
    expect(health.status).toBe(200)
    expect(ready.status).toBe(503)
    const checks = (JSON.parse(ready.body) as { checks: Array<{ name: string; ok: boolean }> }).checks
    expect(checks).toEqual([
      expect.objectContaining({ name: "postgres", ok: true }),
      expect.objectContaining({ name: "ledger", ok: false }),
    ])
  })

  test("/readyz is 200 when every dependency answers, and /metrics counts the requests", async () => {
    const server = HealthServerLive({ service: "catalog", checks: { always: Effect.void } })
    const result = await serveWhile(
      server,
      Effect.gen(function* () {
        const before = counterValue((yield* get("/metrics")).body, "/readyz")
        const ready = yield* get("/readyz")
        yield* get("/readyz")
        const after = counterValue((yield* get("/metrics")).body, "/readyz")
        const metrics = (yield* get("/metrics")).body
        return { ready, before, after, metrics }
      }),
    )
    expect(result.ready.status).toBe(200)
    expect(result.after - result.before).toBe(2)
    expect(result.metrics).toContain("process_resident_memory_bytes")
    expect(result.metrics).toContain("http_request_duration_seconds_bucket")
    // The heap's totals, but not the per-space gauges whose reading walks the whole heap under Bun.
    expect(result.metrics).toContain("nodejs_heap_size_used_bytes")
    expect(result.metrics).not.toContain("nodejs_heap_space_size")
  })
})
