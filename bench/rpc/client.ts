/**
 * One benchmark client process: `bun bench/rpc/client.ts <mode> <port> <concurrency> <seconds> <warmup> <tracing>`.
 * Keeps `concurrency` calls in flight for warmup + seconds and prints one JSON line:
 * { calls, errors, seconds, p50, p99, clientCpuMicros } (latencies in milliseconds, measured window only),
 * framed by "window-start" and "window-end" lines so the runner can read the server's CPU time over the window.
 */
import { FetchHttpClient } from "@effect/platform"
import { BunSocket } from "@effect/platform-bun"
import { RpcClient, RpcSerialization } from "@effect/rpc"
import { Context, Effect, Layer } from "effect"
import { makeRpcClient } from "../../src/rpc/index.ts"
import { makeDirectClient } from "../../src/rpc/direct.ts"
import { makeClientProtocol } from "../../src/rpc/transport.ts"
import { benchPayload, BenchRpcs } from "./contract.ts"

export const clientModes = [
  "fetch",
  "raw-ws",
  "rpc-http-json",
  "rpc-http-msgpack",
  "rpc-ws-json",
  "rpc-ws-msgpack",
  "rpc-socket-ndjson",
  "rpc-socket-msgpack",
  "mesh",
  "mesh-stock",
  "mesh-msgpack",
] as const
export type ClientMode = (typeof clientModes)[number]

const [modeArg, portArg, concurrencyArg, secondsArg, warmupArg, tracingArg] = process.argv.slice(2)
const mode = modeArg as ClientMode
const port = Number(portArg)
const concurrency = Number(concurrencyArg)
const seconds = Number(secondsArg)
const warmup = Number(warmupArg)
const tracing = tracingArg !== "off"

const latencies: Array<number> = []
let measuring = false
let running = true
let errors = 0

const record = (started: number) => {
  if (measuring) latencies.push(performance.now() - started)
}

const percentile = (sorted: Array<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0

/** Runs warmup, then the measured window; the workers stop at `running = false`. */
const clock = async (workers: Promise<unknown>) => {
  await Bun.sleep(warmup * 1000)
  console.log("window-start")
  measuring = true
  const started = performance.now()
  const cpuBefore = process.cpuUsage()
  await Bun.sleep(seconds * 1000)
  measuring = false
  const cpu = process.cpuUsage(cpuBefore)
  const elapsed = (performance.now() - started) / 1000
  console.log("window-end")
  running = false
  const calls = latencies.length
  latencies.sort((a, b) => a - b)
  console.log(
    JSON.stringify({
      calls,
      errors,
      seconds: elapsed,
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      clientCpuMicros: cpu.user + cpu.system,
    }),
  )
  await Promise.race([workers, Bun.sleep(2000)])
  process.exit(0)
}

const fetchWorkers = () => {
  const url = `http://127.0.0.1:${port}/get`
  const body = JSON.stringify(benchPayload)
  const worker = async () => {
    while (running) {
      const started = performance.now()
      try {
        const response = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json" } })
        await response.json()
        record(started)
      } catch {
        errors++
      }
    }
  }
  return Promise.all(Array.from({ length: concurrency }, worker))
}

/** Hand-written RPC wire messages over one WebSocket: what the transport costs without any Effect. */
const rawWsWorkers = async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/rpc`)
  await new Promise((resolve) => ws.addEventListener("open", resolve, { once: true }))
  const pending = new Map<string, () => void>()
  ws.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { _tag: string; requestId: string }
    if (message._tag !== "Exit") return
    const resolve = pending.get(message.requestId)
    pending.delete(message.requestId)
    resolve?.()
  })
  let nextId = 0
  const worker = async () => {
    while (running) {
      const id = String(nextId++)
      const started = performance.now()
      await new Promise<void>((resolve) => {
        pending.set(id, resolve)
        ws.send(JSON.stringify({ _tag: "Request", id, tag: "Get", payload: benchPayload, headers: [] }))
      })
      record(started)
    }
  }
  return Promise.all(Array.from({ length: concurrency }, worker))
}

const serializationOf = (name: string) =>
  name.endsWith("msgpack")
    ? RpcSerialization.layerMsgPack
    : name.endsWith("ndjson")
      ? RpcSerialization.layerNdjson
      : RpcSerialization.layerJson

const protocolOf = (name: ClientMode): Layer.Layer<RpcClient.Protocol, unknown> => {
  if (name.startsWith("rpc-http")) {
    return RpcClient.layerProtocolHttp({ url: `http://127.0.0.1:${port}/rpc` }).pipe(
      Layer.provide(FetchHttpClient.layer),
      Layer.provide(serializationOf(name)),
    )
  }
  if (name === "mesh-stock") {
    return Layer.scoped(
      RpcClient.Protocol,
      makeClientProtocol({
        url: `ws://127.0.0.1:${port}/rpc`,
        connectTimeout: "2 seconds",
        serialization: RpcSerialization.json,
      }),
    )
  }
  if (name.startsWith("rpc-ws")) {
    return RpcClient.layerProtocolSocket().pipe(
      Layer.provide(BunSocket.layerWebSocket(`ws://127.0.0.1:${port}/rpc`)),
      Layer.provide(serializationOf(name)),
    )
  }
  return RpcClient.layerProtocolSocket().pipe(
    Layer.provide(BunSocket.layerNet({ host: "127.0.0.1", port })),
    Layer.provide(serializationOf(name)),
  )
}

const effectWorkers = Effect.gen(function* () {
  const client =
    mode === "mesh"
      ? yield* Effect.sync(() => {
          process.env.ANALYTICS_RPC_PORT = String(port)
        }).pipe(Effect.zipRight(makeRpcClient(BenchRpcs, "analytics", { tracing })))
      : mode === "mesh-msgpack"
        ? yield* makeDirectClient(BenchRpcs, {
            url: `ws://127.0.0.1:${port}/rpc`,
            serialization: RpcSerialization.msgPack,
            connectTimeout: "2 seconds",
            tracing,
            spanPrefix: "bench.client",
          })
        : yield* RpcClient.make(BenchRpcs, { disableTracing: !tracing }).pipe(
            Effect.provideServiceEffect(
              RpcClient.Protocol,
              Effect.map(Layer.build(protocolOf(mode)), (context) => Context.get(context, RpcClient.Protocol)),
            ),
          )
  const call = client.Get(benchPayload)
  const worker = Effect.whileLoop({
    while: () => running,
    body: () => {
      const started = performance.now()
      // A failed call backs off for a millisecond: a worker that spins on instant failures starves the process
      // (and the stock RpcClient keeps an entry per refused request, see bench/RESULTS.md).
      return Effect.matchEffect(call, {
        onFailure: () => {
          errors++
          return Effect.sleep(1)
        },
        onSuccess: () => Effect.sync(() => record(started)),
      })
    },
    step: () => {},
  })
  yield* Effect.forkScoped(
    Effect.all(
      Array.from({ length: concurrency }, () => worker),
      { concurrency: "unbounded" },
    ),
  )
  return yield* Effect.promise(() => clock(Promise.resolve()))
}).pipe(Effect.scoped, tracing ? (self) => self : Effect.withTracerEnabled(false))

switch (mode) {
  case "fetch":
    void clock(fetchWorkers())
    break
  case "raw-ws":
    void rawWsWorkers().then(() => undefined)
    void clock(Promise.resolve())
    break
  default:
    Effect.runPromise(effectWorkers).catch((error: unknown) => {
      console.error(error)
      process.exit(1)
    })
}
