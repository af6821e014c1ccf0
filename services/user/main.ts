/**
 * The user service process: `bun run services/user/main.ts`.
 * Only wiring: the RpcGroup on its RPC port, the health side port, accounts on the service's own
 * database, sessions in Redis, events through the outbox relay to Kafka.
 */
import type { SqlClient } from "@effect/sql"
import { Layer } from "effect"
import { UserRpcs } from "../../rpc/user.ts"
import { type KafkaClient, KafkaLive, kafkaReady } from "../../src/event-bus.ts"
import { HealthServerLive } from "../../src/http.ts"
import { OutboxPublisherLive } from "../../src/outbox.ts"
import { PostgresLive, postgresReady } from "../../src/postgres.ts"
import { type RedisClient, RedisLive, redisReady } from "../../src/redis.ts"
import { RpcServe } from "../../src/rpc.ts"
import { runService } from "../../src/service.ts"
import { Accounts } from "./accounts.ts"
import { UserHandlers } from "./handlers.ts"
import { UserRepository } from "./repository.ts"
import { Sessions } from "./sessions.ts"

const Rpc = RpcServe.layer(UserRpcs, {
  service: "user",
}).pipe(Layer.provide(UserHandlers))

const Health = HealthServerLive<SqlClient.SqlClient | RedisClient | KafkaClient>({
  service: "user",
  checks: { postgres: postgresReady, redis: redisReady, kafka: kafkaReady },
})

const Domain = Layer.mergeAll(UserRepository.Default, Sessions.Default, Accounts.Default)

const Relay = OutboxPublisherLive()

const Main = Layer.mergeAll(Rpc, Health).pipe(
  Layer.provide(Layer.mergeAll(Domain, Relay)),
  Layer.provide(Layer.mergeAll(KafkaLive("user"), RedisLive, PostgresLive("user"))),
)

runService("user", Main)
