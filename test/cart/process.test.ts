import { afterAll, beforeAll, expect, test } from "bun:test"
import { ConfigProvider, Effect, Layer } from "effect"
import { CartReservedReply, Money, type OrderId, ReserveCart } from "../../rpc/cart.ts"
import type { Currency } from "../../rpc/common.ts"
import { CommandBus, CommandBusLive } from "../../src/commands/index.ts"
import { CatalogClient } from "../../services/cart/catalog-client.ts"
import { type ServiceProcess, startService, testQueuePrefix } from "../support/service-process.ts"
import { testRuntime } from "../support/run.ts"
import { CartClient, newSku, newUser, testDatabaseSuffix } from "./support.ts"

let catalog: ServiceProcess | undefined
let cart: ServiceProcess | undefined
let clients: ReturnType<typeof clientsOf> | undefined

const clientsOf = (ports: { readonly cart: number; readonly catalog: number }) =>
  testRuntime(
    Layer.mergeAll(
      CartClient.layer({ timeout: "5 seconds" }),
      CatalogClient.layer({ timeout: "5 seconds" }),
      CommandBusLive("order"),
    ).pipe(
      Layer.provide(
        Layer.setConfigProvider(
          ConfigProvider.fromMap(
            new Map([
              ["CART_RPC_PORT", String(ports.cart)],
              ["CATALOG_RPC_PORT", String(ports.catalog)],
              ["COMMAND_QUEUE_PREFIX", testQueuePrefix(testDatabaseSuffix)],
            ]),
          ).pipe(ConfigProvider.orElse(() => ConfigProvider.fromEnv())),
        ),
      ),
    ),
  )

beforeAll(async () => {
  const database = { DATABASE_NAME_SUFFIX: testDatabaseSuffix }
  catalog = await startService("catalog", database)
  cart = await startService("cart", { ...database, CATALOG_RPC_PORT: String(catalog.rpcPort) })
  clients = clientsOf({ cart: cart.rpcPort, catalog: catalog.rpcPort })
}, 70_000)

afterAll(async () => {
  await clients?.dispose()
  await cart?.stop()
  await catalog?.stop()
})

test("services/cart/main.ts prices from the catalog process over RPC and answers cart.reserve on its real queue", async () => {
  if (cart === undefined || clients === undefined) throw new Error("cart did not start")
  const readiness = (await (await fetch(`${cart.httpUrl}/readyz`)).json()) as {
    status: string
    checks: ReadonlyArray<{ name: string; ok: boolean }>
  }
  expect(readiness.status).toBe("ready")
  expect(readiness.checks.map((check) => [check.name, check.ok]).sort()).toEqual([
    ["postgres", true],
    ["rabbitmq", true],
  ])

  await clients.run(
    Effect.gen(function* () {
      const catalogClient = yield* CatalogClient
      const carts = yield* CartClient
      const bus = yield* CommandBus
      const sku = newSku("remote")
      yield* catalogClient.CreateProduct({
        sku,
        name: "Remote product",
        price: new Money({ amount: 1_234, currency: "EUR" as Currency }),
      })
      const userId = newUser()
      const added = yield* carts.AddItem({ userId, sku, quantity: 3 })
      expect(added.total?.amount).toBe(3 * 1_234)
      const orderId = `order-${crypto.randomUUID()}` as OrderId
      const reply = yield* bus.sendAndAwait(ReserveCart, { orderId, userId }, CartReservedReply, {
        timeout: "10 seconds",
      })
      expect(reply).toMatchObject({ _tag: "CartReserved", orderId, userId })
      const frozen = yield* carts.AddItem({ userId, sku, quantity: 1 }).pipe(Effect.flip)
      expect(frozen).toMatchObject({ _tag: "CartFrozen", orderId })
    }),
  )
}, 30_000)
