/**
 * The order service process: `bun run services/order/main.ts`.
 * Only wiring: the RpcGroup on its RPC port, the health side port, the checkout saga runner with its
 * Postgres saga log, RPC clients of inventory, payment and delivery, the RabbitMQ bus to cart, and
 * events through the outbox relay to Kafka, all on the service's own database.
 */
import type { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { OrderConfirmed, OrderRpcs } from "../../rpc/order.ts"
import { CommandBusLive, commandBusReady, type CommandBus } from "../../src/command-bus.ts"
import { ensureTopics, type KafkaClient, KafkaLive, kafkaReady } from "../../src/event-bus.ts"
import { HealthServerLive } from "../../src/http.ts"
import { Outbox, OutboxPublisherLive } from "../../src/outbox.ts"
import { PostgresLive, postgresReady } from "../../src/postgres.ts"
import { RpcServe } from "../../src/rpc.ts"
import { PostgresSagaLogLive } from "../../src/saga-log-postgres.ts"
import { runService } from "../../src/service.ts"
import { CheckoutRunner } from "./checkout-runner.ts"
import { DeliveryClient, InventoryClient, PaymentClient } from "./clients.ts"
import { sagaLeaseMillis } from "./config.ts"
import { OrderHandlers } from "./handlers.ts"
import { OrderRepository } from "./repository.ts"

const Rpc = RpcServe.layer(OrderRpcs, {
  service: "order",
}).pipe(Layer.provide(OrderHandlers))

const Health = HealthServerLive<SqlClient.SqlClient | KafkaClient | CommandBus>({
  service: "order",
  checks: { postgres: postgresReady, kafka: kafkaReady, rabbitmq: commandBusReady },
})

const Kafka = Layer.effectDiscard(ensureTopics([OrderConfirmed.topic])).pipe(Layer.provideMerge(KafkaLive("order")))

const SagaLogLive = Layer.unwrapEffect(Effect.map(sagaLeaseMillis, (lease) => PostgresSagaLogLive({ lease })))

const Clients = Layer.mergeAll(InventoryClient.Live, PaymentClient.Live, DeliveryClient.Live)

const Checkout = CheckoutRunner.Default.pipe(
  Layer.provideMerge(Layer.mergeAll(OrderRepository.Default, Outbox.Default, SagaLogLive, Clients)),
)

const Relay = OutboxPublisherLive()

const Main = Layer.mergeAll(Rpc, Health).pipe(
  Layer.provide(Layer.mergeAll(Checkout, Relay)),
  Layer.provide(Layer.mergeAll(Kafka, CommandBusLive("order"))),
  Layer.provide(PostgresLive("order")),
)

runService("order", Main)
