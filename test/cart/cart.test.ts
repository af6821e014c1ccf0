import { afterAll, describe, expect, test } from "bun:test"
import { type ChannelModel, connect } from "amqplib"
import { ConfigProvider, Effect, Layer, Redacted } from "effect"
import {
  CartClearedReply,
  CartReleasedReply,
  CartReservedReply,
  type CartCommand,
  Money,
  type OrderId,
} from "../../rpc/cart.ts"
import type { Currency } from "../../rpc/common.ts"
import { amqpUrl } from "../../src/config.ts"
import { CommandBus, deadLetterQueueName } from "../../src/commands/index.ts"
import { deadLetters } from "../../src/metrics.ts"
import { Carts } from "../../services/cart/carts.ts"
import { CatalogClient } from "../../services/cart/catalog-client.ts"
import { testRuntime } from "../support/run.ts"
import { CartClient, CartTest, declaredQueues, newSku, newUser, TestConfig, testQueues } from "./support.ts"

const cart = testRuntime(CartTest())

let raw: ChannelModel | undefined
const rawChannel = async () => {
  raw ??= await connect(Redacted.value(await Effect.runPromise(amqpUrl)))
  return raw.createChannel()
}

afterAll(async () => {
  await cart.dispose()
  const channel = await rawChannel()
  for (const queue of declaredQueues) await channel.deleteQueue(queue).catch(() => undefined)
  await raw?.close()
})

const eur = (amount: number) => new Money({ amount, currency: "EUR" as Currency })
const newOrder = () => `order-${crypto.randomUUID().slice(0, 13)}` as OrderId

/** A product in the real catalog; returns its SKU (and a variant SKU priced `variantPrice` when given). */
const newProduct = (price: Money, variantPrice?: Money) =>
  Effect.gen(function* () {
    const catalog = yield* CatalogClient
    const [sku, variant] = [newSku("product"), newSku("variant")]
    const product = yield* catalog.CreateProduct({
      sku,
      name: `Product ${sku}`,
      price,
      variants: variantPrice === undefined ? [] : [{ sku: variant, attributes: { size: "XL" }, price: variantPrice }],
    })
    return { sku, variant, product }
  })

const reserve = (command: CartCommand) =>
  Effect.flatMap(CommandBus, (bus) => bus.sendAndAwait(testQueues.reserve, command, CartReservedReply))
const release = (command: CartCommand) =>
  Effect.flatMap(CommandBus, (bus) => bus.sendAndAwait(testQueues.release, command, CartReleasedReply))
const clear = (command: CartCommand) =>
  Effect.flatMap(CommandBus, (bus) => bus.sendAndAwait(testQueues.clear, command, CartClearedReply))

/** A user with one line (2 × 1 000 EUR) in their cart. */
const filledCart = Effect.gen(function* () {
  const carts = yield* CartClient
  const userId = newUser()
  const { sku } = yield* newProduct(eur(1_000))
  yield* carts.AddItem({ userId, sku, quantity: 2 })
  return { userId, sku }
})

