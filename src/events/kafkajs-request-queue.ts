/**
 * A fix for kafkajs 2.2.4's request queue, applied once when imported (src/events/kafka.ts does).
 *
 * After every answered request, kafkajs's RequestQueue schedules a check of its pending requests "when
 * the client-side throttle ends", even when nothing is pending and nothing is throttled: the delay is
 * then `-1 - Date.now()`, which the runtime clamps to 1 ms (Bun warns: "TimeoutNegativeWarning"), and
 * the check schedules the next one. So every broker connection — each service's admin, producer and
 * consumers — ran a 1 ms timer loop for the life of the process: measured ~40 ms of CPU per second per
 * idle service. With this fix a check is scheduled only when a request waits in the queue; a request
 * that cannot be sent at once is queued by `push`, which schedules its own check, and answered
 * requests still run `checkPendingRequests` as before.
 */
// A static import (types in kafkajs-internals.d.ts), so a bundle patches the very copy kafkajs uses.
import RequestQueue from "kafkajs/src/network/requestQueue/index.js"

const prototype = RequestQueue.prototype as typeof RequestQueue.prototype & { __commerceMeshPatched?: boolean }
if (prototype.__commerceMeshPatched !== true) {
  const schedule = prototype.scheduleCheckPendingRequests
  prototype.scheduleCheckPendingRequests = function (this: typeof prototype) {
    if (this.pending.length > 0) schedule.call(this)
  }
  prototype.__commerceMeshPatched = true
}
