/**
 * Inventory test wiring: the service's real Layers (writer, sweeper, handlers behind an in-process RPC
 * client) on its own database, `cm_inventory_test`, so tests never touch a running service's data.
 */
import { ConfigProvider, Layer } from "effect"
import { InventoryRpcs, type ReservationId, type Sku } from "../../rpc/inventory.ts"
import { PostgresLive } from "../../src/postgres.ts"
import { RpcClientTag } from "../../src/rpc/index.ts"
import { InventoryEvents } from "../../services/inventory/events.ts"
import { InventoryHandlers } from "../../services/inventory/handlers.ts"
import { StockRepository } from "../../services/inventory/repository.ts"
import { StockWriter } from "../../services/inventory/stock-writer.ts"
import { ExpirySweeper } from "../../services/inventory/sweeper.ts"

export const testDatabaseSuffix = "_test"

/** Config for the suite: our own database, and a sweeper that only runs when a test asks (well, hourly). */
export const TestConfig = Layer.setConfigProvider(
  ConfigProvider.fromMap(
    new Map([
      ["DATABASE_NAME_SUFFIX", testDatabaseSuffix],
      ["INVENTORY_SWEEP_INTERVAL_MS", String(3_600_000)],
    ]),
  ).pipe(ConfigProvider.orElse(() => ConfigProvider.fromEnv())),
)

export class InventoryClient extends RpcClientTag<InventoryClient>()("inventory", InventoryRpcs) {}

/** The service's Layers on one pool: what main.ts builds, minus the network. */
export const InventoryTest = (poolSize = 20) => {
  const Domain = Layer.mergeAll(StockRepository.Default, StockWriter.Default, ExpirySweeper.Default).pipe(
    Layer.provide(InventoryEvents.Outbox),
  )
  const Client = InventoryClient.InProcess.pipe(Layer.provide(InventoryHandlers))
  return Client.pipe(
    Layer.provideMerge(Domain),
    Layer.provideMerge(PostgresLive("inventory", { poolSize })),
    Layer.provide(TestConfig),
  )
}

const unique = () => crypto.randomUUID().slice(0, 13)
export const newSku = (label = "sku") => `${label}-${unique()}` as Sku
export const newId = <A extends string>(label: string) => `${label}-${unique()}` as A
export const newReservationId = () => newId<ReservationId>("res")
