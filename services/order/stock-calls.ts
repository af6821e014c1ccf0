/**
 * The checkout's calls to inventory that every saga makes at the same step: the sagas stepping together on
 * the beat reserve (and commit) in one `ReserveMany` (`CommitMany`) call, which the inventory service's
 * writer applies as one batch. Each saga still gets its own reservation or typed refusal. Releases (the
 * compensation) are rare and go one by one.
 */
import { Effect } from "effect"
import type { ReservationId, ReserveRequest } from "../../rpc/inventory.ts"
import { makeBatchedCall } from "../../src/rpc/batched.ts"
import { InventoryClient } from "./clients.ts"

export class StockCalls extends Effect.Service<StockCalls>()("order/StockCalls", {
  scoped: Effect.gen(function* () {
    const inventory = yield* InventoryClient
    const reserve = yield* makeBatchedCall("order.inventory-reserve", (requests: ReadonlyArray<ReserveRequest>) =>
      inventory.ReserveMany({ requests }),
    )
    const commit = yield* makeBatchedCall("order.inventory-commit", (reservationIds: ReadonlyArray<ReservationId>) =>
      inventory.CommitMany({ reservationIds }),
    )
    /** A compensation, rare: sent alone. */
    const release = (reservationId: ReservationId) => inventory.Release({ reservationId })
    return { reserve, commit, release } as const
  }),
}) {}
