/**
 * A direct RPC client and server for groups of plain request/response methods: the same wire messages
 * and Schemas as @effect/rpc (an RpcClient can call this server and the other way round), without
 * RpcClient.make / RpcServer.make's per-call fibers.
 *
 * Per call the client runs no fiber of its own: the caller's fiber waits in `Effect.async` and is
 * resumed from the connection's message callback with the decoded Exit. The server runs one fiber
 * per call, the handler's. Payloads and Exits go through the contract's Schemas synchronously, so
 * typed errors arrive as their classes and invalid payloads are refused on both sides.
 *
 * Not covered here (src/rpc/index.ts falls back to the stock client and server for such groups): streaming
 * methods, RpcMiddleware, per-call headers.
 */
import * as Headers from "@effect/platform/Headers"
import { Rpc, type RpcClient, RpcClientError, type RpcGroup, RpcSchema, RpcServer } from "@effect/rpc"
import type { FromClientEncoded, FromServerEncoded, RequestEncoded } from "@effect/rpc/RpcMessage"
import { currentRequestId, requestIdHeader, withRequestId } from "../request-id.ts"
import {
  Context,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  FiberId,
  ParseResult,
  Runtime,
  Schema,
  SchemaAST as AST,
  type Scope,
  Tracer,
} from "effect"
import type { ServiceName } from "../config.ts"
import { outcomeOf, type RpcObserver } from "./observe.ts"
import { type ClientConnection, type ConnectOptions, connect, listen } from "./transport.ts"

/** True when every method of the group is plain request/response without middleware. */
export const supportsDirect = (group: RpcGroup.RpcGroup<Rpc.Any>): boolean => {
  for (const rpc of group.requests.values()) {
    const props = rpc as unknown as Rpc.AnyWithProps
    if (RpcSchema.isStreamSchema(props.successSchema) || props.middlewares.size > 0) return false
  }
  return true
}

type AnySchema = Schema.Schema<unknown, unknown, never>

interface Codecs {
  readonly rpc: Rpc.AnyWithProps
  /** The payload schema's constructor, as RpcClient applies it (validates, builds classes). */
  readonly makePayload: (u: unknown) => unknown
  readonly decodePayload: (u: unknown) => Either.Either<unknown, ParseResult.ParseError>
  readonly encodePayload: (u: unknown) => Either.Either<unknown, ParseResult.ParseError>
  readonly decodeExit: (u: unknown) => Either.Either<Exit.Exit<unknown, unknown>, ParseResult.ParseError>
  readonly encodeExit: (u: Exit.Exit<unknown, unknown>) => Either.Either<unknown, ParseResult.ParseError>
}

/**
 * Successes are most calls, and the full Exit schema (Cause, defects, the error union) is the costliest
 * part of a call: a Success goes through the success schema alone, in the same encoded shape
 * (`{ _tag: "Success", value }`) that the Exit schema gives it.
 */
const fastExitCodecs = (
  success: AnySchema,
  full: Schema.Schema<Exit.Exit<unknown, unknown>, unknown, never>,
): Pick<Codecs, "decodeExit" | "encodeExit"> => {
  const decodeSuccess = Schema.decodeUnknownEither(success)
  const encodeSuccess = Schema.encodeUnknownEither(success)
  const decodeFull = Schema.decodeUnknownEither(full)
  const encodeFull = Schema.encodeUnknownEither(full) as Codecs["encodeExit"]
  return {
    decodeExit: (u) => {
      if (typeof u === "object" && u !== null && "_tag" in u && u._tag === "Success" && "value" in u) {
        return Either.map(decodeSuccess(u.value), Exit.succeed)
      }
      return decodeFull(u)
    },
    encodeExit: (exit) =>
      Exit.isSuccess(exit)
        ? Either.map(encodeSuccess(exit.value), (value) => ({ _tag: "Success", value }))
        : encodeFull(exit),
  }
}

