/**
 * The delivery service as one Layer, without its servers and without its database: the RpcGroup's
 * handlers, zones, slots and bookings, and shipment events through the outbox relay to Kafka. It needs
 * the service's own SqlClient; main.ts serves it on its ports, the monolith (scripts/monolith.ts) runs it
 * next to the other services in one process.
 */
import type { SqlClient } from "@effect/sql"
import { Layer } from "effect"
import { type KafkaClient, KafkaLive, kafkaReady } from "../../src/events/index.ts"
import type { ReadinessChecks } from "../../src/http.ts"
import { OutboxPublisherLive } from "../../src/events/outbox.ts"
import { postgresReady } from "../../src/postgres.ts"
import { Bookings } from "./bookings.ts"
import { DeliveryHandlers } from "./handlers.ts"
import { DeliveryRepository } from "./repository.ts"

const Domain = Layer.mergeAll(DeliveryRepository.Default, Bookings.Default)

/** The handlers of DeliveryRpcs, plus the Kafka client (for readiness); needs the SqlClient. */
export const DeliveryService = Layer.merge(DeliveryHandlers, OutboxPublisherLive()).pipe(
  Layer.provide(Domain),
  Layer.provideMerge(KafkaLive("delivery")),
)

/** What /readyz checks, given DeliveryService and the SqlClient. */
export const deliveryReadiness: ReadinessChecks<SqlClient.SqlClient | KafkaClient> = {
  postgres: postgresReady,
  kafka: kafkaReady,
}