describe("cart items priced by the catalog", () => {
  test("AddItem prices lines from the catalog (variant overrides included) and totals them in minor units", () =>
    cart.run(
      Effect.gen(function* () {
        const carts = yield* CartClient
        const userId = newUser()
        const { sku, variant, product } = yield* newProduct(eur(1_250), eur(1_500))
        yield* carts.AddItem({ userId, sku, quantity: 2 })
        const withVariant = yield* carts.AddItem({ userId, sku: variant, quantity: 1 })
        expect(withVariant.lines.map((l) => [l.sku, l.quantity, l.unitPrice.amount, l.lineTotal.amount])).toEqual([
          [sku, 2, 1_250, 2_500],
          [variant, 1, 1_500, 1_500],
        ])
        expect(withVariant.lines[1]).toMatchObject({ productId: product.id, name: `${product.name} (size: XL)` })
        expect(withVariant.total).toEqual(eur(4_000))
        expect(withVariant.itemCount).toBe(3)
        expect(withVariant.status).toBe("open")
        // Adding a SKU already in the cart adds to its line.
        const again = yield* carts.AddItem({ userId, sku, quantity: 1 })
        expect(again.lines.map((l) => [l.sku, l.quantity])).toEqual([
          [sku, 3],
          [variant, 1],
        ])
        expect(again.total?.amount).toBe(5_250)
        expect(again.version).toBeGreaterThan(withVariant.version)
        expect(yield* carts.GetCart({ userId })).toEqual(again)
      }),
    ))

  test("UpdateItem sets the quantity at the catalog's current price; RemoveItem drops the line", () =>
    cart.run(
      Effect.gen(function* () {
        const carts = yield* CartClient
        const catalog = yield* CatalogClient
        const userId = newUser()
        const { sku, product } = yield* newProduct(eur(1_000))
        const other = yield* newProduct(eur(300))
        yield* carts.AddItem({ userId, sku, quantity: 1 })
        yield* carts.AddItem({ userId, sku: other.sku, quantity: 1 })
        yield* catalog.UpdateProduct({ id: product.id, expectedVersion: 1, price: eur(1_100) })
        const updated = yield* carts.UpdateItem({ userId, sku, quantity: 4 })
        expect(updated.lines[0]).toMatchObject({ sku, quantity: 4 })
        expect(updated.lines[0]?.unitPrice.amount).toBe(1_100)
        expect(updated.total?.amount).toBe(4 * 1_100 + 300)
        const removed = yield* carts.RemoveItem({ userId, sku })
        expect(removed.lines.map((l) => l.sku)).toEqual([other.sku])
        expect(removed.total?.amount).toBe(300)
        const missing = yield* carts.RemoveItem({ userId, sku }).pipe(Effect.flip)
        expect(missing).toMatchObject({ _tag: "ItemNotFound", userId, sku })
        const notInCart = yield* carts.UpdateItem({ userId, sku, quantity: 1 }).pipe(Effect.flip)
        expect(notInCart._tag).toBe("ItemNotFound")
      }),
    ))

  test("a new user's cart is empty with no total", () =>
    cart.run(
      Effect.gen(function* () {
        const carts = yield* CartClient
        const userId = newUser()
        const empty = yield* carts.GetCart({ userId })
        expect(empty).toMatchObject({ userId, status: "open", orderId: null, lines: [], itemCount: 0, total: null })
        // One active cart per user: asking again gives the same cart.
        expect((yield* carts.GetCart({ userId })).id).toBe(empty.id)
      }),
    ))

  test("an unknown or inactive product fails with ProductNotFound", () =>
    cart.run(
      Effect.gen(function* () {
        const carts = yield* CartClient
        const catalog = yield* CatalogClient
        const userId = newUser()
        const unknown = newSku("unknown")
        expect(yield* carts.AddItem({ userId, sku: unknown, quantity: 1 }).pipe(Effect.flip)).toMatchObject({
          _tag: "ProductNotFound",
          sku: unknown,
        })
        const { sku, product } = yield* newProduct(eur(100))
        yield* carts.AddItem({ userId, sku, quantity: 1 })
        yield* catalog.UpdateProduct({ id: product.id, expectedVersion: 1, active: false })
        expect((yield* carts.AddItem({ userId, sku, quantity: 1 }).pipe(Effect.flip))._tag).toBe("ProductNotFound")
        expect((yield* carts.UpdateItem({ userId, sku, quantity: 2 }).pipe(Effect.flip))._tag).toBe("ProductNotFound")
      }),
    ))

  test("a quantity outside 1…999 fails with InvalidQuantity; a second currency with CurrencyMismatch", () =>
    cart.run(
      Effect.gen(function* () {
        const carts = yield* CartClient
        const userId = newUser()
        const { sku } = yield* newProduct(eur(100))
        for (const quantity of [0, -1, 1_000]) {
          const error = yield* carts.AddItem({ userId, sku, quantity }).pipe(Effect.flip)
          expect(error).toMatchObject({ _tag: "InvalidQuantity", sku, quantity, max: 999 })
        }
        yield* carts.AddItem({ userId, sku, quantity: 998 })
        const over = yield* carts.AddItem({ userId, sku, quantity: 2 }).pipe(Effect.flip)
        expect(over).toMatchObject({ _tag: "InvalidQuantity", quantity: 1_000 })
        expect((yield* carts.UpdateItem({ userId, sku, quantity: 0 }).pipe(Effect.flip))._tag).toBe("InvalidQuantity")
        const dollars = yield* newProduct(new Money({ amount: 100, currency: "USD" as Currency }))
        const mixed = yield* carts.AddItem({ userId, sku: dollars.sku, quantity: 1 }).pipe(Effect.flip)
        expect(mixed).toMatchObject({ _tag: "CurrencyMismatch", cartCurrency: "EUR", itemCurrency: "USD" })
      }),
    ))

  test("a catalog that does not answer fails AddItem with CatalogUnavailable and changes nothing", async () => {
    const unreachable = testRuntime(
      CartTest(
        CatalogClient.layer({ timeout: "500 millis", connectTimeout: "200 millis" }).pipe(
          Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["CATALOG_RPC_PORT", "47199"]])))),
        ),
      ).pipe(Layer.provide(TestConfig)),
    )
    try {
      await unreachable.run(
        Effect.gen(function* () {
          const carts = yield* CartClient
          const userId = newUser()
          const error = yield* carts.AddItem({ userId, sku: newSku(), quantity: 1 }).pipe(Effect.flip)
          expect(error._tag).toBe("CatalogUnavailable")
          expect((yield* carts.GetCart({ userId })).lines).toEqual([])
        }),
      )
    } finally {
      await unreachable.dispose()
    }
  })
})

