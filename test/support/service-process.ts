/**
 * Starts services' real entry points (`services/<name>/main.ts`) as child Bun processes on free
 * ports, waits until each /readyz answers 200, and stops them with SIGTERM (SIGKILL after 5 s).
 * Several services started together know each other's ports; the Config layer it returns points
 * an in-test RPC client at them.
 */
import { join } from "node:path"
import type { Subprocess } from "bun"
import { ConfigProvider, Effect, Layer } from "effect"
import type { ServiceName } from "../../src/config.ts"
import { launchCommand, requestPathNice } from "../../src/process-priority.ts"

const root = join(import.meta.dir, "..", "..")

/** Services started by tests work in databases of their own (`cm_<service>_test`) unless told otherwise. */
export const testDatabaseSuffix = "_test"

/** The command queue prefix of processes started with `suffix` (an in-test bus talking to them needs it too). */
export const testQueuePrefix = (suffix: string) => `test${suffix}.`

/**
 * Ports handed out by this test process. The OS may give a just-released port again: two services of one
 * mesh got the same one, the second failed to bind, and the readiness probe of the one that failed was
 * answered by the other (a gateway test got a side port's 404 for /auth/login). So a port is handed out
 * at most once.
 */
const handedOut = new Set<number>()

export const freePort = (): number => {
  for (;;) {
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() })
    const port = server.port
    server.stop(true)
    if (port === undefined) throw new Error("no free port")
    if (handedOut.has(port)) continue
    handedOut.add(port)
    return port
  }
}

const isReady = (httpPort: number) =>
  fetch(`http://127.0.0.1:${httpPort}/readyz`).then(
    (response) => response.status === 200,
    () => false,
  )

export interface ServiceProcess {
  readonly service: ServiceName
  readonly child: Subprocess
  readonly rpcPort: number
  readonly httpPort: number
  readonly httpUrl: string
  /** Config for an in-test RPC client of this service: its port, everything else from the environment. */
  readonly clientConfig: Layer.Layer<never>
  /** The process's log lines so far (JSON, one per line). */
  readonly output: () => string
  readonly stop: () => Promise<void>
  readonly kill: () => Promise<void>
}

export interface Ports {
  readonly rpc: number
  readonly http: number
}

const portEnv = (ports: Partial<Record<ServiceName, Ports>>) => {
  const env: Record<string, string> = {}
  for (const [service, port] of Object.entries(ports)) {
    if (port === undefined) continue
    env[`${service.toUpperCase()}_RPC_PORT`] = String(port.rpc)
    env[`${service.toUpperCase()}_HTTP_PORT`] = String(port.http)
  }
  return env
}

const configOf = (env: Record<string, string>) =>
  Layer.setConfigProvider(
    ConfigProvider.fromMap(new Map(Object.entries(env))).pipe(ConfigProvider.orElse(() => ConfigProvider.fromEnv())),
  )

/** Starts one service with `env` on top of this process's environment and waits for it to be ready. */
export const startService = async (
  service: ServiceName,
  env: Record<string, string> = {},
  options: { readonly ports?: Ports; readonly readyWithin?: number } = {},
): Promise<ServiceProcess> => {
  const ports = options.ports ?? { rpc: freePort(), http: freePort() }
  let output = ""
  const command = launchCommand(
    service,
    [process.execPath, join(root, "services", service, "main.ts")],
    Effect.runSync(Effect.provide(requestPathNice, configOf(env))),
  )
  const child = Bun.spawn(command, {
    env: {
      ...process.env,
      LOG_LEVEL: "WARN",
      NODE_NO_WARNINGS: "1",
      DATABASE_NAME_SUFFIX: testDatabaseSuffix,
      // Command queues of the test's own (unless it names some): a mesh running beside the tests on the
      // same RabbitMQ must not take their cart commands, nor they its.
      COMMAND_QUEUE_PREFIX: testQueuePrefix(env.DATABASE_NAME_SUFFIX ?? testDatabaseSuffix),
      ...env,
      ...portEnv({ [service]: ports }),
    },
    stdout: "pipe",
    stderr: "pipe",
  })
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder()
    for await (const chunk of stream) output = (output + decoder.decode(chunk)).slice(-20_000)
  }
  void collect(child.stdout)
  void collect(child.stderr)
  const kill = async () => {
    child.kill("SIGKILL")
    await child.exited
  }
  const stop = async () => {
    child.kill("SIGTERM")
    const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(5_000).then(() => false)])
    if (!exited) await kill()
  }
  const deadline = Date.now() + (options.readyWithin ?? 45_000)
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`${service} exited with ${child.exitCode} before it was ready:\n${output.slice(-3_000)}`)
    }
    if (await isReady(ports.http)) {
      return {
        service,
        child,
        rpcPort: ports.rpc,
        httpPort: ports.http,
        httpUrl: `http://127.0.0.1:${ports.http}`,
        clientConfig: configOf(portEnv({ [service]: ports })),
        output: () => output,
        stop,
        kill,
      }
    }
    await Bun.sleep(100)
  }
  await kill()
  throw new Error(`${service} was not ready in time:\n${output.slice(-3_000)}`)
}

export interface Mesh {
  readonly env: Record<string, string>
  readonly ports: Partial<Record<ServiceName, Ports>>
  readonly services: Map<ServiceName, ServiceProcess>
  /** Config for in-test clients: the mesh's ports and env, the rest from this process's environment. */
  readonly config: Layer.Layer<never>
  /** Starts (again) one of the mesh's services, e.g. after killing it. */
  readonly restart: (service: ServiceName) => Promise<ServiceProcess>
  readonly stop: () => Promise<void>
}

/**
 * Starts `services` in order (each waits for the previous to be ready, so dependencies come first),
 * every one knowing every other's ports, with `env` (e.g. DATABASE_NAME_SUFFIX) added.
 */
export const startMesh = async (
  services: ReadonlyArray<ServiceName>,
  env: Record<string, string> = {},
): Promise<Mesh> => {
  const ports: Partial<Record<ServiceName, Ports>> = {}
  for (const service of services) ports[service] = { rpc: freePort(), http: freePort() }
  const meshEnv = { ...env, ...portEnv(ports) }
  const running = new Map<ServiceName, ServiceProcess>()
  const start = async (service: ServiceName) => {
    const process = await startService(service, meshEnv, ports[service] ? { ports: ports[service] } : {})
    running.set(service, process)
    return process
  }
  try {
    for (const service of services) await start(service)
  } catch (error) {
    await Promise.all([...running.values()].map((process) => process.kill()))
    throw error
  }
  return {
    env: meshEnv,
    ports,
    services: running,
    config: Layer.setConfigProvider(
      ConfigProvider.fromMap(new Map(Object.entries(meshEnv))).pipe(
        ConfigProvider.orElse(() => ConfigProvider.fromEnv()),
      ),
    ),
    restart: start,
    stop: async () => {
      await Promise.all([...running.values()].map((process) => process.stop()))
    },
  }
}
