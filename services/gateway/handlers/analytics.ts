/** Admin reports: each route is one analytics RPC; absent query parameters keep the service's defaults. */
import { Effect } from "effect"
import { GatewayApi } from "../api/index.ts"
import { AnalyticsClient } from "../clients.ts"
import { orUnavailable } from "../unavailable.ts"
import { implementGateway } from "./implement.ts"

const analytics = <A, E>(call: (client: AnalyticsClient["Type"]) => Effect.Effect<A, E>) =>
  Effect.flatMap(AnalyticsClient, call).pipe(orUnavailable("analytics"))

export const AnalyticsHandlers = implementGateway(GatewayApi, "analytics", {
  summary: ({ urlParams }) => analytics((client) => client.Summary(urlParams)),
  salesPerMinute: ({ urlParams }) => analytics((client) => client.SalesPerMinute(urlParams)),
  salesPerDay: ({ urlParams }) => analytics((client) => client.SalesPerDay(urlParams)),
  topProducts: ({ urlParams }) => analytics((client) => client.TopProducts({ by: "units", ...urlParams })),
  failureReasons: ({ urlParams }) => analytics((client) => client.FailureReasons(urlParams)),
  stockForecast: ({ urlParams }) => analytics((client) => client.StockForecast(urlParams)),
})