const codecsOf = (group: RpcGroup.RpcGroup<Rpc.Any>): Map<string, Codecs> => {
  const codecs = new Map<string, Codecs>()
  for (const rpc of group.requests.values()) {
    const props = rpc as unknown as Rpc.AnyWithProps
    const payload = props.payloadSchema as unknown as AnySchema
    const exit = Rpc.exitSchema(rpc) as unknown as Schema.Schema<Exit.Exit<unknown, unknown>, unknown, never>
    // A plain struct payload is validated by its encoding; `make` matters for class payloads (it builds the
    // instance their encoding expects), as RpcClient applies it.
    const make = AST.isTypeLiteral(payload.ast)
      ? undefined
      : (props.payloadSchema as { readonly make?: (u: unknown) => unknown }).make
    codecs.set(rpc._tag, {
      rpc: props,
      makePayload: make === undefined ? (u) => u : (u) => make(u),
      decodePayload: Schema.decodeUnknownEither(payload),
      encodePayload: Schema.encodeUnknownEither(payload),
      ...fastExitCodecs(props.successSchema as unknown as AnySchema, exit),
    })
  }
  return codecs
}

const encodeDefect = Schema.encodeSync(Schema.Defect)
const decodeDefect = Schema.decodeSync(Schema.Defect)

// ---------------------------------------------------------------------------------------------------
// Client

/** The client of a group: every method fails with the group's typed errors or `RpcClientError`. */
export type RpcClientOf<Rpcs extends Rpc.Any> = RpcClient.RpcClient<Rpcs, RpcClientError.RpcClientError>

type Resume = (exit: Exit.Exit<unknown, unknown>) => void

/**
 * A client object shaped like RpcClient.make's (one method per rpc, `Prefix.Method` tags nested),
 * over a connection made with `options`. The connection closes with the scope.
 */
export const makeDirectClient = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>,
  options: ConnectOptions & {
    readonly tracing: boolean
    readonly spanPrefix: string
    /** Fails a call with RpcClientError when its answer takes longer (and tells the server to stop it). */
    readonly timeout?: Duration.DurationInput | undefined
  },
): Effect.Effect<RpcClientOf<Rpcs>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const codecs = codecsOf(group as unknown as RpcGroup.RpcGroup<Rpc.Any>)
    const pending = new Map<string, { readonly codecs: Codecs; readonly resume: Resume }>()
    const timeoutMillis = options.timeout === undefined ? undefined : Duration.toMillis(options.timeout)
    let nextId = 0

    const failAll = (exit: Exit.Exit<never, unknown>) => {
      const entries = [...pending.values()]
      pending.clear()
      for (const entry of entries) entry.resume(exit)
    }

    const onMessage = (message: FromServerEncoded) => {
      switch (message._tag) {
        case "Exit": {
          const entry = pending.get(message.requestId)
          if (entry === undefined) return
          pending.delete(message.requestId)
          const decoded = entry.codecs.decodeExit(message.exit)
          entry.resume(Either.isRight(decoded) ? decoded.right : Exit.die(decoded.left))
          return
        }
        case "Defect": {
          failAll(Exit.die(decodeDefect(message.defect)))
          return
        }
        default:
          return
      }
    }

    const connection: ClientConnection = yield* connect({
      ...options,
      onMessages: (messages) => {
        for (const message of messages) onMessage(message)
      },
      onDrop: (error) => failAll(Exit.fail(error)),
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => failAll(Exit.interrupt(FiberId.none))))

    const call = (entry: Codecs, payload: unknown, span: Tracer.Span | undefined) =>
      Effect.withFiberRuntime<unknown, unknown>((fiber) => {
        const requestId = fiber.getFiberRef(currentRequestId)
        return send(entry, payload, span, requestId === undefined ? [] : [[requestIdHeader, requestId]])
      })

    const send = (
      entry: Codecs,
      payload: unknown,
      span: Tracer.Span | undefined,
      headers: ReadonlyArray<[string, string]>,
    ) =>
      Effect.async<unknown, unknown>((resume) => {
        let made: unknown
        try {
          made = entry.makePayload(payload)
        } catch (defect) {
          return resume(Effect.die(defect))
        }
        const encoded = entry.encodePayload(made)
        if (Either.isLeft(encoded)) return resume(Effect.die(encoded.left))
        const id = String(nextId++)
        const request: RequestEncoded = {
          _tag: "Request",
          id,
          tag: entry.rpc._tag,
          payload: encoded.right,
          headers,
          ...(span === undefined ? {} : { traceId: span.traceId, spanId: span.spanId, sampled: span.sampled }),
        }
        const refused = connection.send(request)
        if (refused !== undefined) return resume(Effect.fail(refused))
        if (timeoutMillis === undefined) {
          pending.set(id, { codecs: entry, resume })
        } else {
          // A plain timer: Effect.timeout would fork a fiber per call.
          const timer = setTimeout(() => {
            if (!pending.delete(id)) return
            connection.send({ _tag: "Interrupt", requestId: id })
            resume(
              Effect.fail(
                new RpcClientError.RpcClientError({
                  reason: "Protocol",
                  message: `RPC call ${entry.rpc._tag} timed out after ${timeoutMillis} ms`,
                }),
              ),
            )
          }, timeoutMillis)
          pending.set(id, {
            codecs: entry,
            resume: (exit) => {
              clearTimeout(timer)
              resume(exit)
            },
          })
        }
        return Effect.sync(() => {
          if (pending.delete(id)) connection.send({ _tag: "Interrupt", requestId: id })
        })
      })

    return clientOf<Rpcs, typeof codecs extends Map<string, infer C> ? C : never>(codecs.values(), (entry) => {
      const name = `${options.spanPrefix}.${entry.rpc._tag}`
      return !options.tracing
        ? (payload: unknown) => call(entry, payload, undefined)
        : (payload: unknown) =>
            Effect.useSpan(name, { captureStackTrace: false, kind: "client" }, (span) => call(entry, payload, span))
    })
  })

