/**
 * Runs checkout sagas in the background of the order service and resumes the ones a crash left.
 */
import { Effect } from "effect"
import { makeSagaRunner } from "../../src/saga-runner.ts"
import { checkoutSaga } from "./checkout.ts"
import { checkoutMaxQueueSeconds, sagaConcurrencyMax, sagaLeaseMillis, sagaRecoveryIntervalMillis } from "./config.ts"

export class CheckoutRunner extends Effect.Service<CheckoutRunner>()("order/CheckoutRunner", {
  scoped: Effect.gen(function* () {
    const lease = yield* sagaLeaseMillis
    const interval = yield* sagaRecoveryIntervalMillis
    return yield* makeSagaRunner([checkoutSaga], {
      service: "order",
      lease,
      recoveryInterval: interval,
      concurrency: { max: yield* sagaConcurrencyMax },
      maxQueueSeconds: yield* checkoutMaxQueueSeconds,
    })
  }),
}) {}
