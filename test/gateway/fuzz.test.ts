/**
 * The gateway against its own OpenAPI document, fuzzed: a reduced schemathesis run (bench/fuzz/run.ts
 * `quickRun`: the customer, admin and logout passes, few examples per operation, fixed seed) over the
 * whole mesh must find no 5xx, no body off its schema, no undocumented status or content type. The
 * first run installs schemathesis into ~/.cache/commerce-mesh/schemathesis (bench/fuzz/install.sh,
 * needs Python 3 and PyPI); its reports stay in a temporary directory named on failure.
 */
import { expect, test } from "bun:test"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fuzzGateway, quickRun } from "../../bench/fuzz/run.ts"

test("schemathesis finds no failing check in the gateway's OpenAPI document", async () => {
  const reportDir = mkdtempSync(join(tmpdir(), "gateway-fuzz-"))
  const results = await fuzzGateway({ ...quickRun, reportDir, databaseSuffix: "_fuzz_test", redisDatabase: 12 })
  const outcome = results.map(({ pass, exitCode, failures, operations }) => ({ pass, exitCode, failures, operations }))
  const clean = results.map(({ pass, operations }) => ({ pass, exitCode: 0, failures: [], operations }))
  if (JSON.stringify(outcome) !== JSON.stringify(clean)) console.error(`schemathesis reports in ${reportDir}`)
  expect(outcome).toEqual(clean)
  for (const result of results) expect(result.operations).toBeGreaterThan(0)
}, 600_000)
