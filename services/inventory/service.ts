/**
 * The inventory service as one Layer, without its servers and without its database: the RpcGroup's
 * handlers, the coalescing stock writer and the expiry sweeper, and inventory events through the outbox
 * relay to Kafka. It needs the service's own SqlClient; main.ts serves it on its ports, the monolith
 * (scripts/monolith.ts) runs it next to the other services in one process.
 */
import type { SqlClient } from "@effect/sql"
import { Layer } from "effect"
import { InventoryReserved } from "../../rpc/inventory.ts"
import { ensureTopics, type KafkaClient, KafkaLive, kafkaReady } from "../../src/events/index.ts"
import type { ReadinessChecks } from "../../src/http.ts"
import { OutboxPublisherLive } from "../../src/events/outbox.ts"
import { postgresReady } from "../../src/postgres.ts"
import { InventoryEvents } from "./events.ts"
import { InventoryHandlers } from "./handlers.ts"
import { StockRepository } from "./repository.ts"
import { StockWriter } from "./stock-writer.ts"
import { ExpirySweeper } from "./sweeper.ts"

// The topic exists before the first event: auto-creation would lose the relay's first sends to retries.
const Kafka = Layer.effectDiscard(ensureTopics([InventoryReserved.topic])).pipe(
  Layer.provideMerge(KafkaLive("inventory")),
)

const Domain = Layer.mergeAll(StockRepository.Default, StockWriter.Default, ExpirySweeper.Default).pipe(
  Layer.provide(InventoryEvents.Outbox),
)

/** The handlers of InventoryRpcs, plus the Kafka client (for readiness); needs the SqlClient. */
export const InventoryService = Layer.merge(InventoryHandlers, OutboxPublisherLive()).pipe(
  Layer.provide(Domain),
  Layer.provideMerge(Kafka),
)

/** What /readyz checks, given InventoryService and the SqlClient. */
export const inventoryReadiness: ReadinessChecks<SqlClient.SqlClient | KafkaClient> = {
  postgres: postgresReady,
  kafka: kafkaReady,
}
