/**
 * The payment service as one Layer, without its servers and without its database: the RpcGroup's
 * handlers, charges and refunds against the simulated provider, and payment events through the outbox
 * relay to Kafka. It needs the service's own SqlClient; main.ts serves it on its ports, the monolith
 * (scripts/monolith.ts) runs it next to the other services in one process.
 */
import type { SqlClient } from "@effect/sql"
import { Layer } from "effect"
import { type KafkaClient, KafkaLive, kafkaReady } from "../../src/events/index.ts"
import type { ReadinessChecks } from "../../src/http.ts"
import { OutboxPublisherLive } from "../../src/events/outbox.ts"
import { postgresReady } from "../../src/postgres.ts"
import { Charges } from "./charges.ts"
import { PaymentHandlers } from "./handlers.ts"
import { PaymentProvider } from "./provider.ts"
import { Refunds } from "./refunds.ts"
import { PaymentRepository } from "./repository.ts"

const Domain = Layer.mergeAll(PaymentRepository.Default, Charges.Default, Refunds.Default).pipe(
  Layer.provide(PaymentProvider.Simulated),
)

/** The handlers of PaymentRpcs, plus the Kafka client (for readiness); needs the SqlClient. */
export const PaymentService = Layer.merge(PaymentHandlers, OutboxPublisherLive()).pipe(
  Layer.provide(Domain),
  Layer.provideMerge(KafkaLive("payment")),
)

/** What /readyz checks, given PaymentService and the SqlClient. */
export const paymentReadiness: ReadinessChecks<SqlClient.SqlClient | KafkaClient> = {
  postgres: postgresReady,
  kafka: kafkaReady,
}
