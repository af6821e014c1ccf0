/**
 * The order process's saga thread (started by `CheckoutSagas.InThread`, checkout-sagas.ts): the
 * checkout sagas' runner, the buses and the outbox relay, on the service's database and the clients of
 * inventory, payment and delivery of their own.
 */
import { Layer } from "effect"
import { PostgresLive } from "../../src/postgres.ts"
import { runSagaThread, sagaThreadOwner } from "../../src/saga/thread.ts"
import { CheckoutSagas } from "./checkout-sagas.ts"
import { DeliveryClient, InventoryClient, PaymentClient } from "./clients.ts"
import { OrderSagaSide, orderReadiness } from "./service.ts"

runSagaThread({
  service: "order",
  layer: OrderSagaSide(sagaThreadOwner()).pipe(
    Layer.provideMerge(Layer.mergeAll(InventoryClient.Live, PaymentClient.Live, DeliveryClient.Live)),
    Layer.provideMerge(PostgresLive("order")),
  ),
  runner: CheckoutSagas,
  checks: orderReadiness,
})