// ---------------------------------------------------------------------------------------------------
// Server

/**
 * Serves `group` on `hostname:port` (WebSocket upgrades on `path`) until the scope closes, calling the
 * handlers found in the context (`group.toLayer(...)`).
 */
export const serveDirect = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>,
  options: {
    readonly hostname: string
    readonly port: number
    readonly path: string
    readonly serialization: Parameters<typeof listen>[0]["serialization"]
    readonly service: ServiceName
    readonly spanPrefix: string
    readonly tracing: boolean
    readonly observe?: RpcObserver | undefined
  },
): Effect.Effect<void, never, Scope.Scope | Rpc.ToHandler<Rpcs> | Rpc.Context<Rpcs>> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<Scope.Scope | Rpc.ToHandler<Rpcs> | Rpc.Context<Rpcs>>()
    const codecs = codecsOf(group as unknown as RpcGroup.RpcGroup<Rpc.Any>)
    const serverRuntime = yield* Effect.runtime<never>()

    interface Method {
      readonly codecs: Codecs
      readonly handler: Rpc.Handler<string>
      readonly runFork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.RuntimeFiber<A, E>
    }
    const methods = new Map<string, Method>()
    for (const [tag, entry] of codecs) {
      const handler = context.unsafeMap.get(entry.rpc.key) as Rpc.Handler<string> | undefined
      if (handler === undefined) continue
      const runtime = Runtime.make({
        context: Context.merge(serverRuntime.context, handler.context),
        fiberRefs: serverRuntime.fiberRefs,
        runtimeFlags: serverRuntime.runtimeFlags,
      })
      methods.set(tag, { codecs: entry, handler, runFork: Runtime.runFork(runtime) })
    }

    /** The calls running per client, to interrupt them on an Interrupt message or a disconnect. */
    const running = new Map<number, Map<string, Fiber.RuntimeFiber<unknown, unknown>>>()

    const dieExit = (requestId: string, defect: unknown): FromServerEncoded => ({
      _tag: "Exit",
      requestId,
      exit: { _tag: "Failure", cause: { _tag: "Die", defect: encodeDefect(defect) } },
    })

    const onRequest = (clientId: number, request: RequestEncoded) => {
      const method = methods.get(request.tag)
      if (method === undefined) {
        listener.send(clientId, { _tag: "Defect", defect: encodeDefect(`Unknown request tag: ${request.tag}`) })
        return
      }
      const requestId = String(request.id)
      const payload = method.codecs.decodePayload(request.payload)
      if (Either.isLeft(payload)) {
        listener.send(clientId, dieExit(requestId, ParseResult.TreeFormatter.formatErrorSync(payload.left)))
        return
      }
      let effect: Effect.Effect<unknown, unknown>
      try {
        const result = method.handler.handler(payload.right, { clientId, headers: Headers.fromInput(request.headers) })
        effect = (Rpc.isWrapper(result as object) ? (result as unknown as Rpc.Wrapper<unknown>).value : result) as never
      } catch (defect) {
        // A handler that throws instead of returning an Effect fails its own call only.
        listener.send(clientId, dieExit(requestId, defect))
        return
      }
      const forRequest = request.headers.find(([name]) => name === requestIdHeader)?.[1]
      if (forRequest !== undefined) effect = withRequestId(forRequest)(effect)
      if (options.tracing) {
        effect = Effect.withSpan(effect, `${options.spanPrefix}.${request.tag}`, {
          captureStackTrace: false,
          kind: "server",
          attributes: { requestId },
          ...(request.spanId !== undefined && request.traceId !== undefined
            ? {
                parent: Tracer.externalSpan({
                  traceId: request.traceId,
                  spanId: request.spanId,
                  sampled: request.sampled ?? true,
                }),
              }
            : {}),
        })
      }
      const started = options.observe === undefined ? 0 : performance.now()
      const fiber = method.runFork(effect)
      let calls = running.get(clientId)
      if (calls === undefined) {
        calls = new Map()
        running.set(clientId, calls)
      }
      calls.set(requestId, fiber)
      fiber.addObserver((exit) => {
        running.get(clientId)?.delete(requestId)
        options.observe?.({
          service: options.service,
          method: request.tag,
          outcome: outcomeOf(exit),
          seconds: (performance.now() - started) / 1000,
        })
        const encoded = method.codecs.encodeExit(exit)
        listener.send(
          clientId,
          Either.isRight(encoded)
            ? { _tag: "Exit", requestId, exit: encoded.right as never }
            : dieExit(requestId, ParseResult.TreeFormatter.formatErrorSync(encoded.left)),
        )
      })
    }

    const onMessage = (clientId: number, message: FromClientEncoded) => {
      switch (message._tag) {
        case "Request":
          return onRequest(clientId, message)
        case "Interrupt":
          running.get(clientId)?.get(message.requestId)?.unsafeInterruptAsFork(RpcServer.fiberIdClientInterrupt)
          return
        case "Ping":
          listener.send(clientId, { _tag: "Pong" })
          return
        default:
          return
      }
    }

    const interruptClient = (clientId: number) => {
      const calls = running.get(clientId)
      running.delete(clientId)
      if (calls === undefined) return
      for (const fiber of calls.values()) fiber.unsafeInterruptAsFork(RpcServer.fiberIdTransientInterrupt)
    }

    const listener = yield* listen({
      hostname: options.hostname,
      port: options.port,
      path: options.path,
      serialization: options.serialization,
      onMessages: (clientId, messages) => {
        for (const message of messages) {
          try {
            onMessage(clientId, message)
          } catch (defect) {
            listener.send(clientId, { _tag: "Defect", defect: encodeDefect(defect) })
          }
        }
      },
      onClose: interruptClient,
    })
    // On shutdown the calls in flight finish and answer before the connections close (the listener's
    // finalizer runs after this one); what is still running after the drain deadline is interrupted.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        const inFlight = [...running.values()].flatMap((calls) => [...calls.values()])
        if (inFlight.length > 0) {
          yield* Fiber.awaitAll(inFlight).pipe(Effect.timeout(drainDeadline), Effect.ignore)
          // Answers are batched per tick: let the last ones reach their sockets.
          yield* Effect.sleep("20 millis")
        }
        for (const clientId of [...running.keys()]) interruptClient(clientId)
      }),
    )
  })

