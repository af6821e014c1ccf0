/**
 * The user service process: `bun run services/user/main.ts`.
 * Only wiring: UserService (service.ts) on the service's own database, its RpcGroup on its RPC port and
 * the health side port.
 */
import { Layer } from "effect"
import { UserRpcs } from "../../rpc/user.ts"
import { HealthServerLive } from "../../src/http.ts"
import { PostgresLive } from "../../src/postgres.ts"
import { RpcServe } from "../../src/rpc/index.ts"
import { runService } from "../../src/service.ts"
import { UserService, userReadiness } from "./service.ts"

const Main = Layer.merge(
  RpcServe.layer(UserRpcs, { service: "user" }),
  HealthServerLive({ service: "user", checks: userReadiness }),
).pipe(Layer.provide(UserService), Layer.provide(PostgresLive("user")))

runService("user", Main)
