/**
 * The mesh runner: starts every service under services/ as its own Bun process, prefixes and
 * streams their logs, waits until each answers /readyz, restarts one that crashes (with backoff),
 * and stops them all with SIGTERM (then SIGKILL after the grace period) on Ctrl-C.
 *
 *   bun run scripts/mesh.ts [--source] [--no-seed] [service ...]   # default: every services/<name>/main.ts
 *
 * Once every service is ready it seeds the demo data (scripts/seed.ts; idempotent) and prints the
 * gateway, docs and metrics URLs and the demo accounts.
 *
 * Each service runs from a minified bundle (`bun build` into dist/<service>.js, next to migrations/ as
 * the sources are): a bundle holds only the library code the service uses, which keeps an idle service
 * near 77 MB instead of ~105 MB (bench/RESULTS.md). `--source` runs the TypeScript files directly.
 */
import { BunRuntime } from "@effect/platform-bun"
import { Data, Duration, Effect, Schedule } from "effect"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { httpPort, serviceHost, ServiceNames, type ServiceName } from "../src/config.ts"
import { launchCommand, requestPathNice } from "../src/process-priority.ts"
import { demoAccounts, seedDemoData, seedSummary } from "./seed.ts"

/** The services the demo data is written through. */
const seedable: ReadonlyArray<ServiceName> = ["catalog", "inventory", "delivery", "user"]

const root = join(import.meta.dir, "..")
const colors = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96]

const isService = (name: string): name is ServiceName => (ServiceNames as ReadonlyArray<string>).includes(name)

const fromSource = process.argv.includes("--source")
const seed = !process.argv.includes("--no-seed")
const requested = process.argv.slice(2).filter((arg) => !arg.startsWith("--"))
const services = (requested.length > 0 ? requested : ServiceNames).filter(
  (name): name is ServiceName => isService(name) && existsSync(join(root, "services", name, "main.ts")),
)

const pipeWithPrefix = (stream: ReadableStream<Uint8Array>, prefix: string) =>
  Effect.promise(async () => {
    const decoder = new TextDecoder()
    let pending = ""
    for await (const chunk of stream) {
      pending += decoder.decode(chunk, { stream: true })
      const lines = pending.split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines) process.stdout.write(`${prefix} ${line}\n`)
    }
    if (pending.length > 0) process.stdout.write(`${prefix} ${pending}\n`)
  })

class NotReady extends Data.TaggedError("NotReady")<{ readonly service: ServiceName; readonly status: number }> {}

const waitReady = (service: ServiceName) =>
  Effect.gen(function* () {
    const url = `http://${yield* serviceHost(service)}:${yield* httpPort(service)}/readyz`
    yield* Effect.tryPromise(() => fetch(url)).pipe(
      Effect.filterOrFail(
        (response) => response.ok,
        (response) => new NotReady({ service, status: response.status }),
      ),
      Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("60 seconds"))),
    )
    return url.replace("/readyz", "/metrics")
  })

const entry = (service: ServiceName) =>
  fromSource ? join(root, "services", service, "main.ts") : join(root, "dist", `${service}.js`)

class BundleFailed extends Data.TaggedError("BundleFailed")<{
  readonly service: ServiceName
  readonly message: string
}> {}

/** Bundles every service once, before any starts; a failed build stops the runner with the compiler's words. */
const bundle = Effect.forEach(
  services,
  (service) =>
    Effect.gen(function* () {
      const built = yield* Effect.tryPromise({
        try: () =>
          Bun.build({ entrypoints: [join(root, "services", service, "main.ts")], target: "bun", minify: true }),
        catch: (error) => new BundleFailed({ service, message: String(error) }),
      })
      const [output] = built.outputs
      if (!built.success || output === undefined) {
        return yield* new BundleFailed({ service, message: built.logs.map(String).join("\n") })
      }
      yield* Effect.tryPromise({
        try: () => Bun.write(entry(service), output),
        catch: (error) => new BundleFailed({ service, message: `cannot write the bundle: ${String(error)}` }),
      })
    }),
  { concurrency: 2, discard: true },
)

