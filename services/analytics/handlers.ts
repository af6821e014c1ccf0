/**
 * The AnalyticsRpcs implementation: report queries over the aggregates, and the stock forecast.
 */
import { Effect } from "effect"
import { AnalyticsRpcs, CurrencyRequired } from "../../rpc/analytics.ts"
import { AnalyticsReports } from "./reports.ts"
import { StockForecaster } from "./stock-forecast.ts"

export const AnalyticsHandlers = AnalyticsRpcs.toLayer(
  Effect.gen(function* () {
    const reports = yield* AnalyticsReports
    const forecaster = yield* StockForecaster
    return {
      Summary: (range) => reports.summary(range),
      SalesPerMinute: ({ from, to }) => reports.salesSeries("minute", from, to),
      SalesPerDay: ({ from, to }) => reports.salesSeries("day", from, to),
      TopProducts: (query) =>
        query.by === "revenue" && query.currency === undefined
          ? Effect.fail(new CurrencyRequired())
          : reports.topProducts(query),
      FailureReasons: (range) => reports.failureReasons(range),
      StockForecast: (query) => forecaster.forecast(query),
    }
  }),
)
