/**
 * The gateway's Redis token bucket: a caller past its burst gets 429 with Retry-After, another caller is
 * not affected, and the bucket refills with time. Each caller here is a distinct (made-up) bearer token,
 * so the buckets are this test's own even on a Redis that other gateways share.
 */
import { afterAll, beforeAll, expect, test } from "bun:test"
import { Redis } from "ioredis"
import { createHash } from "node:crypto"
import { connect, type Socket } from "node:net"
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

test("the concurrent requests of a caller without a lease share one call to Redis", async () => {
  // Burst 1000: a call to Redis leases 100 tokens. Fifty requests at once spend one lease between them
  // (the first asks Redis; the others wait for its answer and spend the tokens it brings), so the bucket in
  // Redis loses 100 tokens, not 100 for every request that found no lease. The fifty are written on fifty
  // connections opened beforehand, in one go, so the gateway reads them before Redis can answer the first.
  const sharing = await startService("gateway", {
    GATEWAY_RATE_LIMIT_BURST: "1000",
    GATEWAY_RATE_LIMIT_PER_SECOND: "0.01",
  })
  const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379")
  try {
    const authorization = `Bearer shared-${crypto.randomUUID()}`
    const statuses = await atOnce(
      sharing.httpPort,
      `GET /docs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${authorization}\r\n\r\n`,
      50,
    )
    expect(statuses).toEqual(Array.from({ length: 50 }, () => 200))
    const bucket = `gateway:rate:token:${createHash("sha256").update(authorization).digest("base64url").slice(0, 22)}`
    expect(Math.floor(Number(await redis.hget(bucket, "tokens")))).toBe(900)
  } finally {
    redis.disconnect()
    await sharing.stop()
  }
}, 30_000)

/** Opens `count` connections, then writes `request` on each in one loop; answers each response's status. */
const atOnce = async (port: number, request: string, count: number) => {
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect(port, "127.0.0.1", () => resolve(socket))
          socket.on("error", reject)
        }),
    ),
  )
  const answers = sockets.map(
    (socket) =>
      new Promise<number>((resolve) => {
        let received = ""
        socket.setEncoding("latin1")
        socket.on("data", (chunk: string) => {
          received += chunk
          const status = /^HTTP\/1\.1 (\d{3})/.exec(received)
          if (status !== null) {
            socket.destroy()
            resolve(Number(status[1]))
          }
        })
      }),
  )
  for (const socket of sockets) socket.write(request)
  return Promise.all(answers)
}

test("behind a trusted proxy a caller is limited by its X-Forwarded-For address; elsewhere the header is ignored", async () => {
  const proxied = await startService("gateway", {
    GATEWAY_RATE_LIMIT_BURST: "3",
    GATEWAY_RATE_LIMIT_PER_SECOND: "0.01",
    GATEWAY_TRUSTED_PROXIES: "127.0.0.1",
  })
  try {
    // Made-up client addresses of this run, so the buckets are the test's own on a shared Redis.
    const address = () =>
      `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`
    const [first, second] = [address(), address()]
    const from = (client: string, chain = client) =>
      fetch(`${proxied.httpUrl}/openapi.json`, { headers: { "x-forwarded-for": chain } }).then((r) => r.status)
    const statuses = [await from(first), await from(first), await from(first), await from(first)]
    expect(statuses).toEqual([200, 200, 200, 429])
    // Another client behind the same proxy has its own bucket; what a client claims left of the proxy's
    // entry does not choose its bucket.
    expect(await from(second)).toBe(200)
    expect(await from(first, `${second}, ${first}`)).toBe(429)

    // The first gateway trusts no proxy: the header does not choose a bucket there.
    const spoofed = address()
    const plain = await fetch(`${gateway.httpUrl}/openapi.json`, { headers: { "x-forwarded-for": spoofed } })
    expect(plain.status).toBe(200)
    const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379")
    try {
      expect(await redis.exists(`gateway:rate:ip:${spoofed}`)).toBe(0)
      expect(await redis.exists(`gateway:rate:ip:${first}`)).toBe(1)
    } finally {
      redis.disconnect()
    }
  } finally {
    await proxied.stop()
  }
}, 30_000)
