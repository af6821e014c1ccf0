/**
 * The delivery service process: `bun run services/delivery/main.ts`.
 * Only wiring: the RpcGroup on its RPC port, the health side port, zones, slots and bookings, events
 * through the outbox relay to Kafka, all on the service's own database.
 */
import type { SqlClient } from "@effect/sql"
import { Layer } from "effect"
import { DeliveryRpcs } from "../../rpc/delivery.ts"
import { type KafkaClient, KafkaLive, kafkaReady } from "../../src/event-bus.ts"
import { HealthServerLive } from "../../src/http.ts"
import { OutboxPublisherLive } from "../../src/outbox.ts"
import { PostgresLive, postgresReady } from "../../src/postgres.ts"
import { RpcServe } from "../../src/rpc.ts"
import { runService } from "../../src/service.ts"
import { Bookings } from "./bookings.ts"
import { DeliveryHandlers } from "./handlers.ts"
import { DeliveryRepository } from "./repository.ts"

const Rpc = RpcServe.layer(DeliveryRpcs, {
  service: "delivery",
}).pipe(Layer.provide(DeliveryHandlers))

const Health = HealthServerLive<SqlClient.SqlClient | KafkaClient>({
  service: "delivery",
  checks: { postgres: postgresReady, kafka: kafkaReady },
})

const Domain = Layer.mergeAll(DeliveryRepository.Default, Bookings.Default)

const Relay = OutboxPublisherLive()

const Main = Layer.mergeAll(Rpc, Health).pipe(
  Layer.provide(Layer.mergeAll(Domain, Relay)),
  Layer.provide(KafkaLive("delivery")),
  Layer.provide(PostgresLive("delivery")),
)

runService("delivery", Main)
