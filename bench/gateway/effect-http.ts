/**
 * The road not taken: the same two routes declared as an HttpApi and served by Effect's own HTTP stack
 * (HttpApiBuilder on Bun), answering the same cached bytes as the gateway does on a hit. It shows what
 * serving the gateway's contract with HttpApiBuilder instead of hono would cost on the hot path.
 *
 *   bun run bench/gateway/effect-http.ts <port> <answers.json>
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpServerResponse } from "@effect/platform"
import { BunHttpServer, BunRuntime } from "@effect/platform-bun"
import { Effect, Layer, Schema } from "effect"
import { ProductPage, ProductId } from "../../rpc/catalog.ts"
import { ProductDetail, ProductListQuery } from "../../services/gateway/api/catalog.ts"

const [port, file] = process.argv.slice(2)
const answers: Record<string, string> = await Bun.file(file ?? "").json()
const listingBody = Object.entries(answers).find(([path]) => path.startsWith("/products?"))?.[1] ?? ""
const detailBody = Object.entries(answers).find(([path]) => !path.startsWith("/products?"))?.[1] ?? ""

class Catalog extends HttpApiGroup.make("catalog")
  .add(HttpApiEndpoint.get("listProducts", "/products").setUrlParams(ProductListQuery).addSuccess(ProductPage))
  .add(
    HttpApiEndpoint.get("getProduct", "/products/:id")
      .setPath(Schema.Struct({ id: ProductId }))
      .addSuccess(ProductDetail),
  ) {}
class Api extends HttpApi.make("bench").add(Catalog) {}

const cached = (body: string) => Effect.succeed(HttpServerResponse.text(body, { contentType: "application/json" }))

const CatalogLive = HttpApiBuilder.group(Api, "catalog", (handlers) =>
  handlers.handle("listProducts", () => cached(listingBody)).handle("getProduct", () => cached(detailBody)),
)

const Server = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.api(Api).pipe(Layer.provide(CatalogLive))),
  Layer.provide(BunHttpServer.layer({ port: Number(port), hostname: "127.0.0.1" })),
)

BunRuntime.runMain(Layer.launch(Server))
