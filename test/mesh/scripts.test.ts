/** The README's `bun run` table: every service and bench has a script, and each script's file exists. */
import { expect, test } from "bun:test"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { ServiceNames } from "../../src/config.ts"

const root = join(import.meta.dir, "..", "..")
const scripts = (await Bun.file(join(root, "package.json")).json()).scripts as Record<string, string>

test("each service, the mesh, the monolith and every bench run by name; every file named exists", () => {
  for (const service of ServiceNames) expect(scripts[service]).toBe(`bun run services/${service}/main.ts`)
  expect(scripts.mesh).toBe("bun run scripts/mesh.ts")
  expect(scripts.monolith).toBe("bun run scripts/monolith.ts")
  const benches = new Bun.Glob("*/run.ts").scanSync(join(root, "bench"))
  for (const bench of benches) expect(scripts[`bench:${bench.split("/")[0]}`]).toBe(`bun run bench/${bench}`)
  for (const command of Object.values(scripts)) {
    for (const file of command.match(/\S+\.(?:ts|sh)\b/g) ?? []) expect(existsSync(join(root, file))).toBe(true)
  }
})
