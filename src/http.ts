/**
 * The HTTP side port every service has: `/healthz` (the process is alive), `/readyz` (each of its
 * dependencies answers within a deadline) and `/metrics` (Prometheus text).
 */
import { Duration, Effect, Layer, Runtime } from "effect"
import { httpPort, serviceBind, type ServiceName } from "./config.ts"
import { httpRequestDuration, httpRequests, metricsContentType, registry } from "./metrics.ts"

/** A named dependency probe: succeeds when the dependency answers. */
export type ReadinessChecks<R> = Record<string, Effect.Effect<unknown, unknown, R>>

const checkDeadline = Duration.seconds(2)

const runChecks = <R>(checks: ReadinessChecks<R>) =>
  Effect.forEach(
    Object.entries(checks),
    ([name, check]) =>
      check.pipe(
        Effect.timeout(checkDeadline),
        Effect.as({ name, ok: true as boolean, error: undefined as string | undefined }),
        Effect.catchAllCause((cause) =>
          Effect.succeed({ name, ok: false, error: cause.toString().split("\n")[0] ?? "failed" }),
        ),
      ),
    { concurrency: "unbounded" },
  )

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } })

export interface HealthServerOptions<R> {
  readonly service: ServiceName
  readonly checks: ReadinessChecks<R>
}

/** Starts the side port for `service`; stops it when the Layer's scope closes. */
export const HealthServerLive = <R>({ service, checks }: HealthServerOptions<R>) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const port = yield* httpPort(service)
      const hostname = yield* serviceBind(service)
      const runtime = yield* Effect.runtime<R>()
      const runPromise = Runtime.runPromise(runtime)
      const observe = (route: string, started: number, status: number) => {
        httpRequests.inc({ service, method: "GET", route, status: String(status) })
        httpRequestDuration.observe({ service, method: "GET", route }, (performance.now() - started) / 1000)
      }
      const server = yield* Effect.acquireRelease(
        Effect.sync(() =>
          Bun.serve({
            port,
            hostname,
            fetch: async (request) => {
              const started = performance.now()
              const path = new URL(request.url).pathname
              if (path === "/healthz") {
                observe(path, started, 200)
                return json({ status: "ok", service })
              }
              if (path === "/readyz") {
                const results = await runPromise(runChecks(checks))
                const ready = results.every((result) => result.ok)
                observe(path, started, ready ? 200 : 503)
                return json({ status: ready ? "ready" : "not-ready", service, checks: results }, ready ? 200 : 503)
              }
              if (path === "/metrics") {
                const text = await registry.metrics()
                return new Response(text, { headers: { "content-type": metricsContentType } })
              }
              return json({ error: "NotFound", path }, 404)
            },
          }),
        ),
        (server) => Effect.promise(() => server.stop()),
      )
      yield* Effect.logInfo("health server listening").pipe(Effect.annotateLogs({ port: server.port, hostname }))
    }),
  )
