/**
 * One benchmark server process: `bun bench/rpc/server.ts <mode> <port> <tracing on|off>`.
 * Prints "ready" once listening; runs until killed.
 */
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse, HttpMiddleware } from "@effect/platform"
import { BunHttpServer, BunRuntime, BunSocketServer } from "@effect/platform-bun"
import { RpcSerialization, RpcServer } from "@effect/rpc"
import { Effect, Layer, Schema, type Scope } from "effect"
import { RpcServe } from "../../src/rpc/index.ts"
import { serveDirect } from "../../src/rpc/direct.ts"
import { makeServerProtocol } from "../../src/rpc/transport.ts"
import { answer, BenchRpcs } from "./contract.ts"

export const serverModes = [
  "bare-http",
  "bare-ws",
  "effect-http",
  "rpc-http-json",
  "rpc-http-msgpack",
  "rpc-ws-json",
  "rpc-ws-msgpack",
  "rpc-socket-ndjson",
  "rpc-socket-msgpack",
  "mesh",
  "mesh-stock",
  "mesh-msgpack",
] as const
export type ServerMode = (typeof serverModes)[number]

const [modeArg, portArg, tracingArg] = process.argv.slice(2)
const mode = modeArg as ServerMode
const port = Number(portArg)
const tracing = tracingArg !== "off"
const hostname = "127.0.0.1"

const BenchHandlers = BenchRpcs.toLayer({ Get: ({ id, name }) => Effect.succeed(answer(id, name)) })
const rpcOptions = { disableTracing: !tracing, concurrency: "unbounded" as const }

const serialization = (name: string) =>
  name.endsWith("msgpack")
    ? RpcSerialization.layerMsgPack
    : name.endsWith("ndjson")
      ? RpcSerialization.layerNdjson
      : RpcSerialization.layerJson

const serveApp = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.gen(function* () {
    const server = yield* BunHttpServer.make({ port, hostname })
    yield* server.serve(
      app as Effect.Effect<HttpServerResponse.HttpServerResponse, E, Exclude<R, HttpServerRequest.HttpServerRequest>>,
    )
  })

const GetBody = Schema.Struct({ id: Schema.Int, name: Schema.String })

const program: Effect.Effect<void, unknown, Scope.Scope> = Effect.gen(function* () {
  switch (mode) {
    case "bare-http": {
      const server = Bun.serve({
        port,
        hostname,
        fetch: async (request) => {
          const body = (await request.json()) as { id: number; name: string }
          return Response.json(answer(body.id, body.name))
        },
      })
      yield* Effect.addFinalizer(() => Effect.promise(() => server.stop(true)))
      return
    }
    case "bare-ws": {
      // The same wire messages as @effect/rpc's WebSocket+JSON protocol, answered without Effect.
      const server = Bun.serve({
        port,
        hostname,
        fetch: (request, server) => (server.upgrade(request) ? undefined : new Response("upgrade", { status: 400 })),
        websocket: {
          message: (ws, message) => {
            const request = JSON.parse(String(message)) as {
              _tag: string
              id: string
              payload: { id: number; name: string }
            }
            if (request._tag !== "Request") return
            ws.send(
              JSON.stringify({
                _tag: "Exit",
                requestId: request.id,
                exit: { _tag: "Success", value: answer(request.payload.id, request.payload.name) },
              }),
            )
          },
        },
      })
      yield* Effect.addFinalizer(() => Effect.promise(() => server.stop(true)))
      return
    }
    case "effect-http": {
      const app = HttpRouter.empty.pipe(
        HttpRouter.post(
          "/get",
          Effect.flatMap(HttpServerRequest.schemaBodyJson(GetBody), (body) =>
            HttpServerResponse.json(answer(body.id, body.name)),
          ),
        ),
        HttpRouter.catchAll(() => HttpServerResponse.text("bad request", { status: 400 })),
      )
      const server = yield* BunHttpServer.make({ port, hostname })
      yield* server.serve(app)
      return
    }
    case "rpc-http-json":
    case "rpc-http-msgpack": {
      const app = yield* RpcServer.toHttpApp(BenchRpcs, rpcOptions)
      yield* serveApp(app)
      return
    }
    case "rpc-ws-json":
    case "rpc-ws-msgpack": {
      const app = yield* RpcServer.toHttpAppWebsocket(BenchRpcs, rpcOptions)
      yield* serveApp(app)
      return
    }
    case "rpc-socket-ndjson":
    case "rpc-socket-msgpack": {
      yield* Layer.build(
        RpcServer.layer(BenchRpcs, rpcOptions).pipe(
          Layer.provide(RpcServer.layerProtocolSocketServer),
          Layer.provide(BunSocketServer.layer({ port, host: hostname })),
        ),
      )
      return
    }
    case "mesh": {
      process.env.ANALYTICS_RPC_PORT = String(port)
      yield* Layer.build(RpcServe.layer(BenchRpcs, { service: "analytics", tracing }))
      return
    }
    case "mesh-stock": {
      // src/rpc/index.ts's WebSocket transport under the stock RpcServer.make.
      const protocol = yield* makeServerProtocol({ hostname, port, path: "/rpc", serialization: RpcSerialization.json })
      yield* RpcServer.make(BenchRpcs, rpcOptions).pipe(
        Effect.provideService(RpcServer.Protocol, protocol),
        Effect.interruptible,
        Effect.forkScoped,
      )
      return
    }
    case "mesh-msgpack": {
      // src/rpc/index.ts's direct server with msgpack instead of JSON.
      yield* serveDirect(BenchRpcs, {
        hostname,
        port,
        path: "/rpc",
        serialization: RpcSerialization.msgPack,
        service: "analytics",
        spanPrefix: "bench.rpc",
        tracing,
      })
      return
    }
    default:
      return yield* Effect.dieMessage(`unknown server mode ${String(mode)}`)
  }
}).pipe(Effect.provide(Layer.mergeAll(BenchHandlers, serialization(mode), HttpServer.layerContext)), (self) =>
  tracing ? self : Effect.locally(self, HttpMiddleware.currentTracerDisabledWhen, () => true),
)

Effect.gen(function* () {
  yield* program
  console.log("ready")
  return yield* Effect.never
}).pipe(Effect.scoped, tracing ? (e) => e : Effect.withTracerEnabled(false), BunRuntime.runMain)
