/**
 * The mesh runner behind `scripts/up.sh`: bundles the named services, starts each as its own process,
 * says when all are ready, restarts one that dies, and stops them all on SIGINT.
 */
import { expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { freePort } from "../support/service-process.ts"

const root = join(import.meta.dir, "..", "..")

const waitFor = async (read: () => string, pattern: RegExp, millis: number) => {
  const deadline = Date.now() + millis
  while (Date.now() < deadline) {
    const match = pattern.exec(read())
    if (match !== null) return match
    await Bun.sleep(100)
  }
  throw new Error(`no ${pattern} within ${millis} ms:\n${read().slice(-3_000)}`)
}

const childrenOf = (parent: number, pattern: string) =>
  Bun.spawnSync(["pgrep", "-P", String(parent), "-f", pattern])
    .stdout.toString()
    .trim()
    .split("\n")
    .filter((line) => line !== "")
    .map(Number)

/** A process's niceness: field 19 of /proc/<pid>/stat, the 17th after the command's closing parenthesis. */
const niceOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ")[16])

let children: Array<number> = []

test("the runner brings bundled services up, restarts a killed one and stops all on SIGINT", async () => {
  const ports = {
    GATEWAY_HTTP_PORT: freePort(),
    DELIVERY_RPC_PORT: freePort(),
    DELIVERY_HTTP_PORT: freePort(),
  }
  const runner = Bun.spawn([process.execPath, join(root, "scripts", "mesh.ts"), "gateway", "delivery"], {
    cwd: root,
    env: {
      ...process.env,
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      DATABASE_NAME_SUFFIX: "_test",
    },
    stdout: "pipe",
    stderr: "pipe",
  })
  let output = ""
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder()
    for await (const chunk of stream) output += decoder.decode(chunk)
  }
  void collect(runner.stdout)
  void collect(runner.stderr)
  try {
    await waitFor(() => output, /bundled 2 services/, 60_000)
    await waitFor(() => output, /mesh ready in [\d.]+s: 2 services/, 60_000)
    for (const port of [ports.GATEWAY_HTTP_PORT, ports.DELIVERY_HTTP_PORT]) {
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200)
    }
    // The gateway is on a checkout answer's path and starts at a higher priority where the OS allows it (root);
    // delivery is not (src/process-priority.ts).
    const [gateway] = childrenOf(runner.pid, "dist/gateway.js")
    const [delivery] = childrenOf(runner.pid, "dist/delivery.js")
    expect(niceOf(gateway ?? 0)).toBe(niceOf(runner.pid) + (process.getuid?.() === 0 ? -10 : 0))
    expect(niceOf(delivery ?? 0)).toBe(niceOf(runner.pid))
    // A crashed service comes back on its own.
    // Only this runner's children: other meshes on the machine run the same bundles.
    const pids = childrenOf(runner.pid, "dist/delivery.js")
    expect(pids.length).toBe(1)
    for (const pid of pids) process.kill(pid, "SIGKILL")
    await waitFor(() => output, /delivery.*exited with .*restarting/, 10_000)
    const back = Date.now() + 30_000
    let ready = false
    while (!ready && Date.now() < back) {
      ready = await fetch(`http://127.0.0.1:${ports.DELIVERY_HTTP_PORT}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      )
      if (!ready) await Bun.sleep(200)
    }
    expect(ready).toBe(true)
  } finally {
    children = childrenOf(runner.pid, "dist/(gateway|delivery).js")
    runner.kill("SIGINT")
    await runner.exited
  }
  expect(children).toHaveLength(2)
  const alive = children.filter((pid) => Bun.spawnSync(["kill", "-0", String(pid)]).exitCode === 0)
  expect(alive).toEqual([])
}, 120_000)