/** How long a stopping server waits for its calls in flight; below the process's shutdown grace (10 s). */
const drainDeadline = Duration.seconds(8)

// ---------------------------------------------------------------------------------------------------
// In-process client

/**
 * A client of `group` that calls its handlers found in the context, in this process (the monolith):
 * no connection and no encoding, but otherwise what a call over the network does. Payloads go through
 * the contract's constructors as the network client applies them. Each call runs in a fiber of its own
 * with the handler's context, as on a server, so nothing of the caller's context reaches the handler:
 * not its SqlClient, not the connection of a transaction it has open (which the handler's own
 * `withTransaction` would otherwise join, in the caller's database). Interrupting the call interrupts
 * that fiber; `timeout` fails the call with RpcClientError like the network client's.
 */
export const makeInProcessClient = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>,
  options: {
    readonly service: ServiceName
    readonly timeout?: Duration.DurationInput | undefined
    readonly observe?: RpcObserver | undefined
  },
): Effect.Effect<RpcClientOf<Rpcs>, never, Rpc.ToHandler<Rpcs> | Rpc.Context<Rpcs>> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<Rpc.ToHandler<Rpcs> | Rpc.Context<Rpcs>>()
    const runtime = yield* Effect.runtime<never>()
    const codecs = codecsOf(group as unknown as RpcGroup.RpcGroup<Rpc.Any>)
    const timeoutMillis = options.timeout === undefined ? undefined : Duration.toMillis(options.timeout)
    const headers = Headers.empty

    const methodOf = (entry: Codecs) => {
      const tag = entry.rpc._tag
      const handler = context.unsafeMap.get(entry.rpc.key) as Rpc.Handler<string> | undefined
      if (handler === undefined) return () => Effect.dieMessage(`no handler for ${tag} in this process`)
      const runFork = Runtime.runFork(
        Runtime.make({
          context: Context.merge(runtime.context, handler.context),
          fiberRefs: runtime.fiberRefs,
          runtimeFlags: runtime.runtimeFlags,
        }),
      )
      return (payload: unknown) =>
        Effect.withFiberRuntime<unknown, unknown>((caller) => {
          // The handler runs in its own context, but for the caller's request, as over the network.
          const requestId = caller.getFiberRef(currentRequestId)
          return Effect.async<unknown, unknown>((resume) => {
            let effect: Effect.Effect<unknown, unknown>
            try {
              const result = handler.handler(entry.makePayload(payload), { clientId: 0, headers })
              effect = (
                Rpc.isWrapper(result as object) ? (result as unknown as Rpc.Wrapper<unknown>).value : result
              ) as never
            } catch (defect) {
              return resume(Effect.die(defect))
            }
            if (requestId !== undefined) effect = withRequestId(requestId)(effect)
            const started = options.observe === undefined ? 0 : performance.now()
            let done = false
            let timer: ReturnType<typeof setTimeout> | undefined
            const fiber = runFork(effect)
            fiber.addObserver((exit) => {
              options.observe?.({
                service: options.service,
                method: tag,
                outcome: outcomeOf(exit),
                seconds: (performance.now() - started) / 1000,
              })
              if (done) return
              done = true
              if (timer !== undefined) clearTimeout(timer)
              resume(exit)
            })
            if (timeoutMillis !== undefined && !done) {
              timer = setTimeout(() => {
                if (done) return
                done = true
                fiber.unsafeInterruptAsFork(RpcServer.fiberIdClientInterrupt)
                resume(
                  Effect.fail(
                    new RpcClientError.RpcClientError({
                      reason: "Protocol",
                      message: `RPC call ${tag} timed out after ${timeoutMillis} ms`,
                    }),
                  ),
                )
              }, timeoutMillis)
            }
            return Effect.sync(() => {
              done = true
              if (timer !== undefined) clearTimeout(timer)
              fiber.unsafeInterruptAsFork(RpcServer.fiberIdClientInterrupt)
            })
          })
        })
    }

    return clientOf<Rpcs, typeof codecs extends Map<string, infer C> ? C : never>(codecs.values(), methodOf)
  })

/** A client object: one method per rpc, `a.b` tags nested as `client.a.b` like @effect/rpc's own clients. */
const clientOf = <Rpcs extends Rpc.Any, Entry extends { readonly rpc: { readonly _tag: string } }>(
  entries: Iterable<Entry>,
  methodOf: (entry: Entry) => (payload: unknown) => unknown,
): RpcClientOf<Rpcs> => {
  const client: Record<string, unknown> = {}
  for (const entry of entries) {
    const tag = entry.rpc._tag
    const method = methodOf(entry)
    const dot = tag.indexOf(".")
    if (dot === -1) {
      client[tag] = method
    } else {
      const nested = (client[tag.slice(0, dot)] ??= {}) as Record<string, unknown>
      nested[tag.slice(dot + 1)] = method
    }
  }
  return client as unknown as RpcClientOf<Rpcs>
}
