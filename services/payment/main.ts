/**
 * The payment service process: `bun run services/payment/main.ts`.
 * Only wiring: PaymentService (service.ts) on the service's own database, its RpcGroup on its RPC port
 * and the health side port.
 */
import { Layer } from "effect"
import { PaymentRpcs } from "../../rpc/payment.ts"
import { HealthServerLive } from "../../src/http.ts"
import { PostgresLive } from "../../src/postgres.ts"
import { RpcServe } from "../../src/rpc/index.ts"
import { runService } from "../../src/service.ts"
import { PaymentService, paymentReadiness } from "./service.ts"

const Main = Layer.merge(
  RpcServe.layer(PaymentRpcs, { service: "payment" }),
  HealthServerLive({ service: "payment", checks: paymentReadiness }),
).pipe(Layer.provide(PaymentService), Layer.provide(PostgresLive("payment")))

runService("payment", Main)
