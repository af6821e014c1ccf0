/**
 * Graceful shutdown: SIGTERM while a call is in flight lets it finish and answer before the process
 * exits, and the exit is clean.
 */
import { expect, test } from "bun:test"
import { Effect, Layer } from "effect"
import { Currency, Money, OrderId, UserId } from "../../rpc/common.ts"
import { PaymentIdempotencyKey, PaymentRpcs } from "../../rpc/payment.ts"
import { RpcClientTag } from "../../src/rpc/index.ts"
import { testRuntime } from "../support/run.ts"
import { startService } from "../support/service-process.ts"

class PaymentClient extends RpcClientTag<PaymentClient>()("payment", PaymentRpcs, { timeout: "20 seconds" }) {}

test("SIGTERM during a slow charge: the charge completes and answers, then the process exits 0", async () => {
  // Every charge waits this long for the simulated provider.
  const service = await startService("payment", { PAYMENT_PROVIDER_LATENCY_MS: "1500" })
  const runtime = testRuntime(PaymentClient.Live.pipe(Layer.provide(service.clientConfig)))
  try {
    const charging = runtime.run(
      Effect.flatMap(PaymentClient, (payments) =>
        payments.Charge({
          idempotencyKey: PaymentIdempotencyKey.make(crypto.randomUUID()),
          orderId: OrderId.make(crypto.randomUUID()),
          amount: Money.make({ amount: 4_200, currency: Currency.make("EUR") }),
          customer: UserId.make("graceful-customer"),
        }),
      ),
    )
    await Bun.sleep(500)
    service.child.kill("SIGTERM")
    const payment = await charging
    expect(payment.status).toBe("captured")
    expect(await service.child.exited).toBe(0)
  } finally {
    await runtime.dispose()
    if (service.child.exitCode === null) await service.kill()
  }
}, 60_000)