/** Set when the runner shuts down, so a child stopping then is not restarted. */
let stopping = false

/** Runs one service forever: a crash restarts it after a growing pause (reset once it stayed up). */
const supervise = (service: ServiceName, index: number, nice: number) => {
  const prefix = `\x1b[${colors[index % colors.length]}m${service.padEnd(10)}\x1b[0m|`
  const once = Effect.acquireUseRelease(
    Effect.sync(() =>
      Bun.spawn(launchCommand(service, ["bun", "run", entry(service)], nice), {
        cwd: root,
        stdout: "pipe",
        stderr: "pipe",
        // kafkajs sets a negative timer once per process; Bun warns about it on stderr. Harmless.
        env: {
          NODE_NO_WARNINGS: "1",
          // The seeded admin account (scripts/seed.ts) is an admin from its registration.
          USER_BOOTSTRAP_ADMIN_EMAILS: demoAccounts.admin.email,
          ...process.env,
        },
      }),
    ),
    (child) =>
      Effect.all([pipeWithPrefix(child.stdout, prefix), pipeWithPrefix(child.stderr, prefix)], {
        concurrency: 2,
      }).pipe(Effect.zipRight(Effect.promise(() => child.exited))),
    (child) =>
      Effect.gen(function* () {
        if (child.exitCode !== null) return
        child.kill("SIGTERM")
        const exited = yield* Effect.promise(() => child.exited).pipe(
          Effect.timeout(Duration.seconds(12)),
          Effect.option,
        )
        if (exited._tag === "None") child.kill("SIGKILL")
      }),
  )
  return once.pipe(
    Effect.tap((code) =>
      Effect.sync(() => {
        if (!stopping) process.stdout.write(`${prefix} exited with ${code}; restarting\n`)
      }),
    ),
    Effect.repeat({
      schedule: Schedule.exponential("500 millis").pipe(Schedule.either(Schedule.spaced("10 seconds"))),
      while: () => !stopping,
    }),
  )
}

const main = Effect.gen(function* () {
  if (services.length === 0) {
    yield* Effect.sync(() => console.log("no services to start (services/<name>/main.ts)"))
    return
  }
  if (!fromSource) {
    const building = performance.now()
    yield* bundle
    yield* Effect.sync(() =>
      console.log(`bundled ${services.length} services in ${((performance.now() - building) / 1000).toFixed(2)}s`),
    )
  }
  const started = performance.now()
  const nice = yield* requestPathNice
  yield* Effect.forEach(services, (service, index) => Effect.forkScoped(supervise(service, index, nice)), {
    discard: true,
  })
  // Added after the forks so it runs before they are interrupted (finalizers run in reverse).
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      stopping = true
    }),
  )
  const metrics = yield* Effect.forEach(services, (service) => waitReady(service), { concurrency: "unbounded" })
  const seconds = ((performance.now() - started) / 1000).toFixed(2)
  const seeded = seed && seedable.every((service) => services.includes(service))
  if (seeded) yield* seedDemoData
  const gateway = `http://127.0.0.1:${yield* httpPort("gateway")}`
  const lines = [
    "",
    `mesh ready in ${seconds}s: ${services.length} services`,
    services.includes("gateway") ? `  gateway   ${gateway}` : "",
    services.includes("gateway") ? `  docs      ${gateway}/docs   (OpenAPI: ${gateway}/openapi.json)` : "",
    ...services.map((service, index) => `  ${service.padEnd(10)} metrics ${metrics[index]}`),
    ...(seeded ? ["demo data seeded:", ...seedSummary] : []),
    "Ctrl-C stops everything.",
    "",
  ]
  yield* Effect.sync(() => console.log(lines.filter((line) => line !== "").join("\n")))
  return yield* Effect.never
}).pipe(Effect.scoped)

BunRuntime.runMain(main)
