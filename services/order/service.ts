/**
 * The order service as Layers, without its servers and without its database: the RpcGroup's handlers,
 * the Checkout (placing orders) and the runner of its sagas with its Postgres saga log, the RabbitMQ bus
 * to cart, and order events through the outbox relay to Kafka. They need the service's own SqlClient and
 * the clients of inventory, payment and delivery (over the network in main.ts,
 * in-process in the monolith, scripts/monolith.ts).
 *
 * `OrderService` runs the sagas on the thread that answers the RPCs (the monolith, tests);
 * `OrderServiceSagaThread` hands them to a thread of their own (`OrderSagaSide`, main.ts off the main thread), which
 * also keeps the buses and the outbox relay.
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
import { CheckoutSagas, CheckoutSagaThread } from "./checkout-sagas.ts"
import { sagaLeaseMillis } from "./config.ts"
import { OrderHandlers } from "./handlers.ts"
import { OrderRepository } from "./repository.ts"
import { StockCalls } from "./stock-calls.ts"

const Kafka = Layer.effectDiscard(ensureTopics([OrderConfirmed.topic])).pipe(Layer.provideMerge(KafkaLive("order")))

const SagaLogLive = (owner?: string) =>
  Layer.unwrapEffect(
    Effect.map(sagaLeaseMillis, (lease) => PostgresSagaLogLive(owner === undefined ? { lease } : { lease, owner })),
  )

const Stores = (owner?: string) => Layer.mergeAll(OrderRepository.Default, Outbox.Default, SagaLogLive(owner))

/**
 * The checkout sagas' runner with what their steps use, the buses and the outbox relay; writing to the
 * saga log as `owner` (the main thread's, on a saga thread).
 */
export const OrderSagaSide = (owner?: string) =>
  Layer.merge(CheckoutSagas.InProcess, OutboxPublisherLive()).pipe(
    Layer.provideMerge(Layer.merge(Stores(owner), StockCalls.Default)),
    Layer.provideMerge(Layer.merge(Kafka, CommandBusLive("order"))),
  )

/**
 * The handlers of OrderRpcs with the sagas on the same thread, plus the Kafka client and the command bus
 * (for readiness); needs the SqlClient and InventoryClient, PaymentClient, DeliveryClient (clients.ts).
 */
export const OrderService = OrderHandlers.pipe(Layer.provide(Checkout.Default), Layer.provideMerge(OrderSagaSide()))

/** What /readyz checks, given OrderService and the SqlClient. */
export const orderReadiness: ReadinessChecks<SqlClient.SqlClient | KafkaClient | CommandBus> = {
  postgres: postgresReady,
  kafka: kafkaReady,
  rabbitmq: commandBusReady,
}

/** The handlers of OrderRpcs with the sagas on a thread of their own (main.ts runs it off the main thread). */
export const OrderServiceSagaThread = OrderHandlers.pipe(
  Layer.provide(Checkout.Default),
  Layer.provideMerge(CheckoutSagas.InThread),
  Layer.provideMerge(Stores()),
)

/**
 * What /readyz checks, given OrderServiceSagaThread: the same checks as `orderReadiness`, each run on the
 * saga thread (where the buses live) except this thread's own database pool.
 */
export const orderSagaThreadReadiness: ReadinessChecks<SqlClient.SqlClient | CheckoutSagaThread> = {
  ...Object.fromEntries(
    Object.keys(orderReadiness).map((name) => [
      name,
      Effect.flatMap(CheckoutSagaThread, (thread) => thread.check(name)),
    ]),
  ),
  postgres: postgresReady,
}
