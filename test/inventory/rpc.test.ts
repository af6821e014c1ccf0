/**
 * The inventory service as its own process (services/inventory/main.ts), called over the real RPC
 * transport: typed successes and typed errors cross the wire.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import type { Subprocess } from "bun"
import { ConfigProvider, Effect, Layer } from "effect"
import { join } from "node:path"
import { InsufficientStock, type OrderId, type RestockId } from "../../rpc/inventory.ts"
import { testRuntime } from "../support/run.ts"
import { InventoryClient, newId, newReservationId, newSku, testDatabaseSuffix } from "./support.ts"

const rpcPort = 47_202
const httpPort = 47_212

const client = testRuntime(
  InventoryClient.layer({ timeout: "10 seconds" }).pipe(
    Layer.provide(
      Layer.setConfigProvider(
        ConfigProvider.fromMap(new Map([["INVENTORY_RPC_PORT", String(rpcPort)]])).pipe(
          ConfigProvider.orElse(() => ConfigProvider.fromEnv()),
        ),
      ),
    ),
  ),
)

let service: Subprocess

beforeAll(async () => {
  service = Bun.spawn([process.execPath, join(import.meta.dir, "..", "..", "services", "inventory", "main.ts")], {
    env: {
      ...process.env,
      DATABASE_NAME_SUFFIX: testDatabaseSuffix,
      INVENTORY_RPC_PORT: String(rpcPort),
      INVENTORY_HTTP_PORT: String(httpPort),
      LOG_LEVEL: "Warn",
    },
    stdout: "inherit",
    stderr: "inherit",
  })
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (service.exitCode !== null) throw new Error(`inventory service exited with ${service.exitCode}`)
    const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then(
      (response) => response.ok,
      () => false,
    )
    if (ready) return
    await Bun.sleep(100)
  }
  throw new Error("inventory service did not become ready within 30 s")
}, 40_000)

afterAll(async () => {
  await client.dispose()
  service.kill("SIGTERM")
  await service.exited
})

describe("inventory over RPC", () => {
  test("restock, reserve, a typed InsufficientStock, commit and read back", () =>
    client.run(
      Effect.gen(function* () {
        const inventory = yield* InventoryClient
        const sku = newSku("rpc")
        yield* inventory.Restock({ restockId: newId<RestockId>("restock"), sku, quantity: 3 })
        const reservationId = newReservationId()
        const reservation = yield* inventory.Reserve({
          reservationId,
          orderId: newId<OrderId>("order"),
          lines: [{ sku, quantity: 2 }],
        })
        expect(reservation.status).toBe("reserved")
        expect(reservation.expiresAt).toBeInstanceOf(Date)
        const error = yield* inventory
          .Reserve({
            reservationId: newReservationId(),
            orderId: newId<OrderId>("order"),
            lines: [{ sku, quantity: 2 }],
          })
          .pipe(Effect.flip)
        expect(error).toBeInstanceOf(InsufficientStock)
        const handled = yield* inventory
          .Reserve({
            reservationId: newReservationId(),
            orderId: newId<OrderId>("order"),
            lines: [{ sku, quantity: 2 }],
          })
          .pipe(
            Effect.as("reserved"),
            Effect.catchTag("InsufficientStock", (e) => Effect.succeed(`short: ${e.available} of ${e.requested}`)),
          )
        expect(handled).toBe("short: 1 of 2")
        expect((yield* inventory.Commit({ reservationId })).status).toBe("committed")
        const stock = yield* inventory.GetStock({ sku })
        expect({ available: stock.available, reserved: stock.reserved, committed: stock.committed }).toEqual({
          available: 1,
          reserved: 0,
          committed: 2,
        })
        const missing = yield* inventory.GetReservation({ reservationId: newReservationId() }).pipe(Effect.flip)
        expect(missing._tag).toBe("ReservationNotFound")
      }),
    ))

  test("the service reports its inventory metrics on the side port", async () => {
    const text = await fetch(`http://127.0.0.1:${httpPort}/metrics`).then((response) => response.text())
    expect(text).toContain('inventory_reservations_total{service="inventory",path="writer",outcome="ok"}')
    expect(text).toContain("inventory_batch_size_bucket")
    expect(text).toContain('rpc_requests_total{service="inventory",method="Reserve",outcome="InsufficientStock"}')
  })
})
