/**
 * The cart service process: `bun run services/cart/main.ts`.
 * Only wiring: CartService (service.ts) on the service's own database with the catalog client over the
 * network, its RpcGroup on its RPC port and the health side port.
 */
import { Layer } from "effect"
import { CartRpcs } from "../../rpc/cart.ts"
import { HealthServerLive } from "../../src/http.ts"
import { PostgresLive } from "../../src/postgres.ts"
import { RpcServe } from "../../src/rpc/index.ts"
import { runService } from "../../src/service.ts"
import { CatalogClient, catalogCallTimeout } from "./catalog-client.ts"
import { CartService, cartReadiness } from "./service.ts"

const Main = Layer.merge(
  RpcServe.layer(CartRpcs, { service: "cart" }),
  HealthServerLive({ service: "cart", checks: cartReadiness }),
).pipe(
  Layer.provide(CartService),
  Layer.provide(CatalogClient.layer({ timeout: catalogCallTimeout })),
  Layer.provide(PostgresLive("cart")),
)

runService("cart", Main)
