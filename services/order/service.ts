/**
 * The order service as one Layer, without its servers and without its database: the RpcGroup's handlers,
 * the Checkout (placing orders, running their sagas) with its Postgres saga log, the RabbitMQ bus to cart, and order events through
 * the outbox relay to Kafka. It needs the service's own SqlClient and the clients of inventory, payment
 * and delivery (over the network in main.ts, in-process in the monolith, scripts/monolith.ts).
 */
import type { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { OrderConfirmed } from "../../rpc/order.ts"
import { type CommandBus, CommandBusLive, commandBusReady } from "../../src/commands/index.ts"
import { ensureTopics, type KafkaClient, KafkaLive, kafkaReady } from "../../src/events/index.ts"
import type { ReadinessChecks } from "../../src/http.ts"
import { Outbox, OutboxPublisherLive } from "../../src/events/outbox.ts"
import { postgresReady } from "../../src/postgres.ts"
import { PostgresSagaLogLive } from "../../src/saga/log-postgres.ts"
import { Checkout } from "./checkout.ts"
import { sagaLeaseMillis } from "./config.ts"
import { OrderHandlers } from "./handlers.ts"
import { OrderRepository } from "./repository.ts"
import { StockCalls } from "./stock-calls.ts"

const Kafka = Layer.effectDiscard(ensureTopics([OrderConfirmed.topic])).pipe(Layer.provideMerge(KafkaLive("order")))

const SagaLogLive = Layer.unwrapEffect(Effect.map(sagaLeaseMillis, (lease) => PostgresSagaLogLive({ lease })))

const CheckoutLive = Checkout.Default.pipe(
  Layer.provideMerge(Layer.mergeAll(OrderRepository.Default, Outbox.Default, SagaLogLive, StockCalls.Default)),
)

/**
 * The handlers of OrderRpcs, plus the Kafka client and the command bus (for readiness); needs the
 * SqlClient and InventoryClient, PaymentClient, DeliveryClient (clients.ts).
 */
export const OrderService = Layer.merge(OrderHandlers, OutboxPublisherLive()).pipe(
  Layer.provide(CheckoutLive),
  Layer.provideMerge(Layer.merge(Kafka, CommandBusLive("order"))),
)

/** What /readyz checks, given OrderService and the SqlClient. */
export const orderReadiness: ReadinessChecks<SqlClient.SqlClient | KafkaClient | CommandBus> = {
  postgres: postgresReady,
  kafka: kafkaReady,
  rabbitmq: commandBusReady,
}
