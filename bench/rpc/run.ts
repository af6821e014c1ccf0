/**
 * The RPC transport benchmark, single entry:
 *
 *   bun bench/rpc/run.ts [--seconds 5] [--warmup 2] [--rounds 2] [--concurrency 32,128] [--only a,b] [--paired] [--no-pin]
 *
 * Every case starts its own server process and then its own client process (pinned to core 0 and core 1
 * with taskset unless --no-pin), keeps `concurrency` calls in flight for warmup + seconds, and reports
 * calls/s and p50/p99. Rounds interleave all cases so that the machine's noise spreads over all of them;
 * ratios are taken against the bare fetch → Bun.serve baseline of the same round and concurrency.
 * With --paired every case runs right after its own bare baseline and its ratio is taken against that
 * one: on a shared machine whose load drifts within minutes this is the fairer comparison.
 */
import { join } from "node:path"
import { parseArgs } from "node:util"

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    warmup: { type: "string", default: "2" },
    rounds: { type: "string", default: "2" },
    concurrency: { type: "string", default: "32,128" },
    only: { type: "string" },
    "no-pin": { type: "boolean", default: false },
    paired: { type: "boolean", default: false },
  },
})

interface Case {
  readonly name: string
  readonly server: string
  readonly client: string
  readonly tracing: boolean
}

const both = (name: string, server: string, client: string): Array<Case> => [
  { name: `${name} (spans)`, server, client, tracing: true },
  { name: `${name} (no spans)`, server, client, tracing: false },
]

const allCases: Array<Case> = [
  { name: "bare: fetch → Bun.serve", server: "bare-http", client: "fetch", tracing: false },
  { name: "bare: WebSocket → Bun.serve ws", server: "bare-ws", client: "raw-ws", tracing: false },
  { name: "fetch → Effect HttpRouter", server: "effect-http", client: "fetch", tracing: false },
  { name: "raw ws client → rpc ws+json server", server: "rpc-ws-json", client: "raw-ws", tracing: false },
  ...both("rpc http+json", "rpc-http-json", "rpc-http-json"),
  ...both("rpc http+msgpack", "rpc-http-msgpack", "rpc-http-msgpack"),
  ...both("rpc ws+json", "rpc-ws-json", "rpc-ws-json"),
  ...both("rpc ws+msgpack", "rpc-ws-msgpack", "rpc-ws-msgpack"),
  ...both("rpc socket+ndjson", "rpc-socket-ndjson", "rpc-socket-ndjson"),
  ...both("rpc socket+msgpack", "rpc-socket-msgpack", "rpc-socket-msgpack"),
  { name: "raw ws client → src/rpc/index.ts server", server: "mesh", client: "raw-ws", tracing: false },
  {
    name: "raw ws client → stock RpcServer on src/rpc/index.ts ws",
    server: "mesh-stock",
    client: "raw-ws",
    tracing: false,
  },
  ...both("src/rpc/index.ts ws transport, stock RpcClient/Server", "mesh-stock", "mesh-stock"),
  ...both("src/rpc/index.ts direct + msgpack", "mesh-msgpack", "mesh-msgpack"),
  ...both("src/rpc/index.ts (direct, ws+json)", "mesh", "mesh"),
]

const only = values.only?.split(",").map((s) => s.trim())
const cases = allCases.filter((c, i) => i === 0 || only === undefined || only.some((o) => c.name.includes(o)))
const paired = values.paired
const concurrencies = values.concurrency.split(",").map(Number)
const rounds = Number(values.rounds)
const pin = !values["no-pin"]
const bun = process.execPath
const here = import.meta.dir
// Below Linux's ephemeral range (32768–60999), where outgoing connections could already hold the port.
let nextPort = 24_000 + Math.floor(Math.random() * 900)

interface Sample {
  readonly calls: number
  readonly errors: number
  readonly seconds: number
  readonly p50: number
  readonly p99: number
  readonly clientCpuMicros: number
  serverCpuMicros: number
}

/** utime + stime of a process in microseconds, from /proc (clock ticks of 10 ms). */
const processCpuMicros = async (pid: number) => {
  const stat = await Bun.file(`/proc/${pid}/stat`).text()
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

const onCore = (core: number, argv: Array<string>) => (pin ? ["taskset", "-c", String(core), ...argv] : argv)

const waitForPort = async (port: number, server: { exitCode: number | null }) => {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`server exited with ${server.exitCode}`)
    const up = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
      (socket) => {
        socket.end()
        return true
      },
      () => false,
    )
    if (up) return
    await Bun.sleep(25)
  }
  throw new Error(`server did not listen on ${port}`)
}

