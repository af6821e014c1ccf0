/**
 * deploy/compose.yaml against the tree (parsed, not run: no Docker engine here): the infrastructure,
 * every service under services/ from the Dockerfile's image with its entry as the command, env pointing
 * at compose service names, healthchecks on /readyz at the port src/config.ts gives it, dependencies
 * that exist, and Prometheus and Grafana mounting files that exist and scraping every service.
 */
import { beforeAll, describe, expect, test } from "bun:test"
import { existsSync } from "node:fs"
import { join, resolve } from "node:path"
import { ServiceNames, type ServiceName } from "../../src/config.ts"
import { defaultPorts, deployDir, existingServices, hasRpcPort, isRecord, readYamlDocuments, root } from "./support.ts"

const composePath = join(deployDir, "compose.yaml")
const infrastructure = ["postgres", "redis", "rabbitmq", "kafka"] as const

let services: Record<string, Record<string, unknown>> = {}

beforeAll(async () => {
  const [compose] = await readYamlDocuments(composePath)
  if (!isRecord(compose) || !isRecord(compose.services)) throw new Error("compose.yaml has no services")
  services = compose.services as Record<string, Record<string, unknown>>
})

const get = (name: string) => {
  const service = services[name]
  if (service === undefined) throw new Error(`compose.yaml has no service ${name}`)
  return service
}
const env = (name: string) => (get(name).environment ?? {}) as Record<string, unknown>
const dependsOn = (name: string) => (get(name).depends_on ?? {}) as Record<string, { condition?: string }>
/** The host side of a bind mount, resolved from deploy/ as compose does. */
const mounts = (name: string) =>
  ((get(name).volumes ?? []) as ReadonlyArray<string>)
    .map((volume) => volume.split(":"))
    .filter(([source]) => source?.startsWith(".") === true)
    .map(([source, target]) => ({ source: resolve(deployDir, source ?? ""), target }))

