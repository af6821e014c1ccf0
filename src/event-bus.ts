/**
 * The Kafka event bus: what a service imports to define, publish and consume domain events.
 *
 * - `defineEvent(type, topic, PayloadSchema, version)` declares an event (event-envelope.ts).
 * - `KafkaLive(service)` opens the connection; `EventProducer.Default` publishes (event-kafka.ts,
 *   event-producer.ts). Services normally publish through the outbox (outbox.ts) instead.
 * - `runConsumer({ groupId, topics, handle })` joins a consumer group for a scope (event-consumer.ts).
 * - `runBatchConsumer({ groupId, topics, handle })` the same, its handler taking a run of events (event-consumer-batch.ts).
 * - `ensureTopics`, `kafkaReady` for start-up and the readiness probe.
 */
export * from "./event-consumer.ts"
export * from "./event-consumer-batch.ts"
export * from "./event-envelope.ts"
export * from "./event-kafka.ts"
export * from "./event-producer.ts"
