/**
 * Gateway benchmark: the cached product listing and a cached product page through the gateway, side by
 * side in one run with a bare Bun.serve answering the same bytes (and, for the record, the same routes
 * served by Effect's HttpApiBuilder). Rounds alternate the servers so machine noise hits all alike.
 *
 *   bun run bench/gateway/run.ts [seconds per run = 8] [rounds = 3] [connections = 50]
 *
 * Every server answers each route for a few unmeasured seconds first (JIT warm-up); the last line is a
 * one-line JSON summary of the gateway against bare.
 *
 * Starts its own catalog, inventory and gateway processes (databases with the suffix _bench), seeds 20
 * products, and measures with wrk (Debian package `wrk`; installed when missing). The gateway keeps its
 * Redis rate limit on (a high limit, so none is refused: every request spends a token of the lease, and a
 * tenth of that burst is leased at once, so Redis is asked about once a second).
 */
import { $ } from "bun"
import { Effect, Layer } from "effect"
import { join } from "node:path"
import { CatalogRpcs } from "../../rpc/catalog.ts"
import { Currency, Money, Sku } from "../../rpc/common.ts"
import { InventoryRpcs, RestockId } from "../../rpc/inventory.ts"
import { RpcClientTag } from "../../src/rpc/index.ts"
import { testRuntime } from "../../test/support/run.ts"
import { freePort, startMesh } from "../../test/support/service-process.ts"

const seconds = Number(process.argv[2] ?? 8)
const rounds = Number(process.argv[3] ?? 3)
const connections = Number(process.argv[4] ?? 50)
const warmUpSeconds = 3

class Catalog extends RpcClientTag<Catalog>()("catalog", CatalogRpcs) {}
class Inventory extends RpcClientTag<Inventory>()("inventory", InventoryRpcs) {}

await $`bash ${join(import.meta.dir, "..", "..", "scripts", "infra", "debian-tool.sh")} wrk wrk`.quiet()

interface Sample {
  readonly perSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly non2xx: number
}

const millis = (value: string) => {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(value.trim())
  if (match === null) return Number.NaN
  const n = Number(match[1])
  return match[2] === "us" ? n / 1000 : match[2] === "ms" ? n : match[2] === "s" ? n * 1000 : n * 60_000
}

const wrk = async (url: string): Promise<Sample> => {
  const out = await $`wrk -t1 -c${connections} -d${seconds}s --latency ${url}`.text()
  const perSecond = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1])
  const p50Ms = millis(/\s50%\s+(\S+)/.exec(out)?.[1] ?? "")
  const p99Ms = millis(/\s99%\s+(\S+)/.exec(out)?.[1] ?? "")
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0)
  return { perSecond, p50Ms, p99Ms, non2xx }
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

