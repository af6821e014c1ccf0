/**
 * The REST journeys of the platform driven by autocannon (closed model: each connection sends its next
 * request when the last one answered), against the mesh or the monolith with the gateway in front:
 *
 * - browse: anonymous catalog reads, the listing and a product page in turn (cached answers);
 * - shop:   a signed-in customer per connection: a product page, one unit into the cart, a checkout
 *           with a fresh Idempotency-Key, the order list. A cart still frozen by the previous order's
 *           checkout answers 409 CartFrozen: counted, not hidden.
 *
 *   bun run bench/journeys/run.ts [seconds = 10] [connections = 10] [--monolith]
 *
 * Per journey: requests/s, latency p50/p99 (ms), answers by status class; the last line is a one-line
 * JSON summary. Afterwards the invariants of the orders are read back through the API (every order
 * of the shop journey terminal once the sagas settle).
 */
import autocannon from "autocannon"
import { loadavg } from "node:os"
import { parseArgs } from "node:util"
import { stockedProduct } from "../../test/gateway/support.ts"
import { type Customer, newCustomers } from "../load/customers.ts"
import { startRestWorld } from "../load/world.ts"

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  options: { monolith: { type: "boolean", default: false } },
  allowPositionals: true,
})
const seconds = Number(positionals[0] ?? 10)
const connections = Number(positionals[1] ?? 10)
const address = { line1: "1 Journey Way", city: "Springfield", postalCode: "12345", country: "US" }

const run = (options: autocannon.Options) =>
  new Promise<autocannon.Result>((resolve, reject) => {
    autocannon(options, (error, result) => (error ? reject(error) : resolve(result)))
  })

const summary = (result: autocannon.Result) => ({
  requestsPerSecond: Math.round(result.requests.average),
  p50Ms: result.latency.p50,
  p99Ms: result.latency.p99,
  answers: { "2xx": result["2xx"], "4xx": result["4xx"], "5xx": result["5xx"], errors: result.errors },
  byStatus: Object.fromEntries(
    Object.entries((result as { statusCodeStats?: Record<string, { count: number }> }).statusCodeStats ?? {}).map(
      ([status, stats]) => [status, stats.count],
    ),
  ),
})

const world = await startRestWorld({ monolith: values.monolith === true, suffix: "_bench_journeys" })
try {
  const product = await stockedProduct(world, 1_000_000, 1_250)
  const customers = await newCustomers(world.api, connections)
  console.log(`${world.kind}: browse, ${connections} connections for ${seconds}s …`)
  const browse = await run({
    url: world.gatewayUrl,
    connections,
    duration: seconds,
    requests: [
      { method: "GET", path: "/products?limit=20" },
      { method: "GET", path: `/products/${product.productId}` },
    ],
  })
  console.log(JSON.stringify({ journey: "browse", ...summary(browse) }))

  console.log(`${world.kind}: shop, ${connections} connections for ${seconds}s …`)
  let nextCustomer = 0
  /** Each connection shops as its own customer: the first request it sends picks one. */
  const asCustomer = (request: autocannon.Request, context: object): autocannon.Request => {
    const own = context as { customer?: Customer | undefined }
    own.customer ??= customers[nextCustomer++ % customers.length]
    const token = own.customer?.token ?? ""
    return { ...request, headers: { ...request.headers, authorization: `Bearer ${token}` } }
  }
  const json = { "content-type": "application/json" }
  /** One body per unexpected status (not 2xx, not the 409 of a frozen cart), to say what went wrong. */
  const samples: Record<string, string> = {}
  const sample = (path: string) => (status: number, body: string) => {
    const key = `${status} ${path}`
    if (status >= 300 && status !== 409 && samples[key] === undefined) samples[key] = body.slice(0, 300)
  }
  const shop = await run({
    url: world.gatewayUrl,
    connections,
    duration: seconds,
    requests: [
      {
        method: "GET",
        path: `/products/${product.productId}`,
        setupRequest: asCustomer,
        onResponse: sample("/products/{id}"),
      },
      {
        method: "POST",
        path: "/cart/items",
        onResponse: sample("/cart/items"),
        headers: json,
        body: JSON.stringify({ sku: product.sku, quantity: 1 }),
        setupRequest: asCustomer,
      },
      {
        method: "POST",
        path: "/checkout",
        onResponse: sample("/checkout"),
        body: JSON.stringify({ paymentToken: "tok_journey", address, deliveryZone: world.zone }),
        setupRequest: (request, context) =>
          asCustomer({ ...request, headers: { ...json, "idempotency-key": crypto.randomUUID() } }, context),
      },
      { method: "GET", path: "/orders?limit=5", setupRequest: asCustomer, onResponse: sample("/orders") },
    ],
  })
  console.log(JSON.stringify({ journey: "shop", ...summary(shop), samples }))

  // The sagas run on after the answers: every order of the shop journey ends CONFIRMED or FAILED.
  let pending = -1
  for (let attempt = 0; attempt < 600 && pending !== 0; attempt++) {
    pending = 0
    for (const customer of customers) {
      const answer = await world.api.call("GET", "/orders?limit=100", { token: customer.token })
      pending += (answer.body as Array<{ status: string }>).filter((order) => order.status === "PENDING").length
    }
    if (pending > 0) await Bun.sleep(100)
  }
  console.log(
    JSON.stringify({
      bench: "journeys",
      system: world.kind,
      seconds,
      connections,
      browse: summary(browse),
      shop: summary(shop),
      ordersStillPending: pending,
      loadAverage: loadavg().map((n) => Number(n.toFixed(2))),
    }),
  )
} finally {
  await world.stop()
}
