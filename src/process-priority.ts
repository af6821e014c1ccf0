/**
 * The priority the mesh runner (scripts/mesh.ts) and the test and bench harness start each service at. The
 * services a checkout's answer waits on — the gateway and order (the order row) — run at a higher priority
 * than the rest: on a busy machine the OS then runs them first when they wake, instead of after the saga work
 * of every other process (bench/RESULTS.md, "Where the 201's tail waits"). Payment left that path when the
 * gateway began sealing the card instead of registering it (src/payment-method-seal.ts); keeping it raised
 * or not made no difference the bench could show. A raised priority needs root or CAP_SYS_NICE; without it
 * `nice` says so on the service's stderr and starts the service at the usual priority.
 */
import { Config } from "effect"
import type { ServiceName } from "./config.ts"

/** The services a `POST /checkout` answer waits on. */
export const requestPathServices: ReadonlyArray<ServiceName> = ["gateway", "order"]

/** `REQUEST_PATH_NICE` (-10): the niceness those services start at; 0 starts every service alike. */
export const requestPathNice = Config.integer("REQUEST_PATH_NICE").pipe(Config.withDefault(-10))

/** `command` as it starts `service`: through `nice -n <nice>` when the service is on the request path. */
export const launchCommand = (service: ServiceName, command: ReadonlyArray<string>, nice: number) =>
  nice !== 0 && requestPathServices.includes(service) ? ["nice", "-n", String(nice), ...command] : [...command]
