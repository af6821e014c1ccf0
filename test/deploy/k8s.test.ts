/**
 * deploy/k8s against the tree: every YAML parses, the kustomization lists every file, and every service
 * under services/ has a Deployment (probes on the HTTP port src/config.ts gives it, requests and limits,
 * bound to 0.0.0.0), a Service (RPC and HTTP ports), an autoscaling/v2 HPA and a PodDisruptionBudget,
 * with hosts as Service DNS names in the shared ConfigMap.
 */
import { beforeAll, describe, expect, test } from "bun:test"
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { type ServiceName, ServiceNames } from "../../src/config.ts"
import { defaultPorts, deployDir, existingServices, hasRpcPort, isRecord, readYamlDocuments } from "./support.ts"

const k8sDir = join(deployDir, "k8s")

type Manifest = Record<string, unknown> & { kind: string; apiVersion: string; metadata: { name: string } }

const isManifest = (value: unknown): value is Manifest =>
  isRecord(value) &&
  typeof value.kind === "string" &&
  typeof value.apiVersion === "string" &&
  isRecord(value.metadata) &&
  typeof value.metadata.name === "string"

/** A path into parsed YAML; undefined as soon as a step is missing. */
const at = (value: unknown, ...path: ReadonlyArray<string | number>): unknown => {
  let current = value
  for (const step of path) {
    if (typeof step === "number") current = Array.isArray(current) ? current[step] : undefined
    else current = isRecord(current) ? current[step] : undefined
  }
  return current
}
const list = (value: unknown): ReadonlyArray<unknown> => (Array.isArray(value) ? value : [])

/** Kubernetes quantities as numbers: cores for CPU ("250m", "1"), bytes for memory ("160Mi", "1Gi"). */
const quantity = (value: unknown): number => {
  const match = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|k|M|G)?$/.exec(String(value))
  if (match === null) return Number.NaN
  const factor: Record<string, number> = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, k: 1e3, M: 1e6, G: 1e9 }
  return Number(match[1]) * (match[2] === undefined ? 1 : (factor[match[2]] ?? Number.NaN))
}

const files = readdirSync(k8sDir).filter((file) => /\.ya?ml$/.test(file))
const manifests: Array<Manifest & { file: string }> = []

beforeAll(async () => {
  for (const file of files) {
    for (const document of await readYamlDocuments(join(k8sDir, file))) {
      if (file === "kustomization.yaml") continue
      if (!isManifest(document)) throw new Error(`${file}: a document without kind, apiVersion or metadata.name`)
      manifests.push({ ...document, file })
    }
  }
})

const find = (kind: string, name: string) => manifests.find((m) => m.kind === kind && m.metadata.name === name)

