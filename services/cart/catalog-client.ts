/**
 * The cart's view of the catalog: the RPC client of its group, and `Pricing`, the one question the cart
 * asks it — what does this SKU cost now, and is it still sold?
 */
import { Duration, Effect, Schedule } from "effect"
import { CatalogUnavailable } from "../../rpc/cart.ts"
import { CatalogRpcs, ProductNotFound, type SkuPrice } from "../../rpc/catalog.ts"
import type { Sku } from "../../rpc/common.ts"
import { RpcClientTag } from "../../src/rpc/index.ts"

export class CatalogClient extends RpcClientTag<CatalogClient>()("catalog", CatalogRpcs) {}

/** Per call; a price lookup that takes longer is better failed typed than holding the user's request. */
export const catalogCallTimeout = Duration.seconds(2)

/** A lookup is a read, so retrying a dropped connection (a catalog restarting) is harmless. */
const transientRetry = Schedule.exponential("50 millis").pipe(Schedule.intersect(Schedule.recurs(2)))

export class Pricing extends Effect.Service<Pricing>()("cart/Pricing", {
  effect: Effect.gen(function* () {
    const catalog = yield* CatalogClient

    /** The SKU's current price and name; an unknown or inactive product is not for sale. */
    const price = Effect.fn("Cart.price")(function* (sku: Sku) {
      const prices = yield* catalog.GetPrices({ skus: [sku] }).pipe(
        Effect.timeout(catalogCallTimeout),
        Effect.retry(transientRetry),
        Effect.mapError((error) => new CatalogUnavailable({ message: `GetPrices: ${error.message}` })),
      )
      const found: SkuPrice | undefined = prices.find((p) => p.sku === sku)
      if (found === undefined || !found.active) return yield* new ProductNotFound({ sku })
      return found
    })

    return { price }
  }),
}) {}
