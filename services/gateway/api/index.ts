/**
 * The gateway's REST contract, written once: hono serves it (src/http-api-hono.ts) and the OpenAPI
 * document at /openapi.json is generated from it, so the document and the validation cannot drift.
 */
import { HttpApi, OpenApi } from "@effect/platform"
import { AdminApi } from "./admin.ts"
import { AnalyticsApi } from "./analytics.ts"
import { AccountApi, AuthApi } from "./account.ts"
import { CartApi } from "./cart.ts"
import { CatalogApi } from "./catalog.ts"
import { RateLimited, ServiceUnavailable } from "./errors.ts"
import { OrdersApi } from "./orders.ts"

export class GatewayApi extends HttpApi.make("commerce-mesh")
  .add(CatalogApi)
  .add(AuthApi)
  .add(AccountApi)
  .add(CartApi)
  .add(OrdersApi)
  .add(AdminApi)
  .add(AnalyticsApi)
  .addError(RateLimited)
  .addError(ServiceUnavailable)
  .annotate(OpenApi.Title, "commerce-mesh gateway")
  .annotate(OpenApi.Version, "1.0.0")
  .annotate(
    OpenApi.Description,
    "The REST API of the commerce-mesh gateway. Money is integer minor units with an ISO 4217 currency. " +
      "No string may contain U+0000 (NUL): a request with one is answered 400.",
  ) {}

export const openApiDocument = OpenApi.fromApi(GatewayApi)
