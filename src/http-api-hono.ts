/**
 * Serves an @effect/platform `HttpApi` through hono's router: the HttpApi is the REST contract (its
 * Schemas validate every request and give the OpenAPI document), hono does the routing and the
 * middleware, and each endpoint's handler is an Effect run on the caller's runtime.
 *
 * Why not HttpApiBuilder: on Bun, hono routes a request several times faster than Effect's HTTP server
 * (STACK-NOTES, bench/RESULTS.md), and the gateway's cached reads are the hot path of the whole mesh.
 *
 * Per endpoint, at start-up: decoders of path, query, body and headers; the success encoder and status;
 * the error statuses from the errors' `status` annotations. Per request: decode (a failure answers 400
 * with `HttpApiDecodeError`, the shape the OpenAPI document gives; so does a string with U+0000, which
 * no PostgreSQL-backed service can store), run the guards of the endpoint's
 * middleware (auth), run the handler, encode. A failure that no schema of the endpoint knows is a defect:
 * logged, and answered 500 without its details.
 */
import type { HttpApi, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import type { RouteIndex } from "./allowed-methods.ts"
import { retryAfterOf } from "./http.ts"
import { requestIdHeader, withRequestId } from "./request-id.ts"
import { HttpApi as Api, HttpApiError, HttpApiSchema } from "@effect/platform"
import type { Handler as HonoHandler, Env as HonoEnv, Context as HonoContext, Hono } from "hono"
import { Cause, Context, Fiber, Effect, Exit, Option, ParseResult, Runtime, Schema } from "effect"
import * as AST from "effect/SchemaAST"
import type { Simplify } from "effect/Types"

/** A body already encoded (a cache hit): sent as is, with the endpoint's success status unless told. */
export class PreparedJson {
  constructor(
    readonly body: string,
    readonly headers: Record<string, string> = {},
    readonly status?: number,
  ) {}
}

/** A success with response headers (e.g. `Location` for a 201). */
export class WithHeaders<A> {
  constructor(
    readonly value: A,
    readonly headers: Record<string, string>,
  ) {}
}

/** What a handler gets: the decoded parts its endpoint declares. */
export type EndpointRequest<E extends HttpApiEndpoint.HttpApiEndpoint.Any> = Simplify<
  ([HttpApiEndpoint.HttpApiEndpoint.PathParsed<E>] extends [never]
    ? {}
    : { readonly path: HttpApiEndpoint.HttpApiEndpoint.PathParsed<E> }) &
    ([HttpApiEndpoint.HttpApiEndpoint.UrlParams<E>] extends [never]
      ? {}
      : { readonly urlParams: HttpApiEndpoint.HttpApiEndpoint.UrlParams<E> }) &
    ([HttpApiEndpoint.HttpApiEndpoint.Payload<E>] extends [never]
      ? {}
      : { readonly payload: HttpApiEndpoint.HttpApiEndpoint.Payload<E> }) &
    ([HttpApiEndpoint.HttpApiEndpoint.Headers<E>] extends [never]
      ? {}
      : { readonly headers: HttpApiEndpoint.HttpApiEndpoint.Headers<E> }) & { readonly raw: Request }
>

type Handler<E extends HttpApiEndpoint.HttpApiEndpoint.Any, Err, R> = (
  request: EndpointRequest<E>,
) => Effect.Effect<
  HttpApiEndpoint.HttpApiEndpoint.Success<E> | WithHeaders<HttpApiEndpoint.HttpApiEndpoint.Success<E>> | PreparedJson,
  HttpApiEndpoint.HttpApiEndpoint.Error<E> | Err,
  R
>

/** One handler per endpoint of the group; each may fail with its endpoint's, its group's or the api's errors. */
export type GroupHandlers<G extends HttpApiGroup.HttpApiGroup.Any, ApiError, R> = {
  readonly [Name in HttpApiEndpoint.HttpApiEndpoint.Name<HttpApiGroup.HttpApiGroup.Endpoints<G>>]: Handler<
    HttpApiEndpoint.HttpApiEndpoint.WithName<HttpApiGroup.HttpApiGroup.Endpoints<G>, Name>,
    HttpApiGroup.HttpApiGroup.Error<G> | ApiError,
    R
  >
}

/**
 * An optional synchronous answer for a public GET endpoint, tried before its handler with the same
 * decoded request: a cache hit answered with no Effect run at all. Given the runtime's services once.
 */
export type Shortcut<E extends HttpApiEndpoint.HttpApiEndpoint.Any, R> = (
  services: Context.Context<R>,
) => (request: Omit<EndpointRequest<E>, "raw">) => PreparedJson | undefined

export type GroupShortcuts<G extends HttpApiGroup.HttpApiGroup.Any, R> = {
  readonly [Name in HttpApiEndpoint.HttpApiEndpoint.Name<HttpApiGroup.HttpApiGroup.Endpoints<G>>]?: Shortcut<
    HttpApiEndpoint.HttpApiEndpoint.WithName<HttpApiGroup.HttpApiGroup.Endpoints<G>, Name>,
    R
  >
}

interface ImplementedGroup<R> {
  readonly group: string
  readonly handlers: Record<string, (request: never) => Effect.Effect<unknown, unknown, R>>
  readonly shortcuts: Record<string, (services: Context.Context<never>) => (request: never) => PreparedJson | undefined>
}

/**
 * The handlers of one group of `api`, checked against its endpoints' Schemas; `R` names the services
 * the handlers may use (the runtime's and the guards'), so a handler needing anything else fails to compile.
 */
export const implement =
  <R>() =>
  <
    Id extends string,
    Groups extends HttpApiGroup.HttpApiGroup.Any,
    E,
    RApi,
    const Name extends HttpApiGroup.HttpApiGroup.Name<Groups>,
  >(
    _api: HttpApi.HttpApi<Id, Groups, E, RApi>,
    group: Name,
    handlers: GroupHandlers<HttpApiGroup.HttpApiGroup.WithName<Groups, Name>, E, R>,
    shortcuts: GroupShortcuts<HttpApiGroup.HttpApiGroup.WithName<Groups, Name>, R> = {},
  ): ImplementedGroup<R> => ({
    group,
    handlers: handlers as unknown as ImplementedGroup<R>["handlers"],
    shortcuts: shortcuts as unknown as ImplementedGroup<R>["shortcuts"],
  })

/**
 * A guard implements one HttpApiMiddleware (its security scheme is in the OpenAPI document): it reads
 * the raw request and provides the middleware's service to the handler, or fails with the middleware's
 * declared failure.
 */
/** What a guard needs of an HttpApiMiddleware tag: its key and its declared failure. */
export interface MiddlewareTag {
  readonly key: string
  readonly failure: Schema.Schema.All
}

export interface Guard<R, Provides> {
  readonly middleware: MiddlewareTag
  readonly check: (request: Request) => Effect.Effect<Context.Context<Provides>, unknown, R>
}

export const guard = <I, S, F, R>(
  middleware: MiddlewareTag,
  tag: Context.Tag<I, S>,
  check: (request: Request) => Effect.Effect<S, F, R>,
): Guard<R, I> => ({
  middleware,
  check: (request) => Effect.map(check(request), (service) => Context.make(tag, service)),
})

interface ErrorCase {
  readonly status: number
  readonly is: (u: unknown) => boolean
  readonly encode: (u: unknown) => Effect.Effect<unknown, ParseResult.ParseError>
}

const errorCase = (ast: AST.AST, status: number): ErrorCase => {
  const schema = Schema.make(ast)
  return { status, is: Schema.is(schema), encode: Schema.encodeUnknown(schema) }
}

/** One case per member of a union of errors, each with its own status. */
const errorCases = (ast: AST.AST): ReadonlyArray<ErrorCase> =>
  AST.isUnion(ast) ? ast.types.flatMap(errorCases) : [errorCase(ast, HttpApiSchema.getStatusErrorAST(ast))]

const json = (body: string, status: number, headers?: Record<string, string>) =>
  new Response(body, { status, headers: { "content-type": "application/json", ...headers } })

const decodeErrorCase = errorCase(HttpApiError.HttpApiDecodeError.ast, 400)

/** A query string as HttpApi decodes it: one value as a string, a repeated key as an array. */
const queryOf = <Env extends HonoEnv>(c: HonoContext<Env>) => {
  const all = c.req.queries()
  const out: Record<string, string | ReadonlyArray<string>> = {}
  for (const [key, values] of Object.entries(all)) out[key] = values.length === 1 ? (values[0] ?? "") : values
  return out
}

const maxRememberedUrls = 10_000

/** A decoder without Effect, for the shortcut path; a failure just means "take the full path". */
const syncDecoder = <A, I, R>(schema: Schema.Schema<A, I, R>) =>
  Schema.decodeUnknownOption(schema as Schema.Schema<A, I, never>)

const optionalDecoder = <A, I, R>(schema: Option.Option<Schema.Schema<A, I, R>>) =>
  Option.map(schema, (s) => withoutNul(Schema.decodeUnknown(s as Schema.Schema<A, I, never>)))

/** The body as JSON; an empty body is `{}` so a schema with only optional fields accepts it. */
const readJson = (request: Request) =>
  Effect.tryPromise({
    try: async () => {
      const text = await request.text()
      return text.length === 0 ? {} : (JSON.parse(text) as unknown)
    },
    catch: () =>
      new ParseResult.ParseError({
        issue: new ParseResult.Type(Schema.Unknown.ast, "<body>", "the body is not valid JSON"),
      }),
  })

/**
 * Where `input` holds a string (a value or a key) with U+0000. PostgreSQL's text cannot store that
 * character, so a service handed one fails on its INSERT: such input is refused here as a bad request.
 */
const nulAt = (input: unknown, path: ReadonlyArray<PropertyKey> = []): ReadonlyArray<PropertyKey> | undefined => {
  if (typeof input === "string") return input.includes("\u0000") ? path : undefined
  if (Array.isArray(input)) {
    for (let i = 0; i < input.length; i++) {
      const found = nulAt(input[i], [...path, i])
      if (found !== undefined) return found
    }
    return undefined
  }
  if (typeof input === "object" && input !== null) {
    for (const [key, value] of Object.entries(input)) {
      const found = key.includes("\u0000") ? [...path, key] : nulAt(value, [...path, key])
      if (found !== undefined) return found
    }
  }
  return undefined
}

/** `decode` after refusing input with U+0000 (see `nulAt`) with the decode failure's own shape. */
const withoutNul =
  <A>(decode: (input: unknown) => Effect.Effect<A, ParseResult.ParseError>) =>
  (input: unknown): Effect.Effect<A, ParseResult.ParseError> => {
    const path = nulAt(input)
    if (path === undefined) return decode(input)
    const issue = new ParseResult.Type(Schema.String.ast, input, "U+0000 (NUL) is not allowed in text")
    const [head, ...tail] = path
    const at = head === undefined ? issue : new ParseResult.Pointer([head, ...tail], input, issue)
    return Effect.fail(new ParseResult.ParseError({ issue: at }))
  }

export interface MountOptions<R, Provides, Env extends HonoEnv = HonoEnv> {
  readonly runtime: Runtime.Runtime<R>
  readonly groups: ReadonlyArray<ImplementedGroup<NoInfer<R> | NoInfer<Provides>>>
  readonly guards: ReadonlyArray<Guard<NoInfer<R>, Provides>>
  /** Called with each answer, e.g. to record metrics per route. */
  readonly onResponse?: (route: string, method: string, status: number, seconds: number) => void
  /** Told every route mounted (for 405 answers, src/allowed-methods.ts). */
  readonly routes?: RouteIndex
  /** The request's id (src/request-id.ts): its guards and handler run under it. */
  readonly requestIdOf?: (c: HonoContext<Env>) => string
  /**
   * Filled with the GET URLs hono has routed to an endpoint with a shortcut, each with the shortcut's answer
   * for a request id (undefined when it has none, a cache miss): the app may answer such a URL before hono
   * routes it again. Routing is a pure function of the URL, and a shop front asks the same few again and again.
   */
  readonly shortcutsByUrl?: Map<string, ShortcutByUrl>
}

/** A remembered URL's answer from its endpoint's shortcut, for a request id; undefined when it has none. */
export type ShortcutByUrl = (requestId: string | undefined) => Response | undefined

/** Adds a hono route for every endpoint of `api`. Fails at start-up when an endpoint has no handler. */
export const mount = <
  Id extends string,
  Groups extends HttpApiGroup.HttpApiGroup.Any,
  E,
  RApi,
  R,
  Provides,
  Env extends HonoEnv,
>(
  app: Hono<Env>,
  api: HttpApi.HttpApi<Id, Groups, E, RApi>,
  options: MountOptions<R, Provides, Env>,
) => {
  const respond = responder(options.runtime)
  const groupsByName = new Map(options.groups.map((g) => [g.group, g]))
  const guards = new Map(options.guards.map((g) => [g.middleware.key, g]))

  Api.reflect(api, {
    onGroup: () => {},
    onEndpoint: ({ group, endpoint, middleware, successes, errors }) => {
      const implemented = groupsByName.get(group.identifier)
      const handler = implemented?.handlers[endpoint.name]
      if (handler === undefined) throw new Error(`no handler for ${group.identifier}.${endpoint.name}`)
      const route = endpoint.path
      const method = endpoint.method
      const [successStatus, success] = [...successes.entries()][0] ?? [200, { ast: Option.none() }]
      const encodeSuccess = Option.match(success.ast, {
        onNone: () => () => Effect.succeed(undefined),
        onSome: (ast) => Schema.encodeUnknown(Schema.make(ast)),
      })
      const endpointErrors: Array<ErrorCase> = []
      for (const [status, { ast }] of errors) if (Option.isSome(ast)) endpointErrors.push(errorCase(ast.value, status))
      const endpointGuards: Array<{ guard: Guard<R, Provides>; failures: ReadonlyArray<ErrorCase> }> = []
      for (const tag of middleware) {
        const found = guards.get(tag.key)
        if (found === undefined) throw new Error(`no guard for middleware ${tag.key} on ${endpoint.name}`)
        endpointGuards.push({ guard: found, failures: errorCases(tag.failure.ast) })
      }
      const decodePath = optionalDecoder(endpoint.pathSchema)
      const decodeQuery = optionalDecoder(endpoint.urlParamsSchema)
      const decodeHeaders = optionalDecoder(endpoint.headersSchema)
      const decodePayload = optionalDecoder(endpoint.payloadSchema)
      const payloadFromQuery = method === "GET" || method === "HEAD" || method === "DELETE"
      const shortcut =
        method === "GET" && endpointGuards.length === 0 && Option.isNone(endpoint.payloadSchema)
          ? implemented?.shortcuts[endpoint.name]?.(options.runtime.context as Context.Context<never>)
          : undefined
      const syncPath = Option.map(endpoint.pathSchema, syncDecoder)
      const syncQuery = Option.map(endpoint.urlParamsSchema, syncDecoder)
      /** The shortcut's answer, when the request decodes and the shortcut has one; else the full path. */
      /** The decoded path and query of a URL, or undefined when it does not decode. */
      const decodeForShortcut = (c: HonoContext<Env>): Record<string, unknown> | undefined => {
        const decoded: Record<string, unknown> = {}
        if (Option.isSome(syncPath)) {
          const path = syncPath.value(c.req.param())
          if (Option.isNone(path) || nulAt(c.req.param()) !== undefined) return undefined
          decoded.path = path.value
        }
        if (Option.isSome(syncQuery)) {
          const input = queryOf(c)
          const query = syncQuery.value(input)
          if (Option.isNone(query) || nulAt(input) !== undefined) return undefined
          decoded.urlParams = query.value
        }
        return decoded
      }
      // Decoding is a pure function of the URL, and a shop front asks the same few URLs again and again.
      const decodedUrls = new Map<string, Record<string, unknown>>()
      const tryShortcut = (c: HonoContext<Env>): PreparedJson | undefined => {
        if (shortcut === undefined || Option.isSome(endpoint.headersSchema)) return undefined
        const url = c.req.url
        let decoded = decodedUrls.get(url)
        if (decoded === undefined) {
          decoded = decodeForShortcut(c)
          if (decoded === undefined) return undefined
          if (decodedUrls.size >= maxRememberedUrls) decodedUrls.clear()
          decodedUrls.set(url, decoded)
          if (method === "GET") rememberRoute(url, shortcut, decoded)
        }
        // The decoded URL as it is remembered, without the raw request: a shortcut answers from the URL alone.
        return shortcut(decoded as never)
      }

      const failWith = (cases: ReadonlyArray<ErrorCase>, error: unknown) =>
        Effect.gen(function* () {
          const match = cases.find((c) => c.is(error))
          if (match === undefined) return yield* Effect.die(error)
          const body = yield* match.encode(error).pipe(Effect.orDie)
          return json(JSON.stringify(body), match.status, retryAfterOf(body))
        })

      const answer = (c: HonoContext<Env>) =>
        Effect.gen(function* () {
          const raw = c.req.raw
          const request: Record<string, unknown> = { raw }
          const decoded = Effect.gen(function* () {
            if (Option.isSome(decodePath)) request.path = yield* decodePath.value(c.req.param())
            if (Option.isSome(decodeQuery)) request.urlParams = yield* decodeQuery.value(queryOf(c))
            if (Option.isSome(decodeHeaders)) request.headers = yield* decodeHeaders.value(c.req.header())
            if (Option.isSome(decodePayload)) {
              const input = payloadFromQuery ? queryOf(c) : yield* readJson(raw)
              request.payload = yield* decodePayload.value(input)
            }
          })
          const decodeFailure = yield* Effect.flip(decoded).pipe(Effect.option)
          if (Option.isSome(decodeFailure)) {
            const error = yield* HttpApiError.HttpApiDecodeError.fromParseError(decodeFailure.value)
            return yield* failWith([decodeErrorCase], error)
          }
          // An endpoint without guards gets no guard-provided services; `implement` typed its handler with them
          // all, so the checks here are what keeps a public handler from reading CurrentUser (it would die).
          let context = Context.empty() as Context.Context<Provides>
          for (const { guard: g, failures } of endpointGuards) {
            const checked = yield* Effect.either(g.check(raw))
            if (checked._tag === "Left") return yield* failWith(failures, checked.left)
            context = Context.merge(context, checked.right)
          }
          const outcome = yield* Effect.either(
            Effect.provide(handler(request as never), context) as Effect.Effect<unknown, unknown, R>,
          )
          if (outcome._tag === "Left") return yield* failWith(endpointErrors, outcome.left)
          const value = outcome.right
          if (value instanceof PreparedJson) return json(value.body, value.status ?? successStatus, value.headers)
          const [body, headers] = value instanceof WithHeaders ? [value.value, value.headers] : [value, {}]
          const encoded = yield* encodeSuccess(body).pipe(Effect.orDie)
          if (encoded === undefined) return new Response(null, { status: successStatus, headers })
          return json(JSON.stringify(encoded), successStatus, headers)
        }).pipe(
          Effect.catchAllCause((cause) =>
            Effect.logError("request failed with a defect", cause).pipe(
              Effect.annotateLogs({ route, method }),
              Effect.as(internalError()),
            ),
          ),
        )

      const observed = (started: number, response: Response) => {
        options.onResponse?.(route, method, response.status, (performance.now() - started) / 1000)
        return response
      }
      // The shortcut's answer allocates only what it must: one headers object, the Response.
      const quickAnswer = (quick: PreparedJson, requestId: string | undefined) => {
        const status = quick.status ?? successStatus
        if (requestId === undefined) return json(quick.body, status, quick.headers)
        const headers = { "content-type": "application/json", ...quick.headers, [requestIdHeader]: requestId }
        return new Response(quick.body, { status, headers })
      }
      const rememberRoute = (
        url: string,
        answer: (request: never) => PreparedJson | undefined,
        decoded: Record<string, unknown>,
      ) => {
        const byUrl = options.shortcutsByUrl
        if (byUrl === undefined) return
        if (byUrl.size >= maxRememberedUrls) byUrl.clear()
        byUrl.set(url, (requestId) => {
          const started = performance.now()
          const quick = answer(decoded as never)
          return quick === undefined ? undefined : observed(started, quickAnswer(quick, requestId))
        })
      }
      const handle: HonoHandler<Env> = (c) => {
        const started = performance.now()
        const quick = tryShortcut(c)
        const requestId = options.requestIdOf?.(c)
        if (quick !== undefined) return observed(started, quickAnswer(quick, requestId))
        const response = respond(requestId === undefined ? answer(c) : withRequestId(requestId)(answer(c)))
        return response instanceof Response ? observed(started, response) : response.then((r) => observed(started, r))
      }
      app.on(method, route, handle)
      options.routes?.add(method, route)
    },
  })
}

/**
 * Runs an answer synchronously as far as it goes: a request that needs no I/O (a cache hit) is answered
 * without a trip through the scheduler and a Promise, which is most of the cost of a cached read. One
 * that waits on I/O goes on in its fiber and is answered when the fiber ends.
 */
const responder = <R>(runtime: Runtime.Runtime<R>) => {
  const runSync = Runtime.runSyncExit(runtime)
  const runPromise = Runtime.runPromiseExit(runtime)
  return (answer: Effect.Effect<Response, never, R>): Response | Promise<Response> => {
    const exit = runSync(answer)
    if (Exit.isSuccess(exit)) return exit.value
    const defect = Cause.dieOption(exit.cause)
    if (Option.isSome(defect) && Runtime.isAsyncFiberException(defect.value)) {
      const fiber = defect.value.fiber as Fiber.RuntimeFiber<Response>
      return runPromise(Fiber.join(fiber)).then((joined) => (Exit.isSuccess(joined) ? joined.value : internalError()))
    }
    return internalError()
  }
}

/** A defect's details stay in the log; the client learns only that it was not its fault. */
const internalError = () => json(JSON.stringify({ _tag: "InternalError", message: "internal error" }), 500)