/** A server that cannot bind (another process on the port) is retried on the next port. */
const runCase = async (c: Case, concurrency: number): Promise<Sample> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runCaseOnce(c, concurrency, nextPort++)
    } catch (error) {
      if (attempt >= 3) throw error
      console.error(`retrying ${c.name}: ${String(error)}`)
    }
  }
}

const runCaseOnce = async (c: Case, concurrency: number, port: number): Promise<Sample> => {
  const tracing = c.tracing ? "on" : "off"
  const server = Bun.spawn(onCore(0, [bun, join(here, "server.ts"), c.server, String(port), tracing]), {
    stdout: "ignore",
    stderr: "inherit",
  })
  try {
    await waitForPort(port, server)
    const client = Bun.spawn(
      onCore(1, [
        bun,
        join(here, "client.ts"),
        c.client,
        String(port),
        String(concurrency),
        values.seconds,
        values.warmup,
        tracing,
      ]),
      { stdout: "pipe", stderr: "inherit" },
    )
    let serverCpuStart = 0
    let serverCpu = 0
    let last = ""
    let buffered = ""
    const decoder = new TextDecoder()
    for await (const chunk of client.stdout) {
      buffered += decoder.decode(chunk)
      let newline = buffered.indexOf("\n")
      while (newline !== -1) {
        const line = buffered.slice(0, newline).trim()
        buffered = buffered.slice(newline + 1)
        if (line === "window-start") serverCpuStart = await processCpuMicros(server.pid)
        else if (line === "window-end") serverCpu = (await processCpuMicros(server.pid)) - serverCpuStart
        else if (line.length > 0) last = line
        newline = buffered.indexOf("\n")
      }
    }
    await client.exited
    const sample = JSON.parse(last) as Sample
    sample.serverCpuMicros = serverCpu
    return sample
  } finally {
    server.kill("SIGKILL")
    await server.exited
  }
}

const median = (xs: Array<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

interface Result {
  readonly rate: number
  readonly ratio: number
  readonly p50: number
  readonly p99: number
  readonly errors: number
  readonly clientCpu: number
  readonly serverCpu: number
}
const results = new Map<string, Array<Result>>()

for (let round = 1; round <= rounds; round++) {
  for (const concurrency of concurrencies) {
    let baseline = 0
    for (const c of cases) {
      if (paired && c.server !== "bare-http") {
        const bare = await runCase(cases[0] as Case, concurrency)
        baseline = bare.calls / bare.seconds
        console.error(`round ${round} c=${concurrency} paired baseline: ${Math.round(baseline)} calls/s`)
      }
      const sample = await runCase(c, concurrency)
      const rate = sample.calls / sample.seconds
      if (c.server === "bare-http") baseline = rate
      const key = `${c.name}|${concurrency}`
      const list = results.get(key) ?? []
      list.push({
        rate,
        ratio: baseline > 0 ? rate / baseline : 0,
        p50: sample.p50,
        p99: sample.p99,
        errors: sample.errors,
        clientCpu: sample.calls > 0 ? sample.clientCpuMicros / sample.calls : 0,
        serverCpu: sample.calls > 0 ? sample.serverCpuMicros / sample.calls : 0,
      })
      results.set(key, list)
      console.error(
        `round ${round} c=${concurrency} ${c.name}: ${Math.round(rate)} calls/s p50 ${sample.p50.toFixed(2)} ms p99 ${sample.p99.toFixed(2)} ms cpu/call client ${(sample.clientCpuMicros / Math.max(1, sample.calls)).toFixed(0)} µs server ${(sample.serverCpuMicros / Math.max(1, sample.calls)).toFixed(0)} µs`,
      )
    }
  }
}

const pad = (s: string, n: number) => s.padEnd(n)
const lines = [
  `| case | in flight | calls/s | p50 ms | p99 ms | × bare fetch | client CPU µs/call | server CPU µs/call | errors |`,
  `|---|---:|---:|---:|---:|---:|---:|---:|---:|`,
]
for (const concurrency of concurrencies) {
  for (const c of cases) {
    const list = results.get(`${c.name}|${concurrency}`) ?? []
    lines.push(
      `| ${pad(c.name, 40)} | ${concurrency} | ${Math.round(median(list.map((r) => r.rate)))} | ${median(list.map((r) => r.p50)).toFixed(2)} | ${median(list.map((r) => r.p99)).toFixed(2)} | ${median(list.map((r) => r.ratio)).toFixed(2)} | ${median(list.map((r) => r.clientCpu)).toFixed(0)} | ${median(list.map((r) => r.serverCpu)).toFixed(0)} | ${list.reduce((n, r) => n + r.errors, 0)} |`,
    )
  }
}
console.log(
  `RPC transports — ${new Date().toISOString()} — ${rounds} round(s) × ${values.seconds} s (+${values.warmup} s warmup), medians; pinned: ${pin}; paired: ${paired}`,
)
console.log(lines.join("\n"))
