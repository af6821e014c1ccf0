/**
 * The inventory service process: `bun run services/inventory/main.ts`.
 * Only wiring: the RpcGroup on its RPC port, the health side port, the coalescing stock writer and the
 * expiry sweeper, events through the outbox relay to Kafka, all on the service's own database.
 */
import type { SqlClient } from "@effect/sql"
import { Layer } from "effect"
import { InventoryReserved, InventoryRpcs } from "../../rpc/inventory.ts"
import { ensureTopics, type KafkaClient, KafkaLive, kafkaReady } from "../../src/event-bus.ts"
import { HealthServerLive } from "../../src/http.ts"
import { OutboxPublisherLive } from "../../src/outbox.ts"
import { PostgresLive, postgresReady } from "../../src/postgres.ts"
import { RpcServe } from "../../src/rpc.ts"
import { runService } from "../../src/service.ts"
import { InventoryEvents } from "./events.ts"
import { InventoryHandlers } from "./handlers.ts"
import { StockRepository } from "./repository.ts"
import { StockWriter } from "./stock-writer.ts"
import { ExpirySweeper } from "./sweeper.ts"

const Rpc = RpcServe.layer(InventoryRpcs, {
  service: "inventory",
}).pipe(Layer.provide(InventoryHandlers))

const Health = HealthServerLive<SqlClient.SqlClient | KafkaClient>({
  service: "inventory",
  checks: { postgres: postgresReady, kafka: kafkaReady },
})

// The topic exists before the first event: auto-creation would lose the relay's first sends to retries.
const Kafka = Layer.effectDiscard(ensureTopics([InventoryReserved.topic])).pipe(
  Layer.provideMerge(KafkaLive("inventory")),
)

const Domain = Layer.mergeAll(StockRepository.Default, StockWriter.Default, ExpirySweeper.Default).pipe(
  Layer.provide(InventoryEvents.Outbox),
)

const Relay = OutboxPublisherLive()

const Main = Layer.mergeAll(Rpc, Health).pipe(
  Layer.provide(Layer.mergeAll(Domain, Relay)),
  Layer.provide(Kafka),
  Layer.provide(PostgresLive("inventory")),
)

runService("inventory", Main)
