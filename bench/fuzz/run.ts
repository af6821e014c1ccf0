/**
 * Fuzzes the gateway's OpenAPI document with schemathesis against the real mesh: every service and the
 * gateway as processes on free ports (test/gateway/support.ts), databases of their own (`cm_<service>_fuzz`), then
 * schemathesis reads `<gateway>/openapi.json` and checks every answer for a 5xx, a body off its documented
 * schema, an undocumented status and an undocumented content type.
 *
 *   bun run bench/fuzz/run.ts            # full: 3 passes, a few minutes
 *   bun run bench/fuzz/run.ts --quick    # reduced: fewer examples per operation, no stateful phase
 *   bun run bench/fuzz/run.ts --seed 7 --max-examples 150   # another seed, more cases per operation
 *   bun run bench/fuzz/run.ts --verbose --include-path /checkout   # other flags go to every `st run`
 *
 * Passes, each with its own bearer token, because a token is a session the fuzzer could end:
 * - customer: every operation but logout (admin routes answer 403 and are checked for that),
 * - admin: the /admin routes with an admin's token, so they are exercised beyond 401/403,
 * - logout: POST /auth/logout alone, with a throwaway session (204 once, then 401).
 * The gateway's rate limit is raised far past what a run sends, and its buckets are in a Redis database of
 * the world's own, so no answer is a 429 that hides the route (429 is documented on every route anyway).
 * Reports (JUnit, NDJSON events, gateway log) go to bench/out/fuzz/. Exit code 1 when any pass failed.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { newCustomer, startGatewayWorld } from "../../test/gateway/support.ts"

const root = join(import.meta.dir, "..", "..")
export const defaultReportDir = join(root, "bench", "out", "fuzz")

export const checks = [
  "not_a_server_error",
  "status_code_conformance",
  "content_type_conformance",
  "response_schema_conformance",
] as const

export interface FuzzOptions {
  /** Test cases per operation and phase (schemathesis `--max-examples`). */
  readonly maxExamples: number
  readonly seed: number
  readonly workers: number
  /** Schemathesis phases; the stateful one needs links and is the slowest. */
  readonly phases: ReadonlyArray<"examples" | "coverage" | "fuzzing" | "stateful">
  /** Extra `st run` arguments. */
  readonly extra?: ReadonlyArray<string>
  /** Print schemathesis' output as it runs. */
  readonly verbose?: boolean
  /** Where the reports go (default bench/out/fuzz). */
  readonly reportDir?: string
  /** The world's databases (`cm_<service><suffix>`, default `_fuzz`) and, named after them, its command queues. */
  readonly databaseSuffix?: string
  /**
   * The Redis database (index) the world uses (default 11): rate-limit buckets, sessions and cached answers
   * of its own, so another gateway on the same Redis (a benchmark, a test) neither empties the
   * fuzzer's bucket for 127.0.0.1 nor serves it answers from other databases.
   */
  readonly redisDatabase?: number
}

/** REDIS_URL (or the local default) pointed at database `index`, unless it already names one. */
const redisUrlWithDatabase = (index: number) => {
  const url = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379")
  if (url.pathname.length <= 1) url.pathname = `/${index}`
  return url.toString()
}

export const fullRun: FuzzOptions = {
  maxExamples: 50,
  seed: 20_260_505,
  workers: 4,
  phases: ["examples", "coverage", "fuzzing", "stateful"],
}

export const quickRun: FuzzOptions = { ...fullRun, maxExamples: 8, phases: ["examples", "coverage", "fuzzing"] }

export interface PassResult {
  readonly pass: string
  readonly exitCode: number
  readonly output: string
  /** From schemathesis' NDJSON events: test cases generated and sent, and the operations tested. */
  readonly testCases: number
  readonly operations: number
  /** Responses per HTTP status. */
  readonly statuses: Readonly<Record<string, number>>
  readonly failures: ReadonlyArray<string>
}

export interface Schemathesis {
  readonly st: string
  /** Whether its Python parses safely on several threads (3.12+; see install.sh). */
  readonly threadSafeAst: boolean
}

