/**
 * The gateway's Redis token bucket: a caller past its burst gets 429 with Retry-After, another caller is
 * not affected, and the bucket refills with time. Each caller here is a distinct (made-up) bearer token,
 * so the buckets are this test's own even on a Redis that other gateways share.
 */
import { afterAll, beforeAll, expect, test } from "bun:test"
import { type ServiceProcess, startService } from "../support/service-process.ts"

let gateway: ServiceProcess

beforeAll(async () => {
  gateway = await startService("gateway", { GATEWAY_RATE_LIMIT_BURST: "5", GATEWAY_RATE_LIMIT_PER_SECOND: "1" })
}, 60_000)

afterAll(async () => {
  await gateway?.stop()
})

const callAs = (caller: string) =>
  fetch(`${gateway.httpUrl}/openapi.json`, { headers: { authorization: `Bearer ${caller}` } })

test("past its burst a caller gets 429 with Retry-After, others do not, and the bucket refills", async () => {
  const caller = `caller-${crypto.randomUUID()}`
  const answers = await Promise.all(Array.from({ length: 12 }, () => callAs(caller)))
  const statuses = answers.map((answer) => answer.status)
  expect(statuses.filter((status) => status === 200)).toHaveLength(5)
  expect(statuses.filter((status) => status === 429)).toHaveLength(7)

  const refused = answers.find((answer) => answer.status === 429)
  const retryAfter = Number(refused?.headers.get("retry-after"))
  expect(retryAfter).toBeGreaterThanOrEqual(1)
  expect(await refused?.json()).toMatchObject({ _tag: "RateLimited", retryAfterSeconds: retryAfter })

  expect((await callAs(`other-${crypto.randomUUID()}`)).status).toBe(200)
  // Probes are never limited: an orchestrator must see the gateway's health even while it is flooded.
  expect((await fetch(`${gateway.httpUrl}/healthz`, { headers: { authorization: `Bearer ${caller}` } })).status).toBe(
    200,
  )

  await Bun.sleep(retryAfter * 1000 + 100)
  expect((await callAs(caller)).status).toBe(200)
}, 30_000)

test("a busy caller is served from leased tokens, and still gets exactly its burst, not more", async () => {
  // A burst of 100 is leased to the gateway ten tokens at a time; with no refill to speak of, 150 calls
  // must see exactly 100 answers and 50 refusals however the leases fall.
  const leasing = await startService("gateway", {
    GATEWAY_RATE_LIMIT_BURST: "100",
    GATEWAY_RATE_LIMIT_PER_SECOND: "0.01",
  })
  try {
    const caller = `busy-${crypto.randomUUID()}`
    const statuses: Array<number> = []
    for (let batch = 0; batch < 15; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          fetch(`${leasing.httpUrl}/openapi.json`, { headers: { authorization: `Bearer ${caller}` } }),
        ),
      )
      statuses.push(...answers.map((answer) => answer.status))
    }
    expect(statuses.filter((status) => status === 200)).toHaveLength(100)
    expect(statuses.filter((status) => status === 429)).toHaveLength(50)
  } finally {
    await leasing.stop()
  }
}, 30_000)
