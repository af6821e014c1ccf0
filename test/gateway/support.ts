/**
 * The REST suites' world: every service behind the gateway plus the gateway itself, as real processes,
 * and a small typed-enough fetch helper. Data is made through the REST API with an admin account that
 * is an admin from registration (USER_BOOTSTRAP_ADMIN_EMAILS).
 */
import { Schema } from "effect"
import { Product } from "../../rpc/catalog.ts"
import { AuthSession } from "../../rpc/user.ts"
import { Order } from "../../rpc/order.ts"
import { type Mesh, startMesh } from "../support/service-process.ts"

export const gatewayServices = [
  "catalog",
  "inventory",
  "payment",
  "delivery",
  "cart",
  "user",
  "order",
  "gateway",
] as const

export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly body: unknown
}

/** The body decoded with the contract's own Schema: a success that breaks its schema fails the test. */
export const bodyAs = <A, I>(schema: Schema.Schema<A, I>, answer: Answer): A => {
  if (answer.status >= 300) throw new Error(`expected a success, got ${answer.status}: ${JSON.stringify(answer.body)}`)
  return Schema.decodeUnknownSync(schema)(answer.body)
}

export interface Client {
  readonly call: (
    method: string,
    path: string,
    options?: { body?: unknown; token?: string; headers?: Record<string, string> },
  ) => Promise<Answer>
}

export const clientOf = (baseUrl: string): Client => ({
  call: async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers }
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
    let body: string | undefined
    if (options.body !== undefined) {
      headers["content-type"] = "application/json"
      body = typeof options.body === "string" ? options.body : JSON.stringify(options.body)
    }
    const response = await fetch(`${baseUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body }) })
    const text = await response.text()
    let parsed: unknown = text
    try {
      parsed = text.length > 0 ? JSON.parse(text) : null
    } catch {}
    return { status: response.status, headers: response.headers, body: parsed }
  },
})

export const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`

export interface GatewayWorld {
  readonly mesh: Mesh
  readonly api: Client
  readonly gatewayUrl: string
  readonly adminToken: string
  readonly zone: string
}

/** A customer with a session and a default address, through the REST API. */
export const newCustomer = async (api: Client) => {
  const email = `${unique("customer")}@example.com`
  const registered = await api.call("POST", "/auth/register", {
    body: { email, password: "correct horse", name: "Casey" },
  })
  if (registered.status !== 201) throw new Error(`register: ${registered.status} ${JSON.stringify(registered.body)}`)
  const login = bodyAs(
    AuthSession,
    await api.call("POST", "/auth/login", { body: { email, password: "correct horse" } }),
  )
  const token = login.token
  await api.call("POST", "/me/addresses", {
    token,
    body: { address: { line1: "2 Side St", city: "Springfield", postalCode: "12345", country: "US" } },
  })
  return { email, token, userId: login.user.id }
}

/** A product with `stock` units, through the admin routes. */
export const stockedProduct = async (world: Pick<GatewayWorld, "api" | "adminToken">, stock: number, cents: number) => {
  const sku = unique("sku")
  const created = bodyAs(
    Product,
    await world.api.call("POST", "/admin/products", {
      token: world.adminToken,
      body: { sku, name: `Gadget ${sku}`, description: "a test gadget", price: { amount: cents, currency: "USD" } },
    }),
  )
  if (stock > 0) {
    await world.api.call("POST", `/admin/inventory/${sku}/restock`, {
      token: world.adminToken,
      body: { restockId: `initial-${sku}`, quantity: stock },
    })
  }
  return { sku, productId: created.id }
}

/** Polls the order until it leaves PENDING. */
export const settled = async (api: Client, token: string, location: string) => {
  for (let attempt = 0; attempt < 300; attempt++) {
    const order = bodyAs(Order, await api.call("GET", location, { token }))
    if (order.status !== "PENDING") return order
    await Bun.sleep(50)
  }
  throw new Error(`order ${location} still pending`)
}

export const startGatewayWorld = async (env: Record<string, string> = {}): Promise<GatewayWorld> => {
  const adminEmail = `${unique("admin")}@example.com`
  const mesh = await startMesh(gatewayServices, {
    DATABASE_NAME_SUFFIX: "_gateway_test",
    COMMAND_QUEUE_PREFIX: "gateway-test.",
    USER_BOOTSTRAP_ADMIN_EMAILS: adminEmail,
    GATEWAY_RATE_LIMIT_BURST: "100000",
    GATEWAY_RATE_LIMIT_PER_SECOND: "100000",
    ...env,
  })
  const gatewayUrl = mesh.services.get("gateway")?.httpUrl ?? ""
  const api = clientOf(gatewayUrl)
  return { mesh, api, gatewayUrl, ...(await adminAndZone(api, adminEmail)) }
}

/**
 * Registers the bootstrap admin `adminEmail` (an admin from registration), logs it in, and opens a
 * delivery zone with one slot of room for 100,000 orders, through the REST API.
 */
export const adminAndZone = async (api: Client, adminEmail: string) => {
  await api.call("POST", "/auth/register", { body: { email: adminEmail, password: "admin password", name: "Ada" } })
  const login = bodyAs(
    AuthSession,
    await api.call("POST", "/auth/login", { body: { email: adminEmail, password: "admin password" } }),
  )
  const adminToken = login.token
  const zone = await openZone(api, adminToken, [], 100_000)
  return { adminToken, zone }
}

/** A delivery zone serving `prefixes` (all postal codes when empty) with one slot of `capacity`, in an hour. */
export const openZone = async (api: Client, adminToken: string, prefixes: ReadonlyArray<string>, capacity: number) => {
  const zone = unique("zone")
  await api.call("POST", "/admin/delivery/zones", {
    token: adminToken,
    body: { zoneId: zone, name: `Zone ${zone}`, postalCodePrefixes: prefixes },
  })
  const startsAt = new Date(Date.now() + 3_600_000)
  await api.call("POST", "/admin/delivery/slots", {
    token: adminToken,
    body: {
      slotId: `slot-${zone}`,
      zoneId: zone,
      startsAt: startsAt.toISOString(),
      endsAt: new Date(startsAt.getTime() + 3_600_000).toISOString(),
      capacity,
    },
  })
  return zone
}
