/** Starts and stops the fixture server as a separate Bun process. */
import { join } from "node:path"
import type { Subprocess } from "bun"

const serverMain = join(import.meta.dir, "fixtures", "stock-server.ts")

const listening = async (port: number) => {
  try {
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } })
    socket.end()
    return true
  } catch {
    return false
  }
}

export const startServer = async (port: number): Promise<Subprocess> => {
  const child = Bun.spawn([process.execPath, serverMain], {
    env: { ...process.env, ANALYTICS_RPC_PORT: String(port), ANALYTICS_BIND: "127.0.0.1" },
    stdout: "ignore",
    stderr: "inherit",
  })
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`fixture server exited with ${child.exitCode}`)
    if (await listening(port)) return child
    await Bun.sleep(25)
  }
  child.kill("SIGKILL")
  throw new Error(`fixture server did not listen on ${port} within 10 s`)
}

/** SIGKILL: the server dies the way a crashed process does, without closing its connections politely. */
export const killServer = async (child: Subprocess) => {
  child.kill("SIGKILL")
  await child.exited
}
