import { RpcTest } from "@effect/rpc"
import { Effect } from "effect"
import { BenchRpcs, answer, benchPayload } from "./contract.ts"
const Handlers = BenchRpcs.toLayer({ Get: ({ id, name }) => Effect.succeed(answer(id, name)) })
const N = 50_000
const prog = Effect.gen(function* () {
  const client = yield* RpcTest.makeClient(BenchRpcs)
  for (let round = 0; round < 3; round++) {
    const t = performance.now()
    const c0 = process.cpuUsage()
    yield* Effect.forEach(Array.from({ length: N }), () => client.Get(benchPayload), { concurrency: 32, discard: true })
    const cpu = process.cpuUsage(c0)
    console.log(
      `in-process RpcTest: ${Math.round(N / ((performance.now() - t) / 1000))} calls/s, ${((cpu.user + cpu.system) / N).toFixed(1)} µs cpu/call`,
    )
  }
  const t = performance.now()
  yield* Effect.forEach(
    Array.from({ length: N }),
    () =>
      Effect.succeed(1).pipe(
        Effect.fork,
        Effect.flatMap((f) => f.await),
      ),
    { concurrency: 32, discard: true },
  )
  console.log(`fork+await: ${Math.round(N / ((performance.now() - t) / 1000))} /s`)
}).pipe(Effect.scoped, Effect.provide(Handlers), Effect.withTracerEnabled(false))
Effect.runPromise(prog)
