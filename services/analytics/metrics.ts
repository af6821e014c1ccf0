/**
 * Analytics' own metric, in the shared registry (to move into src/metrics.ts with the others).
 */
import { Counter } from "prom-client"
import { registry } from "../../src/metrics.ts"

export const analyticsEvents = new Counter({
  name: "analytics_events_total",
  help: "Events handed to the analytics projections, by topic, type and outcome (applied, ignored, duplicate)",
  labelNames: ["service", "topic", "type", "outcome"] as const,
  registers: [registry],
})
