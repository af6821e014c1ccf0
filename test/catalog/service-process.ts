/**
 * Starts a service's real entry point (`services/<name>/main.ts`) as a child Bun process on free ports,
 * and waits until its /readyz says ready. Used by the catalog and cart suites.
 */
import { join } from "node:path"
import type { Subprocess } from "bun"

export interface ServiceProcess {
  readonly child: Subprocess
  readonly rpcPort: number
  readonly httpUrl: string
  readonly stop: () => Promise<void>
}

/** A port nobody listens on right now (other suites on this machine pick fixed ports; we do not guess). */
export const freePort = () => {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } })
  const { port } = listener
  listener.stop(true)
  return port
}

export const startService = async (
  service: "catalog" | "cart",
  env: Record<string, string> = {},
): Promise<ServiceProcess> => {
  const prefix = service.toUpperCase()
  const [rpcPort, httpPort] = [freePort(), freePort()]
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "..", "..", "services", service, "main.ts")], {
    env: {
      ...process.env,
      [`${prefix}_RPC_PORT`]: String(rpcPort),
      [`${prefix}_HTTP_PORT`]: String(httpPort),
      LOG_LEVEL: "WARN",
      ...env,
    },
    stdout: "pipe",
    stderr: "inherit",
  })
  // Kept so a failed start can say why (the JSON log lines on stdout).
  const output = new Response(child.stdout).text()
  const httpUrl = `http://127.0.0.1:${httpPort}`
  const stop = async () => {
    child.kill("SIGTERM")
    const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(5_000).then(() => false)])
    if (!exited) {
      child.kill("SIGKILL")
      await child.exited
    }
  }
  // Cold start on a busy 2-core machine (migrations, Kafka, RabbitMQ) takes several seconds.
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`${service} exited with ${child.exitCode} before it was ready:\n${(await output).slice(-2_000)}`)
    }
    const ready = await fetch(`${httpUrl}/readyz`).then(
      (response) => response.status === 200,
      () => false,
    )
    if (ready) return { child, rpcPort, httpUrl, stop }
    await Bun.sleep(100)
  }
  await stop()
  throw new Error(`${service} was not ready within 30 s:\n${(await output).slice(-2_000)}`)
}
