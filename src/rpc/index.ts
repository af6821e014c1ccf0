/**
 * RPC between services: the one place that decides transport and serialization, serves a service's
 * RpcGroup on its address from Config, and builds typed clients of other services.
 *
 * Transport (chosen by bench/rpc, see bench/RESULTS.md "RPC transports"): @effect/rpc's messages as
 * JSON over a WebSocket, served by `Bun.serve` and reached with Bun's `WebSocket`
 * (src/rpc/transport.ts). Groups of plain request/response methods — all of ours — use the direct
 * client and server of src/rpc/direct.ts (no fiber per call on the client, one on the server); a group
 * with streaming methods or RpcMiddleware falls back to the stock RpcClient.make / RpcServer.make on
 * the same wire. Either way the contract's Schemas encode and validate both directions and typed errors
 * arrive as their classes.
 *
 * Spans: off by default. An RPC span costs about as much as the rest of the hop (bench/RESULTS.md);
 * pass `tracing: true` on both sides where a trace across the hop is worth it.
 */
import { RpcClient, RpcClientError, RpcSerialization, RpcServer, RpcTest } from "@effect/rpc"
import type { Rpc, RpcGroup } from "@effect/rpc"
import { Context, Duration, Effect, Layer, type Scope } from "effect"
import type { ConfigError } from "effect"
import { rpcPort, serviceBind, serviceHost, type ServiceName } from "../config.ts"
import { makeDirectClient, makeInProcessClient, type RpcClientOf, serveDirect, supportsDirect } from "./direct.ts"
import { rpcRequestDuration, rpcRequests } from "../metrics.ts"
import { observeHandlers, type RpcObserver } from "./observe.ts"
import { makeClientProtocol, makeServerProtocol } from "./transport.ts"

export type { RpcClientOf } from "./direct.ts"
export type { RpcObserver, RpcOutcome } from "./observe.ts"

/** The path the WebSocket is served on. */
export const rpcPath = "/rpc"

/** The serialization on the wire, on both sides. */
const serialization = RpcSerialization.json

const isDirect = <Rpcs extends Rpc.Any>(group: RpcGroup.RpcGroup<Rpcs>) =>
  supportsDirect(group as unknown as RpcGroup.RpcGroup<Rpc.Any>)

export interface RpcServeOptions {
  readonly service: ServiceName
  /** A server span per call, `<service>.rpc.<Method>`, child of the caller's span. Default: off. */
  readonly tracing?: boolean | undefined
  /**
   * Called once per finished call with its method, outcome ("ok", the error's `_tag`, "defect",
   * "interrupted") and duration in seconds: the seam for src/metrics.ts's rpc_requests_total and
   * rpc_request_duration_seconds. Default: `recordRpcMetrics`; pass `null` for none (and no cost).
   */
  readonly observe?: RpcObserver | null | undefined
}

/** The default observer: every served call counts in rpc_requests_total and rpc_request_duration_seconds. */
export const recordRpcMetrics: RpcObserver = ({ service, method, outcome, seconds }) => {
  rpcRequests.add({ service, method, outcome })
  rpcRequestDuration.record({ service, method }, seconds)
}

const serve = <Rpcs extends Rpc.Any>(group: RpcGroup.RpcGroup<Rpcs>, options: RpcServeOptions) =>
  Effect.gen(function* () {
    const port = yield* rpcPort(options.service)
    const hostname = yield* serviceBind(options.service)
    const spanPrefix = `${options.service}.rpc`
    const tracing = options.tracing ?? false
    const observe = options.observe === null ? undefined : (options.observe ?? recordRpcMetrics)
    if (isDirect(group)) {
      yield* serveDirect(group, {
        hostname,
        port,
        path: rpcPath,
        serialization,
        service: options.service,
        spanPrefix,
        tracing,
        observe,
      })
    } else {
      const protocol = yield* makeServerProtocol({ hostname, port, path: rpcPath, serialization })
      yield* RpcServer.make(group, { disableTracing: !tracing, spanPrefix, concurrency: "unbounded" }).pipe(
        Effect.provideService(RpcServer.Protocol, protocol),
        observeHandlers(group, options.service, observe),
        Effect.interruptible,
        Effect.forkScoped,
      )
    }
    yield* Effect.annotateLogs(Effect.logDebug("rpc server listening"), { service: options.service, hostname, port })
  })

/**
 * Serving a service's RpcGroup: `RpcServe.layer(InventoryRpcs, { service: "inventory" })` listens on
 * `serviceBind("inventory")`:`rpcPort("inventory")` once built and stops (closing its connections,
 * interrupting running calls) when released. Provide it the group's handlers (`InventoryRpcs.toLayer(...)`).
 */
export const RpcServe = {
  layer: <Rpcs extends Rpc.Any>(
    group: RpcGroup.RpcGroup<Rpcs>,
    options: RpcServeOptions,
  ): Layer.Layer<never, ConfigError.ConfigError, Rpc.ToHandler<Rpcs> | Rpc.Context<Rpcs> | Rpc.Middleware<Rpcs>> =>
    Layer.scopedDiscard(serve(group, options)),
}

export interface RpcClientOptions {
  /**
   * Upper bound for one call, answer included; a call that runs out fails with RpcClientError and is
   * interrupted on the server. Default: none. A dead server is detected without it: calls fail at once
   * while disconnected, calls in flight fail when the connection drops, a connection that does not open
   * fails after `connectTimeout`, and a peer that stops answering is dropped by the 10 s ping (≤ 20 s).
   */
  readonly timeout?: Duration.DurationInput | undefined
  /** How long a connection may take to open. Default: 2 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** A client span per call, `<service>.client.<Method>`, propagated to the server. Default: off. */
  readonly tracing?: boolean | undefined
}

