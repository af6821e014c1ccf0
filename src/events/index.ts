/**
 * The Kafka event bus: what a service imports to define, publish and consume domain events.
 *
 * - `defineEvent(type, topic, PayloadSchema, version)` declares an event (envelope.ts).
 * - `KafkaLive(service)` opens the connection; `EventProducer.Default` publishes (kafka.ts,
 *   producer.ts). Services normally publish through the outbox (outbox.ts) instead.
 * - `runConsumer({ groupId, topics, handle })` joins a consumer group for a scope (consumer.ts).
 * - `runBatchConsumer({ groupId, topics, handle })` the same, its handler taking a run of events (consumer-batch.ts).
 * - `ensureTopics`, `kafkaReady` for start-up and the readiness probe.
 */
export * from "./consumer.ts"
export * from "./consumer-batch.ts"
export * from "./envelope.ts"
export * from "./kafka.ts"
export * from "./producer.ts"
