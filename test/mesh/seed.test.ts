/**
 * The demo data of `scripts/up.sh` (scripts/seed.ts), written through the real services: the catalog with
 * stock, the default delivery zone, the demo accounts. Seeding twice adds nothing.
 */
import { afterAll, beforeAll, expect, test } from "bun:test"
import { Effect, Layer, Redacted } from "effect"
import { CatalogRpcs } from "../../rpc/catalog.ts"
import { Sku } from "../../rpc/common.ts"
import { InventoryRpcs } from "../../rpc/inventory.ts"
import { UserRpcs } from "../../rpc/user.ts"
import { demoAccounts, seedDemoData } from "../../scripts/seed.ts"
import { RpcClientTag } from "../../src/rpc/index.ts"
import { runTest } from "../support/run.ts"
import { type Mesh, startMesh } from "../support/service-process.ts"

class Catalog extends RpcClientTag<Catalog>()("catalog", CatalogRpcs) {}
class Inventory extends RpcClientTag<Inventory>()("inventory", InventoryRpcs) {}
class Users extends RpcClientTag<Users>()("user", UserRpcs) {}

// A database set of its own, kept between runs: the seed is idempotent, so a rerun must find the same state.
const suffix = "_seed_test"
let mesh: Mesh | undefined

beforeAll(async () => {
  mesh = await startMesh(["catalog", "inventory", "delivery", "user"], {
    DATABASE_NAME_SUFFIX: suffix,
    USER_BOOTSTRAP_ADMIN_EMAILS: demoAccounts.admin.email,
  })
}, 120_000)

afterAll(async () => {
  await mesh?.stop()
})

test("seeding writes the catalog with stock and the demo accounts, and a second run adds nothing", async () => {
  if (mesh === undefined) throw new Error("the mesh did not start")
  const config = mesh.config
  await runTest(seedDemoData.pipe(Effect.provide(config)))
  await runTest(seedDemoData.pipe(Effect.provide(config)))
  await runTest(
    Effect.gen(function* () {
      const catalog = yield* Catalog
      const inventory = yield* Inventory
      const users = yield* Users
      const page = yield* catalog.ListProducts({ limit: 100 })
      expect(page.items.filter((product) => product.sku.startsWith("demo-"))).toHaveLength(10)
      expect((yield* catalog.ListCategories({})).map((category) => category.name).sort()).toEqual([
        "kitchen",
        "outdoor",
      ])
      // Restocked once, though seeded twice: restock ids make it idempotent.
      expect((yield* inventory.GetStock({ sku: Sku.make("demo-kettle") })).available).toBe(1_000)
      const customer = yield* users.Login({
        email: demoAccounts.customer.email,
        password: Redacted.make(demoAccounts.customer.password),
      })
      expect(yield* users.ListAddresses({ userId: customer.user.id })).toHaveLength(1)
      const admin = yield* users.Login({
        email: demoAccounts.admin.email,
        password: Redacted.make(demoAccounts.admin.password),
      })
      expect(admin.user.roles).toContain("admin")
    }).pipe(Effect.provide(Layer.mergeAll(Catalog.Live, Inventory.Live, Users.Live)), Effect.provide(config)),
  )
}, 60_000)
