import { afterAll, beforeAll, expect, test } from "bun:test"
import { ConfigProvider, Effect, Layer } from "effect"
import { Money } from "../../rpc/catalog.ts"
import type { Currency } from "../../rpc/common.ts"
import { testRuntime } from "../support/run.ts"
import { type ServiceProcess, startService } from "../support/service-process.ts"
import { CatalogClient, newSku, testDatabaseSuffix } from "./support.ts"

let service: ServiceProcess
let client: ReturnType<typeof clientOf> | undefined

const clientOf = (rpcPort: number) =>
  testRuntime(
    CatalogClient.layer({ timeout: "5 seconds" }).pipe(
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["CATALOG_RPC_PORT", String(rpcPort)]])))),
    ),
  )

beforeAll(async () => {
  service = await startService("catalog", { DATABASE_NAME_SUFFIX: testDatabaseSuffix })
  client = clientOf(service.rpcPort)
}, 40_000)

afterAll(async () => {
  await client?.dispose()
  await service?.stop()
})

test("services/catalog/main.ts serves its RpcGroup over the network and reports ready with its dependencies", async () => {
  const readiness = (await (await fetch(`${service.httpUrl}/readyz`)).json()) as {
    status: string
    checks: ReadonlyArray<{ name: string; ok: boolean }>
  }
  expect(readiness.status).toBe("ready")
  expect(readiness.checks.map((check) => [check.name, check.ok]).sort()).toEqual([
    ["kafka", true],
    ["postgres", true],
    ["redis", true],
  ])
  expect((await fetch(`${service.httpUrl}/healthz`)).status).toBe(200)

  if (client === undefined) throw new Error("catalog did not start")
  await client.run(
    Effect.gen(function* () {
      const catalog = yield* CatalogClient
      const sku = newSku("remote")
      const created = yield* catalog.CreateProduct({
        sku,
        name: "Over the wire",
        price: new Money({ amount: 1_999, currency: "EUR" as Currency }),
      })
      const found = yield* catalog.GetProduct({ sku })
      expect(found.id).toBe(created.id)
      expect(found.createdAt).toBeInstanceOf(Date)
      expect(found.price).toBeInstanceOf(Money)
      // A typed error crosses the process boundary as its class.
      const duplicate = yield* catalog
        .CreateProduct({ sku, name: "again", price: new Money({ amount: 1, currency: "EUR" as Currency }) })
        .pipe(Effect.flip)
      expect(duplicate._tag).toBe("DuplicateSku")
      const page = yield* catalog.ListProducts({ query: "wire", limit: 5 })
      expect(page.items.length).toBeGreaterThan(0)
    }),
  )
  const metrics = await (await fetch(`${service.httpUrl}/metrics`)).text()
  expect(metrics).toContain('rpc_requests_total{service="catalog",method="CreateProduct",outcome="DuplicateSku"} 1')
}, 30_000)
