/**
 * The gateway's HTTP application: rate limiting in front of every API route, the REST API mounted from
 * its HttpApi contract, the OpenAPI document and its docs page, and the health routes every service has.
 */
import { Effect, Runtime } from "effect"
import { Hono } from "hono"
import { json, makeHealthRoutes, retryAfterOf } from "../../src/http.ts"
import { makeRouteIndex } from "../../src/allowed-methods.ts"
import { mount, type ShortcutByUrl } from "../../src/http-api-hono.ts"
import { requestIdHeader } from "../../src/request-id.ts"
import { httpRecorder, rateLimited } from "../../src/metrics.ts"
import { type RedisClient, redisReady } from "../../src/redis.ts"
import { GatewayApi, openApiDocument } from "./api/index.ts"
import { guards } from "./auth.ts"
import { docsPage, docsScriptPath, docsScriptResponse, loadDocsScript } from "./docs-page.ts"
import { AccountHandlers, AuthHandlers } from "./handlers/account.ts"
import { AdminHandlers } from "./handlers/admin.ts"
import { AnalyticsHandlers } from "./handlers/analytics.ts"
import { CartHandlers } from "./handlers/cart.ts"
import { CatalogHandlers } from "./handlers/catalog.ts"
import { OrderHandlers } from "./handlers/orders.ts"
import type { GatewayServices } from "./handlers/implement.ts"
import { type RateDecision, RateLimiter } from "./rate-limit.ts"

/** The request's id comes from Bun's server (server.ts), which hono passes on as its env. */
export interface GatewayEnv {
  Bindings: { readonly requestId: string }
}

/** Paths the rate limit leaves alone: probes and scrapes must not be refused when a client floods. */
const unlimited = new Set(["/healthz", "/readyz", "/metrics"])

/** The path of an absolute URL, without building a URL object (the query, if any, cut off). */
const pathOf = (url: string) => {
  const start = url.indexOf("/", url.indexOf("://") + 3)
  if (start === -1) return "/"
  const query = url.indexOf("?", start)
  return query === -1 ? url.slice(start) : url.slice(start, query)
}

/**
 * The gateway as Bun.serve calls it: the request, its peer's address (asked for only when needed) and its id.
 * Every answer names the request it answers (`x-request-id`, src/request-id.ts): a cached read is built with
 * the header; any other answer gets it set once it is made (setting a header on a finished Response was 10 %
 * of the gateway's CPU on a cached read).
 */
export interface GatewayApp {
  readonly fetch: (
    request: Request,
    peer: (request: Request) => string,
    requestId: string,
  ) => Response | Promise<Response>
}

export const makeGatewayApp = Effect.gen(function* () {
  const runtime = yield* Effect.runtime<GatewayServices>()
  const runPromise = Runtime.runPromise(runtime)
  const limiter = yield* RateLimiter
  const health = yield* makeHealthRoutes<RedisClient>({ service: "gateway", checks: { redis: redisReady } })
  const openApiJson = JSON.stringify(openApiDocument)
  const docs = docsPage(openApiDocument.info.title)
  const docsScript = yield* Effect.cached(loadDocsScript)

  const record = httpRecorder("gateway")
  const app = new Hono<GatewayEnv>()

  const routes = makeRouteIndex()
  for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", docsScriptPath]) {
    routes.add("GET", path)
  }
  app.get("/healthz", async (c) => (await health(c.req.path)) ?? c.notFound())
  app.get("/readyz", async (c) => (await health(c.req.path)) ?? c.notFound())
  app.get("/metrics", async (c) => (await health(c.req.path)) ?? c.notFound())
  app.get("/openapi.json", () => new Response(openApiJson, { headers: { "content-type": "application/json" } }))
  app.get("/docs", () => new Response(docs, { headers: { "content-type": "text/html; charset=utf-8" } }))
  app.get(docsScriptPath, async (c) => docsScriptResponse(await runPromise(docsScript), c.req.raw))

  const shortcutsByUrl = new Map<string, ShortcutByUrl>()
  mount(app, GatewayApi, {
    shortcutsByUrl,
    runtime,
    groups: [
      CatalogHandlers,
      AuthHandlers,
      AccountHandlers,
      CartHandlers,
      OrderHandlers,
      AdminHandlers,
      AnalyticsHandlers,
    ],
    guards,
    onResponse: (route, method, status, seconds) => record(method, route, status, seconds),
    routes,
    requestIdOf: (c) => c.env.requestId,
  })

  app.notFound((c) => {
    const allow = routes.allowed(c.req.path)
    if (allow.length === 0) {
      return json({ _tag: "RouteNotFound", message: `no route ${c.req.method} ${c.req.path}` }, 404)
    }
    return json(
      { _tag: "MethodNotAllowed", allow, message: `${c.req.path} answers ${allow.join(", ")}, not ${c.req.method}` },
      405,
      { allow: allow.join(", ") },
    )
  })
  const refuse = (method: string, decision: RateDecision) => {
    const refusal = {
      _tag: "RateLimited",
      retryAfterSeconds: decision.retryAfterSeconds,
      message: "too many requests; slow down",
    }
    rateLimited.inc({ service: "gateway", method })
    return json(refusal, 429, retryAfterOf(refusal))
  }

  const tagged = (response: Response, requestId: string) => {
    response.headers.set(requestIdHeader, requestId)
    return response
  }
  const throughHono = (request: Request, requestId: string) => {
    const answer = app.fetch(request, { requestId })
    return answer instanceof Promise
      ? answer.then((response) => tagged(response, requestId))
      : tagged(answer, requestId)
  }
  const allowed = (request: Request, requestId: string, known: ShortcutByUrl | undefined, decided: RateDecision) => {
    if (!decided.allowed) return tagged(refuse(request.method, decided), requestId)
    return known?.(requestId) ?? throughHono(request, requestId)
  }
  // The rate limit runs before hono rather than as its middleware: a route with one handler and no
  // middleware is answered by hono synchronously, while any middleware puts every request through an
  // async chain (a cached read then costs two promises more).
  const fetch: GatewayApp["fetch"] = (request, peer, requestId) => {
    // A cached read of a URL hono has routed before is answered without routing it again (and is never
    // one of the unlimited paths, so its path need not be cut out of the URL).
    const known = request.method === "GET" ? shortcutsByUrl.get(request.url) : undefined
    if (known === undefined && unlimited.has(pathOf(request.url))) return throughHono(request, requestId)
    const decision = limiter.decide(limiter.keyOf(request, peer))
    return decision instanceof Promise
      ? decision.then((decided) => allowed(request, requestId, known, decided))
      : allowed(request, requestId, known, decision)
  }
  return { fetch } satisfies GatewayApp
})
