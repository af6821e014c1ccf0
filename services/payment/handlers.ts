/**
 * The PaymentRpcs implementation: charges and refunds go through their state machines, reads straight to
 * the repository.
 */
import { Effect } from "effect"
import { PaymentNotFound, PaymentRpcs } from "../../rpc/payment.ts"
import { Charges } from "./charges.ts"
import { Refunds } from "./refunds.ts"
import { PaymentRepository, toPayment } from "./repository.ts"

export const PaymentHandlers = PaymentRpcs.toLayer(
  Effect.gen(function* () {
    const charges = yield* Charges
    const refunds = yield* Refunds
    const repository = yield* PaymentRepository
    return {
      RegisterPaymentMethod: ({ paymentMethod, customer, token }) =>
        repository.savePaymentMethod(paymentMethod, customer, token),
      Charge: (request) => charges.charge(request),
      Refund: (request) => refunds.refund(request),
      GetPayment: ({ paymentId }) =>
        repository
          .findById(paymentId)
          .pipe(
            Effect.flatMap((row) =>
              row === undefined ? Effect.fail(new PaymentNotFound({ paymentId })) : Effect.succeed(toPayment(row)),
            ),
          ),
      GetPaymentByOrder: ({ orderId }) =>
        repository
          .findByOrder(orderId)
          .pipe(
            Effect.flatMap((row) =>
              row === undefined ? Effect.fail(new PaymentNotFound({ orderId })) : Effect.succeed(toPayment(row)),
            ),
          ),
    }
  }),
)