describe("deploy/k8s", () => {
  test("every YAML file parses into manifests, and the kustomization lists exactly the manifest files", async () => {
    expect(files).toContain("kustomization.yaml")
    const [kustomization] = await readYamlDocuments(join(k8sDir, "kustomization.yaml"))
    const resources = list(at(kustomization, "resources")).map(String).sort()
    expect(resources).toEqual(files.filter((file) => file !== "kustomization.yaml").sort())
    expect(manifests.length).toBeGreaterThan(0)
  })

  test("kubectl kustomize renders the folder (when kubectl is installed)", async () => {
    if (Bun.which("kubectl") === null) return
    const render = Bun.spawn(["kubectl", "kustomize", k8sDir], { stdout: "pipe", stderr: "pipe" })
    const [code, out, err] = await Promise.all([
      render.exited,
      new Response(render.stdout).text(),
      new Response(render.stderr).text(),
    ])
    expect({ code, err }).toEqual({ code: 0, err: "" })
    const kinds = out.match(/^kind: \w+$/gm) ?? []
    expect(kinds.length).toBe(manifests.length)
    expect(out).toContain("namespace: commerce-mesh")
  })

  const services = existingServices()

  test("every Deployment, Service, HPA and PDB belongs to a known service", () => {
    const known = new Set<string>(ServiceNames)
    for (const manifest of manifests) {
      if (["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"].includes(manifest.kind)) {
        expect(known).toContain(manifest.metadata.name)
      }
    }
  })

  describe.each(services.map((service) => [service] as const))("%s", (service: ServiceName) => {
    const ports = defaultPorts(service)

    const deployment = () => {
      const found = find("Deployment", service)
      if (found === undefined) throw new Error(`no Deployment ${service}`)
      return found
    }
    const container = () => {
      const containers = list(at(deployment(), "spec", "template", "spec", "containers"))
      expect(containers.length).toBe(1)
      return containers[0]
    }
    /** A probe's or Service's port, by number or by the container port's name. */
    const containerPort = (port: unknown) => {
      if (typeof port === "number") return port
      const named = list(at(container(), "ports")).find((p) => at(p, "name") === port)
      return at(named, "containerPort")
    }

    test("a Deployment (apps/v1) running this service's entry from the image", () => {
      const d = deployment()
      expect(d.apiVersion).toBe("apps/v1")
      expect(at(container(), "args")).toEqual([service])
      expect(String(at(container(), "image"))).toStartWith("commerce-mesh")
      const selector = at(d, "spec", "selector", "matchLabels")
      const podLabels = at(d, "spec", "template", "metadata", "labels")
      expect(isRecord(selector) && isRecord(podLabels)).toBe(true)
      expect(podLabels).toMatchObject(selector as Record<string, unknown>)
      expect(at(podLabels, "app.kubernetes.io/name")).toBe(service)
    })

    test("container ports are the ones src/config.ts gives the service", () => {
      const declared = Object.fromEntries(
        list(at(container(), "ports")).map((p) => [at(p, "name"), at(p, "containerPort")]),
      )
      expect(declared.http).toBe(ports.http)
      if (hasRpcPort(service)) expect(declared.rpc).toBe(ports.rpc)
      const env = list(at(container(), "env"))
      const bind = env.find((e) => at(e, "name") === `${service.toUpperCase()}_BIND`)
      expect(at(bind, "value")).toBe("0.0.0.0")
      // A port set through the environment would have to match the probes; the defaults are used instead.
      for (const e of env) expect(String(at(e, "name"))).not.toMatch(/_(RPC|HTTP)_PORT$/)
      expect(at(deployment(), "spec", "template", "metadata", "annotations", "prometheus.io/port")).toBe(
        String(ports.http),
      )
    })

    test("readiness probes /readyz and liveness probes /healthz on the service's HTTP port", () => {
      const readiness = at(container(), "readinessProbe", "httpGet")
      const liveness = at(container(), "livenessProbe", "httpGet")
      expect(at(readiness, "path")).toBe("/readyz")
      expect(at(liveness, "path")).toBe("/healthz")
      expect(containerPort(at(readiness, "port"))).toBe(ports.http)
      expect(containerPort(at(liveness, "port"))).toBe(ports.http)
      const startup = at(container(), "startupProbe", "httpGet")
      if (startup !== undefined) expect(containerPort(at(startup, "port"))).toBe(ports.http)
    })

    test("CPU and memory requests and limits, requests within limits", () => {
      const resources = at(container(), "resources")
      for (const resource of ["cpu", "memory"]) {
        const request = quantity(at(resources, "requests", resource))
        const limit = quantity(at(resources, "limits", resource))
        expect(request).toBeGreaterThan(0)
        expect(limit).toBeGreaterThanOrEqual(request)
      }
    })

    test("the shared ConfigMap and Secret it reads exist and name hosts as Service DNS names", () => {
      const sources = list(at(container(), "envFrom"))
      const configName = at(
        sources.find((s) => at(s, "configMapRef") !== undefined),
        "configMapRef",
        "name",
      )
      const secretName = at(
        sources.find((s) => at(s, "secretRef") !== undefined),
        "secretRef",
        "name",
      )
      const config = find("ConfigMap", String(configName))
      const secret = find("Secret", String(secretName))
      expect(config).toBeDefined()
      expect(secret).toBeDefined()
      for (const other of services) {
        expect(at(config, "data", `${other.toUpperCase()}_HOST`)).toBe(other)
        expect(find("Service", other)).toBeDefined()
      }
      expect(at(config, "data", "KAFKA_BROKERS")).toBeString()
      for (const key of ["DATABASE_URL", "REDIS_URL", "AMQP_URL"]) {
        expect(at(secret, "stringData", key) ?? at(secret, "data", key)).toBeString()
      }
    })

    test("a Service with its RPC and HTTP ports, selecting its pods", () => {
      const s = find("Service", service)
      expect(s?.apiVersion).toBe("v1")
      const servicePorts = Object.fromEntries(list(at(s, "spec", "ports")).map((p) => [at(p, "name"), p]))
      expect(at(servicePorts.http, "port")).toBe(ports.http)
      expect(containerPort(at(servicePorts.http, "targetPort"))).toBe(ports.http)
      if (hasRpcPort(service)) {
        expect(at(servicePorts.rpc, "port")).toBe(ports.rpc)
        expect(containerPort(at(servicePorts.rpc, "targetPort"))).toBe(ports.rpc)
      }
      expect(at(deployment(), "spec", "template", "metadata", "labels")).toMatchObject(
        at(s, "spec", "selector") as Record<string, unknown>,
      )
    })

    test("an autoscaling/v2 HorizontalPodAutoscaler on its Deployment", () => {
      const hpa = find("HorizontalPodAutoscaler", service)
      expect(hpa?.apiVersion).toBe("autoscaling/v2")
      expect(at(hpa, "spec", "scaleTargetRef")).toMatchObject({
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: service,
      })
      const min = Number(at(hpa, "spec", "minReplicas"))
      const max = Number(at(hpa, "spec", "maxReplicas"))
      expect(min).toBeGreaterThanOrEqual(1)
      expect(max).toBeGreaterThan(min)
      expect(list(at(hpa, "spec", "metrics")).length).toBeGreaterThan(0)
      // CPU utilisation targets are a share of the request, so the request must exist (checked above).
      expect(at(deployment(), "spec", "replicas")).toBe(min)
    })

    test("a policy/v1 PodDisruptionBudget selecting its pods", () => {
      const pdb = find("PodDisruptionBudget", service)
      expect(pdb?.apiVersion).toBe("policy/v1")
      const budget = at(pdb, "spec", "minAvailable") ?? at(pdb, "spec", "maxUnavailable")
      expect(budget).toBeDefined()
      // minAvailable must leave room to evict one pod at the HPA's minimum, or drains block forever.
      const minAvailable = at(pdb, "spec", "minAvailable")
      if (typeof minAvailable === "number") {
        expect(minAvailable).toBeLessThan(Number(at(find("HorizontalPodAutoscaler", service), "spec", "minReplicas")))
      }
      expect(at(deployment(), "spec", "template", "metadata", "labels")).toMatchObject(
        at(pdb, "spec", "selector", "matchLabels") as Record<string, unknown>,
      )
    })
  })
})
