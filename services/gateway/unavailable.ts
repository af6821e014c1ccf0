/** A service that could not be reached (no connection, timeout) is a 503 the client may retry, never a 500. */
import { RpcClientError } from "@effect/rpc/RpcClientError"
import { Effect } from "effect"
import type { ServiceName } from "../../src/config.ts"
import { ServiceUnavailable } from "./api/errors.ts"

export const orUnavailable =
  (service: ServiceName) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, RpcClientError> | ServiceUnavailable, R> =>
    Effect.catchIf(
      effect,
      (error): error is Extract<E, RpcClientError> => error instanceof RpcClientError,
      (error) =>
        Effect.logWarning("service unavailable").pipe(
          Effect.annotateLogs({ service, error: error.message }),
          Effect.zipRight(new ServiceUnavailable({ service, message: `${service} did not answer; retry later` })),
        ),
    ) as Effect.Effect<A, Exclude<E, RpcClientError> | ServiceUnavailable, R>