/** Installs schemathesis (idempotent) and says where its `st` is. */
export const installSchemathesis = async (): Promise<Schemathesis> => {
  const child = Bun.spawn(["bash", join(import.meta.dir, "install.sh")], { stdout: "pipe", stderr: "inherit" })
  const out = await new Response(child.stdout).text()
  if ((await child.exited) !== 0) throw new Error("bench/fuzz/install.sh failed")
  const st = out.trim().split("\n").at(-1)
  if (st === undefined || st.length === 0) throw new Error("install.sh printed no path")
  const python = Bun.spawnSync([join(dirname(st), "python"), "-c", "import sys; print(sys.version_info >= (3, 12))"])
  return { st, threadSafeAst: python.stdout.toString().trim() === "True" }
}

interface Recorder {
  readonly label?: string
  readonly cases?: Record<string, unknown>
  readonly checks?: Record<string, ReadonlyArray<{ readonly name: string; readonly status: string }>>
  readonly interactions?: Record<string, { readonly response?: { readonly status_code?: number } | null }>
}

/** What the NDJSON event stream of one run says: cases sent, operations tested, statuses seen, failed checks. */
const summarize = (ndjson: string) => {
  const operations = new Set<string>()
  const failures = new Set<string>()
  const statuses: Record<string, number> = {}
  let testCases = 0
  for (const line of ndjson.split("\n")) {
    if (line.trim().length === 0) continue
    const recorder = (JSON.parse(line) as { ScenarioFinished?: { recorder?: Recorder } }).ScenarioFinished?.recorder
    if (recorder === undefined) continue
    const cases = Object.keys(recorder.cases ?? {}).length
    testCases += cases
    // Scenarios of the stateful phase are labelled by phase, not by operation.
    if (recorder.label !== undefined && cases > 0 && /^[A-Z]+ \//.test(recorder.label)) operations.add(recorder.label)
    for (const checksOfCase of Object.values(recorder.checks ?? {})) {
      for (const check of checksOfCase) if (check.status === "failure") failures.add(`${recorder.label}: ${check.name}`)
    }
    for (const interaction of Object.values(recorder.interactions ?? {})) {
      const status = String(interaction.response?.status_code ?? "no answer")
      statuses[status] = (statuses[status] ?? 0) + 1
    }
  }
  return { testCases, operations: operations.size, statuses, failures: [...failures].sort() }
}

const runPass = async (
  st: string,
  schemaUrl: string,
  pass: string,
  token: string,
  filters: ReadonlyArray<string>,
  options: FuzzOptions,
): Promise<PassResult> => {
  const reportDir = options.reportDir ?? defaultReportDir
  const ndjsonPath = join(reportDir, `${pass}.ndjson`)
  const args = [
    st,
    "run",
    schemaUrl,
    "--checks",
    checks.join(","),
    "--header",
    `Authorization: Bearer ${token}`,
    "--max-examples",
    String(options.maxExamples),
    "--seed",
    String(options.seed),
    "--workers",
    String(options.workers),
    "--phases",
    options.phases.join(","),
    "--generation-database",
    "none",
    "--request-timeout",
    "10",
    "--report",
    "junit,ndjson",
    "--report-junit-path",
    join(reportDir, `${pass}.junit.xml`),
    "--report-ndjson-path",
    ndjsonPath,
    "--no-color",
    ...filters,
    ...(options.extra ?? []),
  ]
  const child = Bun.spawn(args, {
    cwd: reportDir, // schemathesis keeps a .schemathesis cache where it runs
    stdout: "pipe",
    stderr: "pipe",
  })
  let output = ""
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder()
    for await (const chunk of stream) {
      const text = decoder.decode(chunk)
      output += text
      if (options.verbose) process.stdout.write(text)
    }
  }
  await Promise.all([collect(child.stdout), collect(child.stderr)])
  const exitCode = await child.exited
  writeFileSync(join(reportDir, `${pass}.txt`), output)
  const summary = summarize(await Bun.file(ndjsonPath).text())
  return { pass, exitCode, output, ...summary }
}

