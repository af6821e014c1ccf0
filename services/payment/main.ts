/**
 * The payment service process: `bun run services/payment/main.ts`.
 * Only wiring: the RpcGroup on its RPC port, the health side port, charges and refunds against the
 * simulated provider, events through the outbox relay to Kafka, all on the service's own database.
 */
import type { SqlClient } from "@effect/sql"
import { Layer } from "effect"
import { PaymentRpcs } from "../../rpc/payment.ts"
import { type KafkaClient, KafkaLive, kafkaReady } from "../../src/event-bus.ts"
import { HealthServerLive } from "../../src/http.ts"
import { OutboxPublisherLive } from "../../src/outbox.ts"
import { PostgresLive, postgresReady } from "../../src/postgres.ts"
import { RpcServe } from "../../src/rpc.ts"
import { runService } from "../../src/service.ts"
import { Charges } from "./charges.ts"
import { PaymentHandlers } from "./handlers.ts"
import { PaymentProvider } from "./provider.ts"
import { Refunds } from "./refunds.ts"
import { PaymentRepository } from "./repository.ts"

const Rpc = RpcServe.layer(PaymentRpcs, {
  service: "payment",
}).pipe(Layer.provide(PaymentHandlers))

const Health = HealthServerLive<SqlClient.SqlClient | KafkaClient>({
  service: "payment",
  checks: { postgres: postgresReady, kafka: kafkaReady },
})

const Domain = Layer.mergeAll(PaymentRepository.Default, Charges.Default, Refunds.Default).pipe(
  Layer.provide(PaymentProvider.Simulated),
)

const Relay = OutboxPublisherLive()

const Main = Layer.mergeAll(Rpc, Health).pipe(
  Layer.provide(Layer.mergeAll(Domain, Relay)),
  Layer.provide(KafkaLive("payment")),
  Layer.provide(PostgresLive("payment")),
)

runService("payment", Main)
