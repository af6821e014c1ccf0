/**
 * Starts a service's real `main.ts` as a child Bun process on free ports, in a test database of its own
 * (DATABASE_NAME_SUFFIX), waits until its /readyz answers 200, and stops it with SIGTERM.
 * Shared by the payment, delivery and user suites (a candidate for test/support/).
 */
import { join } from "node:path"
import type { Subprocess } from "bun"
import { ConfigProvider, Layer } from "effect"
import type { ServiceName } from "../../src/config.ts"

export const testDatabaseSuffix = "_test"

export interface RunningService {
  readonly child: Subprocess
  readonly rpcPort: number
  readonly httpPort: number
  /** Config for an in-test RPC client of this service: its port, everything else from the environment. */
  readonly clientConfig: Layer.Layer<never>
  readonly stop: () => Promise<void>
}

const freePort = () => {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() })
  const port = server.port
  server.stop(true)
  if (port === undefined) throw new Error("no free port")
  return port
}

const ready = async (httpPort: number) => {
  try {
    const response = await fetch(`http://127.0.0.1:${httpPort}/readyz`)
    return response.status === 200
  } catch {
    return false
  }
}

export const startService = async (
  service: ServiceName,
  env: Record<string, string> = {},
  deadlineMillis = 30_000,
): Promise<RunningService> => {
  const prefix = service.toUpperCase()
  const rpcPort = freePort()
  const httpPort = freePort()
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "..", "..", "services", service, "main.ts")], {
    env: {
      ...process.env,
      DATABASE_NAME_SUFFIX: testDatabaseSuffix,
      LOG_LEVEL: "WARN",
      [`${prefix}_RPC_PORT`]: String(rpcPort),
      [`${prefix}_HTTP_PORT`]: String(httpPort),
      [`${prefix}_BIND`]: "127.0.0.1",
      ...env,
    },
    stdout: process.env.TEST_SERVICE_LOGS === "1" ? "inherit" : "ignore",
    stderr: "inherit",
  })
  const deadline = Date.now() + deadlineMillis
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${service} exited with ${child.exitCode} before it was ready`)
    if (await ready(httpPort)) {
      const clientConfig = Layer.setConfigProvider(
        ConfigProvider.fromMap(new Map([[`${prefix}_RPC_PORT`, String(rpcPort)]])).pipe(
          ConfigProvider.orElse(() => ConfigProvider.fromEnv()),
        ),
      )
      const stop = async () => {
        child.kill("SIGTERM")
        await child.exited
      }
      return { child, rpcPort, httpPort, clientConfig, stop }
    }
    await Bun.sleep(50)
  }
  child.kill("SIGKILL")
  throw new Error(`${service} was not ready within ${deadlineMillis} ms`)
}
