/** The gateway's listening socket: Bun.serve on GATEWAY_HTTP_PORT running the hono app; closed with its scope. */
import { Effect, Layer } from "effect"
import { httpPort, serviceBind } from "../../src/config.ts"
import { requestIdFrom, requestIdHeader } from "../../src/request-id.ts"
import { makeGatewayApp } from "./app.ts"

/** Largest request body the API accepts; every JSON body of the contract is far smaller. */
const maxRequestBodySize = 1024 * 1024

export const GatewayServerLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const port = yield* httpPort("gateway")
    const hostname = yield* serviceBind("gateway")
    const app = yield* makeGatewayApp
    // The peer's address, asked of the server only when the rate limit needs it (a caller without a token).
    let peer: ((request: Request) => string) | undefined
    const server = yield* Effect.acquireRelease(
      Effect.sync(() =>
        Bun.serve({
          port,
          hostname,
          maxRequestBodySize,
          fetch: (request, server) => {
            const requestId = requestIdFrom(request.headers.get(requestIdHeader))
            peer ??= (asked) => server.requestIP(asked)?.address ?? "unknown"
            return app.fetch(request, peer, requestId)
          },
        }),
      ),
      // Let requests in flight finish: stop accepting, then wait for them.
      (server) => Effect.promise(() => server.stop()),
    )
    yield* Effect.logInfo("gateway listening").pipe(
      Effect.annotateLogs({ url: `http://${hostname}:${server.port}`, docs: `http://${hostname}:${server.port}/docs` }),
    )
  }),
)
