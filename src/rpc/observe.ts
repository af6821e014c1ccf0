/**
 * The per-method seam for RPC metrics: a server wraps each handler of its group so an observer hears,
 * once per finished call, which method ran, how it ended and how long it took. src/metrics.ts plugs in
 * here (`rpcRequests`, `rpcRequestDuration`); without an observer the handlers run unwrapped.
 */
import type { Rpc, RpcGroup } from "@effect/rpc"
import { Cause, Context, Effect, Exit } from "effect"
import type { ServiceName } from "../config.ts"

/** "ok", the `_tag` of a typed failure, "defect" or "interrupted". */
export type RpcOutcome = string

export type RpcObserver = (call: {
  readonly service: ServiceName
  readonly method: string
  readonly outcome: RpcOutcome
  readonly seconds: number
}) => void

export const outcomeOf = (exit: Exit.Exit<unknown, unknown>): RpcOutcome => {
  if (Exit.isSuccess(exit)) return "ok"
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "Some") {
    const error = failure.value
    return typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
      ? error._tag
      : "error"
  }
  return Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "defect"
}

type HandlerEntry = Rpc.Handler<string>

const observeEntry = (entry: HandlerEntry, service: ServiceName, observer: RpcObserver): HandlerEntry => ({
  ...entry,
  handler: (request, options) => {
    const result = entry.handler(request, options)
    // Streams and forked handlers (Rpc.fork) are passed through; only plain effects are timed.
    if (!Effect.isEffect(result)) return result
    return Effect.suspend(() => {
      const started = performance.now()
      return Effect.onExit(result, (exit) =>
        Effect.sync(() =>
          observer({
            service,
            method: entry.tag,
            outcome: outcomeOf(exit),
            seconds: (performance.now() - started) / 1000,
          }),
        ),
      )
    })
  },
})

/** Replaces the group's handlers in the context an RPC server is built with by observed ones. */
export const observeHandlers =
  <Rpcs extends Rpc.Any>(group: RpcGroup.RpcGroup<Rpcs>, service: ServiceName, observer: RpcObserver | undefined) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    if (observer === undefined) return self
    return Effect.mapInputContext(self, (context: Context.Context<R>) => {
      let observed = context
      for (const rpc of group.requests.values()) {
        const entry = context.unsafeMap.get(rpc.key) as HandlerEntry | undefined
        if (entry === undefined) continue
        observed = Context.add(
          observed,
          Context.GenericTag<HandlerEntry, HandlerEntry>(rpc.key),
          observeEntry(entry, service, observer),
        )
      }
      return observed
    })
  }