/** Starts the mesh and gateway, runs the three passes, stops the mesh. */
export const fuzzGateway = async (options: FuzzOptions): Promise<ReadonlyArray<PassResult>> => {
  const reportDir = options.reportDir ?? defaultReportDir
  mkdirSync(reportDir, { recursive: true })
  const { st, threadSafeAst } = await installSchemathesis()
  // On Python 3.11 hypothesis' ast.parse can fail spuriously when run on several threads (install.sh).
  const workers = threadSafeAst ? options.workers : 1
  const suffix = options.databaseSuffix ?? "_fuzz"
  const start = () =>
    startGatewayWorld({
      DATABASE_NAME_SUFFIX: suffix,
      COMMAND_QUEUE_PREFIX: `${suffix.replace(/^_/, "").replaceAll("_", "-")}.`,
      REDIS_URL: redisUrlWithDatabase(options.redisDatabase ?? 11),
      GATEWAY_RATE_LIMIT_BURST: "1000000",
      GATEWAY_RATE_LIMIT_PER_SECOND: "1000000",
    })
  // A port picked free can be taken by another process before a service binds it: start once more.
  const world = await start().catch((error: unknown) => {
    console.log(`the mesh did not start (${String(error).split("\n")[0]}); starting it again`)
    return start()
  })
  try {
    const schemaUrl = `${world.gatewayUrl}/openapi.json`
    const customer = await newCustomer(world.api)
    const throwaway = await newCustomer(world.api)
    // The admin's analytics reports need the analytics service; a world without it answers them 503.
    const withoutAnalytics = world.mesh.services.has("analytics") ? [] : ["--exclude-path-regex", "^/admin/analytics/"]
    if (withoutAnalytics.length > 0) console.log("the world runs no analytics service: /admin/analytics/* left out")
    const passes = [
      { pass: "customer", token: customer.token, filters: ["--exclude-path", "/auth/logout"] },
      { pass: "admin", token: world.adminToken, filters: ["--include-path-regex", "^/admin/", ...withoutAnalytics] },
      { pass: "logout", token: throwaway.token, filters: ["--include-path", "/auth/logout"] },
    ]
    const results: Array<PassResult> = []
    for (const { pass, token, filters } of passes) {
      const started = performance.now()
      const result = await runPass(st, schemaUrl, pass, token, filters, { ...options, workers })
      const seconds = ((performance.now() - started) / 1000).toFixed(1)
      console.log(
        `${pass}: exit ${result.exitCode}, ${result.testCases} test cases over ${result.operations} operations in ${seconds} s, ${result.failures.length} failing checks`,
      )
      console.log(`  statuses: ${JSON.stringify(result.statuses)}`)
      for (const failure of result.failures) console.log(`  failed: ${failure}`)
      results.push(result)
    }
    return results
  } finally {
    writeFileSync(join(reportDir, "gateway.log"), world.mesh.services.get("gateway")?.output() ?? "")
    await world.mesh.stop()
  }
}

if (import.meta.main) {
  // Own flags: --quick, --verbose, --seed N, --max-examples N, --workers N; anything else goes to every `st run`.
  let options: FuzzOptions = process.argv.includes("--quick") ? quickRun : fullRun
  const extra: Array<string> = []
  const args = process.argv.slice(2)
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? ""
    const value = Number(args[i + 1])
    if (arg === "--quick" || arg === "--") continue
    if (arg === "--verbose") options = { ...options, verbose: true }
    else if (arg === "--seed") options = { ...options, seed: value }
    else if (arg === "--max-examples") options = { ...options, maxExamples: value }
    else if (arg === "--workers") options = { ...options, workers: value }
    else {
      extra.push(arg)
      continue
    }
    if (arg !== "--verbose") i++
  }
  const results = await fuzzGateway({ ...options, extra })
  console.log(`reports in ${defaultReportDir}`)
  process.exit(results.every((result) => result.exitCode === 0) ? 0 : 1)
}
