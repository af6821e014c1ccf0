/**
 * The HTTP side port every service has: `/healthz` (the process is alive), `/readyz` (each of its
 * dependencies answers within a deadline) and `/metrics` (Prometheus text).
 */
import { type Config, type Context, Duration, Effect, Layer, Runtime } from "effect"
import { httpPort, serviceBind, type ServiceName } from "./config.ts"
import { httpRecorder, metricsContentType, renderMetrics } from "./metrics.ts"

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

/** A JSON answer. */
export const json = (body: unknown, status = 200, headers?: Record<string, string>) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })

/** An error that says when to come back (`retryAfterSeconds`) says it in a Retry-After header too. */
export const retryAfterOf = (body: unknown): Record<string, string> | undefined => {
  const seconds =
    typeof body === "object" && body !== null ? (body as { retryAfterSeconds?: unknown }).retryAfterSeconds : undefined
  return typeof seconds === "number" ? { "retry-after": String(seconds) } : undefined
}

/**
 * Checks of one part of a process resolved against that part's own context, and named `<part>.<check>`:
 * how a process running several services (the monolith) checks each service's own database and clients
 * on one side port.
 */
export const checksOf = <R>(
  part: string,
  checks: ReadinessChecks<R>,
  context: Context.Context<R>,
): ReadinessChecks<never> =>
  Object.fromEntries(Object.entries(checks).map(([name, check]) => [`${part}.${name}`, Effect.provide(check, context)]))

export type HealthServerOptions<R> =
  | {
      /** Listens on `serviceBind(service)`:`httpPort(service)`; `service` labels its metrics and answers. */
      readonly service: ServiceName
      readonly checks: ReadinessChecks<R>
    }
  | {
      /** A process that is not one service (the monolith): its name, and where it listens. */
      readonly service: string
      readonly checks: ReadinessChecks<R>
      readonly port: Config.Config<number>
      readonly hostname: Config.Config<string>
    }

/**
 * The answers of /healthz, /readyz and /metrics for `service`, or undefined for any other path; the side
 * port serves them alone, the gateway next to its REST API.
 */
export const makeHealthRoutes = <R>({ service, checks }: HealthServerOptions<R>) =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<R>()
    const runPromise = Runtime.runPromise(runtime)
    const record = httpRecorder(service)
    const observe = (route: string, started: number, status: number) =>
      record("GET", route, status, (performance.now() - started) / 1000)
    return async (path: string): Promise<Response | undefined> => {
      const started = performance.now()
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
        const text = await renderMetrics()
        return new Response(text, { headers: { "content-type": metricsContentType } })
      }
      return undefined
    }
  })

/** Starts the side port for `service`; stops it when the Layer's scope closes. */
export const HealthServerLive = <R>(options: HealthServerOptions<R>) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const port = "port" in options ? yield* options.port : yield* httpPort(options.service)
      const hostname = "hostname" in options ? yield* options.hostname : yield* serviceBind(options.service)
      const routes = yield* makeHealthRoutes(options)
      const server = yield* Effect.acquireRelease(
        Effect.sync(() =>
          Bun.serve({
            port,
            hostname,
            fetch: async (request) => {
              const path = new URL(request.url).pathname
              return (await routes(path)) ?? json({ error: "NotFound", path }, 404)
            },
          }),
        ),
        (server) => Effect.promise(() => server.stop()),
      )
      yield* Effect.logInfo("health server listening").pipe(Effect.annotateLogs({ port: server.port, hostname }))
    }),
  )
