/**
 * The request id a client's request carries through the mesh. The gateway takes the client's
 * `X-Request-Id` (when it looks like one) or makes one, answers with it, and runs the request under it;
 * RPC clients send it with each call (src/rpc/direct.ts) and servers run the handler under it, so the
 * log lines of one request carry the same `requestId` in every service it reaches, and the calls that
 * handler makes pass it on.
 */
import { Effect, FiberRef } from "effect"

export const requestIdHeader = "x-request-id"

/** The id of the request this fiber works for, if any. */
export const currentRequestId = FiberRef.unsafeMake<string | undefined>(undefined)

const acceptable = /^[A-Za-z0-9._:-]{1,128}$/

/** The client's id when it is a plain token of at most 128 characters, else a new one. */
export const requestIdFrom = (incoming: string | null | undefined) =>
  incoming !== null && incoming !== undefined && acceptable.test(incoming) ? incoming : crypto.randomUUID()

/** Runs `effect` for request `id`: passed on with its calls, and on each of its log lines. */
export const withRequestId =
  (id: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.annotateLogs(Effect.locally(effect, currentRequestId, id), "requestId", id)
