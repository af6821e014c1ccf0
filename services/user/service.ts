/**
 * The user service as one Layer, without its servers and without its database: the RpcGroup's handlers,
 * accounts, sessions in Redis, and user events through the outbox relay to Kafka. It needs the service's
 * own SqlClient; main.ts serves it on its ports, the monolith (scripts/monolith.ts) runs it next to the
 * other services in one process.
 */
import type { SqlClient } from "@effect/sql"
import { Layer } from "effect"
import { type KafkaClient, KafkaLive, kafkaReady } from "../../src/events/index.ts"
import type { ReadinessChecks } from "../../src/http.ts"
import { OutboxPublisherLive } from "../../src/events/outbox.ts"
import { postgresReady } from "../../src/postgres.ts"
import { type RedisClient, RedisLive, redisReady } from "../../src/redis.ts"
import { Accounts } from "./accounts.ts"
import { UserHandlers } from "./handlers.ts"
import { UserRepository } from "./repository.ts"
import { Sessions } from "./sessions.ts"

const Domain = Layer.mergeAll(UserRepository.Default, Sessions.Default, Accounts.Default)

/** The handlers of UserRpcs, plus the Kafka and Redis clients (for readiness); needs the SqlClient. */
export const UserService = Layer.merge(UserHandlers, OutboxPublisherLive()).pipe(
  Layer.provide(Domain),
  Layer.provideMerge(Layer.merge(KafkaLive("user"), RedisLive)),
)

/** What /readyz checks, given UserService and the SqlClient. */
export const userReadiness: ReadinessChecks<SqlClient.SqlClient | RedisClient | KafkaClient> = {
  postgres: postgresReady,
  redis: redisReady,
  kafka: kafkaReady,
}