const mesh = await startMesh(["catalog", "inventory", "gateway"], {
  DATABASE_NAME_SUFFIX: "_bench",
  LOG_LEVEL: "ERROR",
  GATEWAY_RATE_LIMIT_BURST: "1000000000",
  GATEWAY_RATE_LIMIT_PER_SECOND: "1000000000",
})
const children: Array<ReturnType<typeof Bun.spawn>> = []
try {
  const clients = testRuntime(Layer.mergeAll(Catalog.Live, Inventory.Live).pipe(Layer.provide(mesh.config)))
  const productId = await clients.run(
    Effect.gen(function* () {
      const catalog = yield* Catalog
      const inventory = yield* Inventory
      let last = ""
      for (let i = 0; i < 20; i++) {
        const sku = Sku.make(`bench-${crypto.randomUUID().slice(0, 8)}`)
        const product = yield* catalog.CreateProduct({
          sku,
          name: `Bench product ${i}`,
          description: "A product of the gateway benchmark, with a description of ordinary length.",
          price: new Money({ amount: 1_000 + i, currency: Currency.make("EUR") }),
        })
        yield* inventory.Restock({ restockId: RestockId.make(`bench-${sku}`), sku, quantity: 100 })
        last = product.id
      }
      return last
    }),
  )
  await clients.dispose()

  const gateway = mesh.services.get("gateway")?.httpUrl ?? ""
  const paths = { listing: "/products?limit=20", detail: `/products/${productId}` }
  const answers: Record<string, string> = {}
  for (const path of Object.values(paths)) answers[path] = await (await fetch(`${gateway}${path}`)).text()
  const answersFile = `/tmp/gateway-bench-answers-${process.pid}.json`
  await Bun.write(answersFile, JSON.stringify(answers))

  const start = async (script: string) => {
    const port = freePort()
    const child = Bun.spawn([process.execPath, `${import.meta.dir}/${script}`, String(port), answersFile], {
      stdout: "ignore",
      stderr: "inherit",
    })
    children.push(child)
    for (let i = 0; i < 100; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}${paths.listing}`).then(
        (r) => r.ok,
        () => false,
      )
      if (ok) return `http://127.0.0.1:${port}`
      await Bun.sleep(100)
    }
    throw new Error(`${script} did not start`)
  }
  const targets = { bare: await start("bare.ts"), gateway, "effect-httpapi": await start("effect-http.ts") }

  // Unmeasured: every server answers each route for a while first, so the rounds measure compiled code (the
  // gateway's first round used to run partly in the JIT's lower tiers and read 10-20 % below its later ones).
  for (const path of Object.values(paths)) {
    for (const base of Object.values(targets))
      await $`wrk -t1 -c${connections} -d${warmUpSeconds}s ${base}${path}`.quiet()
  }

  const results: Record<string, Record<string, Array<Sample>>> = {}
  for (let round = 1; round <= rounds; round++) {
    for (const [route, path] of Object.entries(paths)) {
      for (const [name, base] of Object.entries(targets)) {
        const sample = await wrk(`${base}${path}`)
        const byRoute = (results[route] ??= {})
        ;(byRoute[name] ??= []).push(sample)
        console.log(
          `round ${round} ${route.padEnd(7)} ${name.padEnd(14)} ${sample.perSecond.toFixed(0).padStart(7)} req/s  p50 ${sample.p50Ms.toFixed(2)} ms  p99 ${sample.p99Ms.toFixed(2)} ms${sample.non2xx > 0 ? `  non-2xx ${sample.non2xx}` : ""}`,
        )
      }
    }
  }

  const summary: Record<string, Record<string, number>> = {}
  console.log(`\nmedians of ${rounds} rounds, ${seconds}s each, wrk -t1 -c${connections}:`)
  console.log("| route | server | req/s | p50 ms | p99 ms | req/s vs bare | p99 vs bare |")
  console.log("|---|---|---:|---:|---:|---:|---:|")
  for (const [route, byServer] of Object.entries(results)) {
    const bare = byServer.bare ?? []
    const bareRate = median(bare.map((s) => s.perSecond))
    const bareP99 = median(bare.map((s) => s.p99Ms))
    for (const [name, samples] of Object.entries(byServer)) {
      const rate = median(samples.map((s) => s.perSecond))
      const p50 = median(samples.map((s) => s.p50Ms))
      const p99 = median(samples.map((s) => s.p99Ms))
      console.log(
        `| ${route} | ${name} | ${rate.toFixed(0)} | ${p50.toFixed(2)} | ${p99.toFixed(2)} | ${(rate / bareRate).toFixed(2)}× | ${(p99 / bareP99).toFixed(2)}× |`,
      )
      if (name === "gateway") {
        summary[route] = {
          gatewayPerSecond: Math.round(rate),
          barePerSecond: Math.round(bareRate),
          rateVsBare: Number((rate / bareRate).toFixed(2)),
          p99Ms: p99,
          p99VsBare: Number((p99 / bareP99).toFixed(2)),
        }
      }
    }
  }
  console.log(JSON.stringify({ bench: "gateway", seconds, rounds, connections, routes: summary }))
} finally {
  for (const child of children) child.kill()
  await mesh.stop()
}
