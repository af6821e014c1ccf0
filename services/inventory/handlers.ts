/**
 * The InventoryRpcs implementation: writes go through the coalescing StockWriter, reads straight to the
 * repository (a read needs no serialisation; it sees the last committed batch).
 */
import { Effect } from "effect"
import { InventoryRpcs } from "../../rpc/inventory.ts"
import { StockRepository } from "./repository.ts"
import { StockWriter } from "./stock-writer.ts"

export const InventoryHandlers = InventoryRpcs.toLayer(
  Effect.gen(function* () {
    const writer = yield* StockWriter
    const repository = yield* StockRepository
    return {
      Reserve: (request) => writer.reserve(request),
      Release: ({ reservationId }) => writer.release(reservationId),
      Commit: ({ reservationId }) => writer.commit(reservationId),
      // Handed to the writer together, so a batch call's items join one batch of the writer.
      ReserveMany: ({ requests }) => writer.reserveAll(requests),
      CommitMany: ({ reservationIds }) => writer.commitAll(reservationIds),
      Restock: (request) => writer.restock(request),
      Adjust: (request) => writer.adjust(request),
      GetStock: ({ sku }) => repository.getStock(sku),
      GetStocks: ({ skus }) => repository.getStocks(skus),
      GetReservation: ({ reservationId }) => repository.getReservation(reservationId),
    }
  }),
)
