/**
 * The gateway process: `bun run services/gateway/main.ts`.
 * Only wiring: the REST API (hono) on GATEWAY_HTTP_PORT with /healthz, /readyz, /metrics, /openapi.json
 * and /docs beside it (services/gateway/service.ts), and RPC clients of the services behind it.
 */
import { Layer } from "effect"
import { runService } from "../../src/service.ts"
import { GatewayClientsLive } from "./clients.ts"
import { GatewayService } from "./service.ts"

runService("gateway", GatewayService.pipe(Layer.provide(GatewayClientsLive)))