describe("saga commands over RabbitMQ", () => {
  test("cart.reserve freezes the cart and replies with its lines and total; edits are then refused with CartFrozen", () =>
    cart.run(
      Effect.gen(function* () {
        const carts = yield* CartClient
        const { userId, sku } = yield* filledCart
        const orderId = newOrder()
        const reply = yield* reserve({ orderId, userId })
        if (reply._tag !== "CartReserved") throw new Error(`expected CartReserved, got ${reply._tag}`)
        expect(reply.lines.map((l) => [l.sku, l.quantity, l.lineTotal.amount])).toEqual([[sku, 2, 2_000]])
        expect(reply.total).toEqual(eur(2_000))
        expect(yield* carts.GetCart({ userId })).toMatchObject({ status: "frozen", orderId, id: reply.cartId })

        const frozen = { _tag: "CartFrozen", userId, orderId }
        expect(yield* carts.AddItem({ userId, sku, quantity: 1 }).pipe(Effect.flip)).toMatchObject(frozen)
        expect(yield* carts.UpdateItem({ userId, sku, quantity: 1 }).pipe(Effect.flip)).toMatchObject(frozen)
        expect(yield* carts.RemoveItem({ userId, sku }).pipe(Effect.flip)).toMatchObject(frozen)

        // Idempotent by order id: a repeated reserve (another message, same order) gives the same reply.
        expect(yield* reserve({ orderId, userId })).toEqual(reply)
        // A reserve for another order while frozen is refused, naming the order that holds the cart.
        expect(yield* reserve({ orderId: newOrder(), userId })).toMatchObject(frozen)
      }),
    ))

  test("commands decided in one batch: each gets its own reply, a failing one fails only itself, a repeat acts once", () =>
    cart.run(
      Effect.gen(function* () {
        const carts = yield* Carts
        const [a, b] = [yield* filledCart, yield* filledCart]
        const empty = newUser()
        const [orderA, orderB, orderOther] = [newOrder(), newOrder(), newOrder()]
        const replies = yield* carts.reserveMany([
          { orderId: orderA, userId: a.userId },
          { orderId: newOrder(), userId: empty },
          { orderId: orderB, userId: b.userId },
          { orderId: orderA, userId: a.userId },
          { orderId: orderOther, userId: a.userId },
        ])
        expect(replies.map((reply) => reply._tag)).toEqual([
          "CartReserved",
          "CartEmpty",
          "CartReserved",
          "CartReserved",
          "CartFrozen",
        ])
        expect(replies[3]).toEqual(replies[0])
        expect(replies[4]).toMatchObject({ orderId: orderA })
        const client = yield* CartClient
        expect(yield* client.GetCart({ userId: a.userId })).toMatchObject({ status: "frozen", orderId: orderA })
        expect(yield* client.GetCart({ userId: b.userId })).toMatchObject({ status: "frozen", orderId: orderB })
        // The stored replies answer the same commands later, one at a time, over the bus.
        expect(yield* reserve({ orderId: orderA, userId: a.userId })).toEqual(replies[0] as (typeof replies)[number])

        const cleared = yield* carts.clearMany([
          { orderId: orderA, userId: a.userId },
          { orderId: orderOther, userId: b.userId },
          { orderId: orderA, userId: a.userId },
        ])
        expect(cleared.map((reply) => reply._tag)).toEqual(["CartCleared", "CartNotReserved", "CartCleared"])
        expect(cleared[2]).toEqual(cleared[0])
        expect(yield* client.GetCart({ userId: a.userId })).toMatchObject({ status: "open", lines: [] })
        expect(yield* client.GetCart({ userId: b.userId })).toMatchObject({ status: "frozen", orderId: orderB })
      }),
    ))

  test("an edit racing the saga's check-out of the cart lands in the user's next cart, never a defect", () =>
    cart.run(
      Effect.gen(function* () {
        const carts = yield* Carts
        const client = yield* CartClient
        for (let round = 0; round < 10; round++) {
          const { userId, sku } = yield* filledCart
          const orderId = newOrder()
          yield* carts.reserveMany([{ orderId, userId }])
          const [, edit] = yield* Effect.all(
            [carts.clearMany([{ orderId, userId }]), Effect.either(client.AddItem({ userId, sku, quantity: 1 }))],
            { concurrency: "unbounded" },
          )
          // Either the edit came first and met the frozen cart, or it waited and got the next one.
          if (edit._tag === "Left") expect(edit.left._tag).toBe("CartFrozen")
          else expect(edit.right).toMatchObject({ status: "open", lines: [{ sku, quantity: 1 }] })
        }
      }),
    ))

  test("edits racing the freeze: the reply holds exactly the frozen cart's lines, whichever came first", () =>
    cart.run(
      Effect.gen(function* () {
        const carts = yield* Carts
        const client = yield* CartClient
        for (let round = 0; round < 10; round++) {
          const { userId, sku } = yield* filledCart
          const orderId = newOrder()
          // The freeze reads without locks and writes guarded by the cart's version: an edit landing between
          // its read and its write makes it read and decide again, so no edit slips past the reply.
          const [[reply]] = yield* Effect.all(
            [
              carts.reserveMany([{ orderId, userId }]),
              Effect.forEach([1, 2, 3], (quantity) => Effect.either(client.UpdateItem({ userId, sku, quantity })), {
                concurrency: "unbounded",
              }),
            ],
            { concurrency: "unbounded" },
          )
          if (reply?._tag !== "CartReserved") throw new Error(`expected CartReserved, got ${reply?._tag}`)
          const frozen = yield* client.GetCart({ userId })
          expect(frozen).toMatchObject({ status: "frozen", orderId })
          expect(reply.lines.map((line) => [line.sku, line.quantity])).toEqual(
            frozen.lines.map((line) => [line.sku, line.quantity]),
          )
          expect(frozen.total).toEqual(reply.total)
        }
      }),
    ))

  test("cart.reserve of an empty cart replies CartEmpty", () =>
    cart.run(
      Effect.gen(function* () {
        const userId = newUser()
        expect(yield* reserve({ orderId: newOrder(), userId })).toMatchObject({ _tag: "CartEmpty", userId })
      }),
    ))

  test("cart.release unfreezes only for the order holding the cart, idempotently; edits work again", () =>
    cart.run(
      Effect.gen(function* () {
        const carts = yield* CartClient
        const { userId, sku } = yield* filledCart
        const orderId = newOrder()
        yield* reserve({ orderId, userId })
        const stranger = yield* release({ orderId: newOrder(), userId })
        expect(stranger.wasReserved).toBe(false)
        expect((yield* carts.GetCart({ userId })).status).toBe("frozen")

        const released = yield* release({ orderId, userId })
        expect(released).toMatchObject({ _tag: "CartReleased", orderId, userId, wasReserved: true })
        expect(yield* release({ orderId, userId })).toEqual(released)
        expect(yield* carts.GetCart({ userId })).toMatchObject({ status: "open", orderId: null })
        expect((yield* carts.AddItem({ userId, sku, quantity: 1 })).itemCount).toBe(3)
      }),
    ))

  test("cart.clear checks the reserved cart out (the next cart is new and empty), idempotently", () =>
    cart.run(
      Effect.gen(function* () {
        const carts = yield* CartClient
        const { userId, sku } = yield* filledCart
        const orderId = newOrder()
        const reserved = yield* reserve({ orderId, userId })
        if (reserved._tag !== "CartReserved") throw new Error(`expected CartReserved, got ${reserved._tag}`)

        const refused = yield* clear({ orderId: newOrder(), userId })
        expect(refused._tag).toBe("CartNotReserved")

        const cleared = yield* clear({ orderId, userId })
        expect(cleared).toMatchObject({ _tag: "CartCleared", orderId, userId, cartId: reserved.cartId })
        const next = yield* carts.GetCart({ userId })
        expect(next).toMatchObject({ status: "open", lines: [], total: null })
        expect(next.id).not.toBe(reserved.cartId)

        // The user shops again; a repeated clear of the old order answers the same and leaves the new cart alone.
        yield* carts.AddItem({ userId, sku, quantity: 1 })
        expect(yield* clear({ orderId, userId })).toEqual(cleared)
        expect((yield* carts.GetCart({ userId })).itemCount).toBe(1)
      }),
    ))

  test("a poison message on the cart.reserve queue goes to its dead-letter queue", async () => {
    const queue = testQueues.reserve.queue
    const messageId = `poison-${crypto.randomUUID()}`
    const before = (await deadLetters.get()).values.find(
      (v) => v.labels.queue === queue && v.labels.reason === "malformed",
    )?.value
    const channel = await rawChannel()
    try {
      channel.sendToQueue(queue, Buffer.from('{"type":"cart.reserve","version":1,"payload":"not a command"}'), {
        messageId,
        persistent: true,
      })
      const deadline = Date.now() + 5_000
      for (;;) {
        const message = await channel.get(deadLetterQueueName(queue), { noAck: true })
        if (message !== false && message.properties.messageId === messageId) {
          expect(message.properties.headers?.["x-dead-letter-reason"]).toBe("malformed")
          expect(message.properties.headers?.["x-original-queue"]).toBe(queue)
          break
        }
        if (Date.now() > deadline) throw new Error("the poison message did not reach the dead-letter queue in 5 s")
        await Bun.sleep(20)
      }
    } finally {
      await channel.close()
    }
    const after = (await deadLetters.get()).values.find(
      (v) => v.labels.queue === queue && v.labels.reason === "malformed",
    )?.value
    expect((after ?? 0) - (before ?? 0)).toBe(1)
  })
})
