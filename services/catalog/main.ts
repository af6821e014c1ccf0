/**
 * The catalog service process: `bun run services/catalog/main.ts`.
 * Only wiring: CatalogService (service.ts) on the service's own database, its RpcGroup on its RPC port
 * and the health side port.
 */
import { Layer } from "effect"
import { CatalogRpcs } from "../../rpc/catalog.ts"
import { HealthServerLive } from "../../src/http.ts"
import { PostgresLive } from "../../src/postgres.ts"
import { RpcServe } from "../../src/rpc/index.ts"
import { runService } from "../../src/service.ts"
import { CatalogService, catalogReadiness } from "./service.ts"

const Main = Layer.merge(
  RpcServe.layer(CatalogRpcs, { service: "catalog" }),
  HealthServerLive({ service: "catalog", checks: catalogReadiness }),
).pipe(Layer.provide(CatalogService), Layer.provide(PostgresLive("catalog")))

runService("catalog", Main)