const withCallTimeout = <A extends object>(client: A, timeout: Duration.Duration): A => {
  const millis = Duration.toMillis(timeout)
  const wrap = (value: unknown): unknown => {
    if (typeof value === "function") {
      const fn = value as (...args: ReadonlyArray<unknown>) => unknown
      return (...args: ReadonlyArray<unknown>) => {
        const result = fn(...args)
        if (!Effect.isEffect(result)) return result
        return Effect.timeoutFail(result, {
          duration: timeout,
          onTimeout: () =>
            new RpcClientError.RpcClientError({ reason: "Protocol", message: `RPC call timed out after ${millis} ms` }),
        })
      }
    }
    if (typeof value === "object" && value !== null) {
      const out: Record<string, unknown> = {}
      for (const [key, inner] of Object.entries(value)) out[key] = wrap(inner)
      return out
    }
    return value
  }
  return wrap(client) as A
}

/**
 * A client of `group` talking to `service` at its Config address (`serviceHost`, `rpcPort`); the
 * connection opens in the background, reconnects by itself and closes with the scope.
 *
 * Every method fails with the group's typed errors, or RpcClientError when the call could not complete
 * (no connection, connection lost, timeout): retry those with a Schedule where the call is idempotent.
 * A payload that fails its Schema is a defect, as in @effect/rpc.
 */
export const makeRpcClient = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>,
  service: ServiceName,
  options: RpcClientOptions = {},
): Effect.Effect<RpcClientOf<Rpcs>, ConfigError.ConfigError, Rpc.MiddlewareClient<Rpcs> | Scope.Scope> =>
  Effect.gen(function* () {
    const host = yield* serviceHost(service)
    const port = yield* rpcPort(service)
    const connection = {
      url: `ws://${host}:${port}${rpcPath}`,
      serialization,
      connectTimeout: options.connectTimeout ?? Duration.seconds(2),
    }
    const spanPrefix = `${service}.client`
    const tracing = options.tracing ?? false
    if (isDirect(group)) {
      return yield* makeDirectClient(group, { ...connection, tracing, spanPrefix, timeout: options.timeout })
    }
    const protocol = yield* makeClientProtocol(connection)
    const client: RpcClientOf<Rpcs> = yield* RpcClient.make(group, { disableTracing: !tracing, spanPrefix }).pipe(
      Effect.provideService(RpcClient.Protocol, protocol),
    )
    return options.timeout === undefined ? client : withCallTimeout(client, Duration.decode(options.timeout))
  })

/**
 * A Context.Tag for the client of another service, with its Layers:
 *
 * ```ts
 * export class InventoryClient extends RpcClientTag<InventoryClient>()("inventory", InventoryRpcs) {}
 *
 * // wiring: Layer.provide(InventoryClient.Live)                         address from Config
 * //         Layer.provide(InventoryClient.layer({ timeout: "2 seconds" }))
 * // monolith / tests: Layer.provide(InventoryClient.InProcess), given InventoryHandlers
 *
 * const inventory = yield* InventoryClient
 * const reservation = yield* inventory.Reserve(request).pipe(
 *   Effect.retry({ schedule: Schedule.exponential("20 millis"), times: 3, while: (e) => e._tag === "RpcClientError" }),
 *   Effect.catchTag("InsufficientStock", (e) => ...),
 * )
 * ```
 */
export const RpcClientTag =
  <Self>() =>
  <Rpcs extends Rpc.Any>(service: ServiceName, group: RpcGroup.RpcGroup<Rpcs>, defaults: RpcClientOptions = {}) => {
    const tag = Context.Tag(`commerce-mesh/rpc/${service}Client`)<Self, RpcClientOf<Rpcs>>()
    const layer = (
      options: RpcClientOptions = defaults,
    ): Layer.Layer<Self, ConfigError.ConfigError, Rpc.MiddlewareClient<Rpcs>> =>
      Layer.scoped(tag, makeRpcClient(group, service, options))
    return class RpcClientTag extends tag {
      static readonly service = service
      static readonly group = group
      /** Connects to the service's address from Config, with the defaults given to RpcClientTag. */
      static readonly Live = layer()
      static readonly layer = layer
      /**
       * Calls the group's handlers in this process, with no network and no serialization (monolith
       * mode, tests): values pass as they are, so payloads are not re-validated by their Schemas.
       * Otherwise a call behaves as over the network (src/rpc/direct.ts, makeInProcessClient): it runs
       * with the handler's context, never the caller's, has the default `timeout`, and counts in
       * rpc_requests_total under the serving service. Groups with streams or middleware use
       * @effect/rpc's RpcTest client instead, whose handlers do see the caller's context.
       */
      static readonly InProcess: Layer.Layer<
        Self,
        never,
        Rpc.ToHandler<Rpcs> | Rpc.Middleware<Rpcs> | Rpc.MiddlewareClient<Rpcs>
      > = isDirect(group)
        ? Layer.effect(
            tag,
            makeInProcessClient(group, { service, timeout: defaults.timeout, observe: recordRpcMetrics }),
          )
        : Layer.scoped(tag, RpcTest.makeClient(group))
    }
  }