describe("deploy/compose.yaml", () => {
  test("PostgreSQL, Redis, RabbitMQ, Kafka (KRaft, the apache/kafka image), Prometheus and Grafana, with healthchecks", () => {
    for (const name of [...infrastructure, "prometheus", "grafana"]) expect(Object.keys(services)).toContain(name)
    for (const name of infrastructure) expect(get(name).healthcheck).toBeDefined()
    expect(String(get("kafka").image)).toStartWith("apache/kafka:")
    expect(env("kafka").KAFKA_PROCESS_ROLES).toBe("broker,controller")
    expect(String(env("kafka").KAFKA_ADVERTISED_LISTENERS)).toContain("kafka:9092")
  })

  test("no service in it that src/config.ts does not know", () => {
    const known = new Set<string>([...ServiceNames, ...infrastructure, "prometheus", "grafana"])
    for (const name of Object.keys(services)) expect(known).toContain(name)
  })

  describe.each(existingServices().map((service) => [service] as const))("%s", (service: ServiceName) => {
    const ports = defaultPorts(service)

    test("runs from the Dockerfile's image with its entry as the command", () => {
      const s = get(service)
      const build = s.build as { context?: string; dockerfile?: string } | undefined
      expect(resolve(deployDir, build?.context ?? "")).toBe(root)
      expect(existsSync(join(root, build?.dockerfile ?? "Dockerfile"))).toBe(true)
      expect(s.command).toEqual([service])
      // The image's ENTRYPOINT runs dist/$0.js with the command as $0.
      expect(existsSync(join(root, "services", service, "main.ts"))).toBe(true)
    })

    test("binds 0.0.0.0 and reaches infrastructure and other services by compose service name", () => {
      const e = env(service)
      expect(e[`${service.toUpperCase()}_BIND`]).toBe("0.0.0.0")
      expect(new URL(String(e.DATABASE_URL)).hostname).toBe("postgres")
      expect(new URL(String(e.REDIS_URL)).hostname).toBe("redis")
      expect(new URL(String(e.AMQP_URL)).hostname).toBe("rabbitmq")
      expect(String(e.KAFKA_BROKERS)).toBe("kafka:9092")
      for (const other of existingServices()) {
        expect(e[`${other.toUpperCase()}_HOST`]).toBe(other)
        expect(services[other]).toBeDefined()
      }
      for (const key of Object.keys(e)) expect(key).not.toMatch(/_(RPC|HTTP)_PORT$/)
    })

    test("exposes the ports src/config.ts gives it, and its healthcheck asks /readyz on the HTTP port", () => {
      const exposed = [...((get(service).expose ?? []) as ReadonlyArray<unknown>)].map(String)
      expect(exposed).toContain(String(ports.http))
      if (hasRpcPort(service)) expect(exposed).toContain(String(ports.rpc))
      const check = (get(service).healthcheck as { test?: ReadonlyArray<string> } | undefined)?.test ?? []
      expect(check.join(" ")).toContain(`127.0.0.1:${ports.http}/readyz`)
    })

    test("waits for healthy infrastructure, and depends only on services that exist in the file", () => {
      const deps = dependsOn(service)
      for (const name of ["postgres", "kafka"]) expect(deps[name]?.condition).toBe("service_healthy")
      for (const name of Object.keys(deps)) expect(services[name]).toBeDefined()
    })

    test("Prometheus scrapes it at <service>:<HTTP port>, labelled by service", async () => {
      const [config] = await readYamlDocuments(join(deployDir, "prometheus", "prometheus.compose.yml"))
      const job = ((config as { scrape_configs: ReadonlyArray<Record<string, unknown>> }).scrape_configs ?? []).find(
        (c) => c.job_name === "commerce-mesh",
      )
      const entries = (job?.static_configs ?? []) as ReadonlyArray<{ targets: string[]; labels: { service: string } }>
      const entry = entries.find((e) => e.labels.service === service)
      expect(entry?.targets).toEqual([`${service}:${ports.http}`])
    })
  })

  test("the gateway publishes its REST port", () => {
    if (!existingServices().includes("gateway")) return
    const { http } = defaultPorts("gateway")
    expect((get("gateway").ports ?? []) as ReadonlyArray<string>).toContain(`${http}:${http}`)
  })

  test("Prometheus mounts the compose scrape config and the rules; Grafana the provisioning and dashboards", () => {
    const prometheus = mounts("prometheus")
    expect(prometheus).toContainEqual({
      source: join(deployDir, "prometheus", "prometheus.compose.yml"),
      target: "/etc/prometheus/prometheus.yml",
    })
    expect(prometheus).toContainEqual({
      source: join(deployDir, "prometheus", "rules.yml"),
      target: "/etc/prometheus/rules.yml",
    })
    const grafana = mounts("grafana")
    expect(grafana).toContainEqual({
      source: join(deployDir, "grafana", "provisioning"),
      target: "/etc/grafana/provisioning",
    })
    expect(grafana).toContainEqual({
      source: join(deployDir, "grafana", "dashboards"),
      target: "/var/lib/grafana/dashboards",
    })
    for (const mount of [...prometheus, ...grafana]) expect(existsSync(mount.source)).toBe(true)
  })

  test("Grafana's provisioning points at the compose Prometheus and at the mounted dashboards folder", async () => {
    const [datasources] = await readYamlDocuments(
      join(deployDir, "grafana", "provisioning", "datasources", "prometheus.yaml"),
    )
    const [providers] = await readYamlDocuments(
      join(deployDir, "grafana", "provisioning", "dashboards", "commerce-mesh.yaml"),
    )
    const source = (datasources as { datasources: ReadonlyArray<{ type: string; url: string; uid: string }> })
      .datasources[0]
    expect(source).toMatchObject({ type: "prometheus", url: "http://prometheus:9090", uid: "prometheus" })
    const provider = (providers as { providers: ReadonlyArray<{ options: { path: string } }> }).providers[0]
    expect(provider?.options.path).toBe("/var/lib/grafana/dashboards")
    const dashboard = (await Bun.file(join(deployDir, "grafana", "dashboards", "commerce-mesh.json")).json()) as {
      templating: { list: ReadonlyArray<{ name: string; current?: { value?: string } }> }
    }
    const variable = dashboard.templating.list.find((v) => v.name === "datasource")
    expect(variable?.current?.value).toBe(source?.uid)
  })
})
