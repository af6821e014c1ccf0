/**
 * The runner of the order service's checkout sagas, on the thread that places the orders (the monolith,
 * tests) or on a thread of its own (`CheckoutSagas.InThread`, the order process: main.ts off its main
 * thread).
 */
import { Context, Duration, Effect, Layer, Schedule } from "effect"
import { makeSagaRunner, type SagaRunner } from "../../src/saga/runner.ts"
import { makeSagaThreadRunner } from "../../src/saga/thread.ts"
import { checkoutSaga } from "./checkout-saga.ts"
import {
  checkoutDeadlineSeconds,
  checkoutMaxQueueSeconds,
  sagaConcurrencyMax,
  sagaLeaseMillis,
  sagaRecoveryIntervalMillis,
  sagaStepBeatMillis,
  sagaStepRetrySeconds,
} from "./config.ts"

/** The readiness checks the saga thread runs for the order process's /readyz (its buses live there). */
export class CheckoutSagaThread extends Context.Tag("order/CheckoutSagaThread")<
  CheckoutSagaThread,
  { readonly check: (name: string) => Effect.Effect<void, unknown> }
>() {}

export class CheckoutSagas extends Context.Tag("order/CheckoutSagas")<CheckoutSagas, SagaRunner>() {
  static readonly InProcess = Layer.scoped(
    CheckoutSagas,
    Effect.gen(function* () {
      return yield* makeSagaRunner([checkoutSaga], {
        service: "order",
        lease: yield* sagaLeaseMillis,
        recoveryInterval: yield* sagaRecoveryIntervalMillis,
        concurrency: { max: yield* sagaConcurrencyMax },
        maxQueueSeconds: yield* checkoutMaxQueueSeconds,
        stepBeatMillis: yield* sagaStepBeatMillis,
        // A run still going at the checkout's deadline is interrupted; recovery then compensates it as overdue.
        runTimeout: Duration.seconds(yield* checkoutDeadlineSeconds),
        stepRetry: Schedule.exponential("50 millis").pipe(
          Schedule.union(Schedule.spaced("1 second")),
          Schedule.jittered,
          Schedule.upTo(Duration.seconds(yield* sagaStepRetrySeconds)),
        ),
      })
    }),
  )

  static readonly InThread = Layer.scopedContext(
    Effect.gen(function* () {
      // The process's own entry (main.ts, or its bundle) is the thread's too.
      const thread = yield* makeSagaThreadRunner([checkoutSaga], { entry: Bun.main })
      return Context.make(CheckoutSagas, thread.runner).pipe(Context.add(CheckoutSagaThread, { check: thread.check }))
    }),
  )
}
