/**
 * The system a REST bench drives: the mesh (every service its own process, test/support's runner) or
 * the monolith (scripts/monolith.ts, every service in one process), each with the gateway in front,
 * an admin session and a delivery zone. Databases carry `suffix`, queues a prefix of their own.
 */
import { join } from "node:path"
import { ServiceNames } from "../../src/config.ts"
import { adminAndZone, type Client, clientOf, gatewayServices, unique } from "../../test/gateway/support.ts"
import { adminQuery } from "../../test/support/postgres.ts"
import { freePort, startMesh } from "../../test/support/service-process.ts"

export interface RestWorld {
  readonly kind: "mesh" | "monolith"
  readonly gatewayUrl: string
  readonly api: Client
  readonly adminToken: string
  readonly zone: string
  /** Process name → pid, for CPU accounting. */
  readonly processes: ReadonlyMap<string, number>
  /** Service → its database. */
  readonly databases: Readonly<Record<string, string>>
  readonly stop: () => Promise<void>
}

const databasesOf = (suffix: string) =>
  Object.fromEntries(
    ["catalog", "inventory", "payment", "delivery", "cart", "user", "order"].map((service) => [
      service,
      `cm_${service}${suffix}`,
    ]),
  )

export interface RestWorldOptions {
  readonly monolith: boolean
  readonly suffix: string
  readonly env?: Record<string, string>
}

/**
 * Every run starts on empty databases: rows kept from earlier runs made PostgreSQL's work (and the bench's
 * own reads) grow from run to run, and the figures drift with them.
 */
const dropDatabases = async (suffix: string) => {
  for (const database of Object.values(databasesOf(suffix))) {
    await adminQuery(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)
  }
}

export const startRestWorld = async (options: RestWorldOptions): Promise<RestWorld> => {
  await dropDatabases(options.suffix)
  const adminEmail = `${unique("admin")}@example.com`
  const env: Record<string, string> = {
    DATABASE_NAME_SUFFIX: options.suffix,
    COMMAND_QUEUE_PREFIX: `bench${options.suffix}.`,
    USER_BOOTSTRAP_ADMIN_EMAILS: adminEmail,
    GATEWAY_RATE_LIMIT_BURST: "1000000",
    GATEWAY_RATE_LIMIT_PER_SECOND: "1000000",
    // Customers are made by the thousand; OWASP's argon2 cost would make preparing them the bench.
    USER_ARGON2_MEMORY_KIB: "1024",
    USER_ARGON2_TIME_COST: "1",
    LOG_LEVEL: "ERROR",
    ...options.env,
  }
  return options.monolith
    ? startMonolith(env, adminEmail, options.suffix)
    : startServices(env, adminEmail, options.suffix)
}

const startServices = async (env: Record<string, string>, adminEmail: string, suffix: string): Promise<RestWorld> => {
  const mesh = await startMesh(gatewayServices, env)
  const gatewayUrl = mesh.services.get("gateway")?.httpUrl ?? ""
  const api = clientOf(gatewayUrl)
  return {
    kind: "mesh",
    gatewayUrl,
    api,
    ...(await adminAndZone(api, adminEmail)),
    processes: new Map([...mesh.services].map(([name, service]) => [name, service.child.pid])),
    databases: databasesOf(suffix),
    stop: mesh.stop,
  }
}

const startMonolith = async (env: Record<string, string>, adminEmail: string, suffix: string): Promise<RestWorld> => {
  const httpPort = freePort()
  const ports: Record<string, string> = { MONOLITH_HTTP_PORT: String(httpPort), GATEWAY_HTTP_PORT: String(freePort()) }
  for (const service of ServiceNames) ports[`${service.toUpperCase()}_RPC_PORT`] = String(freePort())
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "..", "..", "scripts", "monolith.ts")], {
    env: { ...process.env, NODE_NO_WARNINGS: "1", ANALYTICS_NEW_GROUP_STARTS_AT: "latest", ...env, ...ports },
    stdout: "ignore",
    stderr: "pipe",
  })
  let output = ""
  void (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of child.stderr) output = (output + decoder.decode(chunk)).slice(-5_000)
  })()
  const deadline = Date.now() + 90_000
  for (;;) {
    const status = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then(
      (response) => response.status,
      () => 0,
    )
    if (status === 200) break
    if (child.exitCode !== null) throw new Error(`monolith exited with ${child.exitCode}:\n${output}`)
    if (Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`monolith not ready in time:\n${output}`)
    }
    await Bun.sleep(100)
  }
  const gatewayUrl = `http://127.0.0.1:${ports.GATEWAY_HTTP_PORT}`
  const api = clientOf(gatewayUrl)
  return {
    kind: "monolith",
    gatewayUrl,
    api,
    ...(await adminAndZone(api, adminEmail)),
    processes: new Map([["monolith", child.pid]]),
    databases: databasesOf(suffix),
    stop: async () => {
      child.kill("SIGTERM")
      const stopped = await Promise.race([child.exited.then(() => true), Bun.sleep(10_000).then(() => false)])
      if (!stopped) child.kill("SIGKILL")
    },
  }
}
