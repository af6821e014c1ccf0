/**
 * Demo data for a fresh mesh, through the services' own RPC contracts: a small catalog in two
 * categories with stock, the delivery zone the gateway books in by default with a week of slots, a demo
 * customer with a default address, and an admin. Safe to run again: every write is keyed (SKUs, restock
 * ids, slot ids, emails), so a second run adds nothing.
 *
 *   bun run scripts/seed.ts        # against the running mesh (scripts/up.sh runs it for you)
 *
 * The admin account is an admin because the mesh runner starts the user service with
 * USER_BOOTSTRAP_ADMIN_EMAILS naming it.
 */
import { BunRuntime } from "@effect/platform-bun"
import { Effect, Layer, Redacted, Schedule } from "effect"
import { CatalogRpcs } from "../rpc/catalog.ts"
import { Currency, Money, Sku } from "../rpc/common.ts"
import { DeliveryRpcs, SlotId, ZoneId } from "../rpc/delivery.ts"
import { InventoryRpcs, RestockId } from "../rpc/inventory.ts"
import { UserRpcs } from "../rpc/user.ts"
import { RpcClientTag } from "../src/rpc/index.ts"

class Catalog extends RpcClientTag<Catalog>()("catalog", CatalogRpcs) {}
class Inventory extends RpcClientTag<Inventory>()("inventory", InventoryRpcs) {}
class Delivery extends RpcClientTag<Delivery>()("delivery", DeliveryRpcs) {}
class Users extends RpcClientTag<Users>()("user", UserRpcs) {}

export const demoAccounts = {
  customer: { email: "demo@commerce-mesh.local", password: "demo-password", name: "Demo Customer" },
  admin: { email: "admin@commerce-mesh.local", password: "admin-password", name: "Demo Admin" },
} as const

const eur = (amount: number) => new Money({ amount, currency: Currency.make("EUR") })

const products = [
  ["kitchen", "demo-kettle", "Stainless kettle", 2499, "1.7 l, boils in two minutes"],
  ["kitchen", "demo-teapot", "Cast-iron teapot", 3450, "Keeps tea hot for an hour"],
  ["kitchen", "demo-mug", "Stoneware mug", 1200, "350 ml, dishwasher safe"],
  ["kitchen", "demo-grinder", "Burr coffee grinder", 8900, "40 grind settings"],
  ["kitchen", "demo-pan", "Carbon-steel pan", 4200, "28 cm, for every hob"],
  ["kitchen", "demo-knife", "Chef's knife", 6500, "20 cm blade"],
  ["outdoor", "demo-tent", "Two-person tent", 15900, "2.1 kg, three seasons"],
  ["outdoor", "demo-stove", "Camping stove", 3900, "Folds into its pot"],
  ["outdoor", "demo-lamp", "Head lamp", 2900, "400 lumen, USB-C"],
  ["outdoor", "demo-bottle", "Insulated bottle", 2200, "750 ml, cold for 24 h"],
] as const

const ignoreTag =
  <T extends string>(...tags: ReadonlyArray<T>) =>
  <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.catchIf(
      effect,
      (error) => (tags as ReadonlyArray<string>).includes(error._tag),
      () => Effect.void,
    )

const seedCatalog = Effect.gen(function* () {
  const catalog = yield* Catalog
  const inventory = yield* Inventory
  const existing = yield* catalog.ListCategories({})
  const categoryIds = new Map(existing.map((category) => [category.name, category.id]))
  for (const name of ["kitchen", "outdoor"]) {
    if (categoryIds.has(name)) continue
    const created = yield* catalog.CreateCategory({ name })
    categoryIds.set(name, created.id)
  }
  for (const [category, sku, name, cents, description] of products) {
    yield* catalog
      .CreateProduct({
        sku: Sku.make(sku),
        name,
        description,
        price: eur(cents),
        categoryId: categoryIds.get(category) ?? null,
      })
      .pipe(ignoreTag("DuplicateSku"))
    yield* inventory.Restock({ restockId: RestockId.make(`seed-${sku}`), sku: Sku.make(sku), quantity: 1_000 })
  }
})

/** The gateway's default zone, everywhere (no postal prefixes), with generous slots for the next 7 days. */
const seedDelivery = Effect.gen(function* () {
  const delivery = yield* Delivery
  const zoneId = ZoneId.make("standard")
  yield* delivery.CreateZone({ zoneId, name: "Standard delivery", postalCodePrefixes: [] })
  const today = new Date()
  today.setUTCHours(8, 0, 0, 0)
  for (let day = 0; day < 7; day++) {
    const startsAt = new Date(today.getTime() + day * 86_400_000)
    const slotId = SlotId.make(`standard-${startsAt.toISOString().slice(0, 10)}`)
    yield* delivery.CreateSlot({
      slotId,
      zoneId,
      startsAt,
      endsAt: new Date(startsAt.getTime() + 12 * 3_600_000),
      capacity: 100_000,
    })
  }
})

const seedAccounts = Effect.gen(function* () {
  const users = yield* Users
  for (const account of [demoAccounts.customer, demoAccounts.admin]) {
    yield* users
      .Register({ email: account.email, password: Redacted.make(account.password), name: account.name })
      .pipe(ignoreTag("EmailTaken"))
  }
  const session = yield* users.Login({
    email: demoAccounts.customer.email,
    password: Redacted.make(demoAccounts.customer.password),
  })
  const addresses = yield* users.ListAddresses({ userId: session.user.id })
  if (addresses.length === 0) {
    yield* users.AddAddress({
      userId: session.user.id,
      label: "home",
      address: { line1: "1 Demo Street", city: "Berlin", postalCode: "10115", country: "DE" },
    })
  }
  yield* users.Logout({ token: session.token })
})

export const seedDemoData = Effect.all([seedCatalog, seedDelivery, seedAccounts], { discard: true }).pipe(
  Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 10, while: (e) => e._tag === "RpcClientError" }),
  Effect.provide(Layer.mergeAll(Catalog.Live, Inventory.Live, Delivery.Live, Users.Live)),
)

export const seedSummary = [
  `  demo customer  ${demoAccounts.customer.email} / ${demoAccounts.customer.password}`,
  `  demo admin     ${demoAccounts.admin.email} / ${demoAccounts.admin.password}`,
]

if (import.meta.main) {
  BunRuntime.runMain(
    seedDemoData.pipe(Effect.zipRight(Effect.sync(() => console.log(["seeded:", ...seedSummary].join("\n"))))),
  )
}
