import { afterAll, describe, expect, test } from "bun:test"
import { type ChannelModel, connect, type GetMessage } from "amqplib"
import {
  Cause,
  ConfigProvider,
  Data,
  Deferred,
  Effect,
  Exit,
  Layer,
  Option,
  Queue,
  Redacted,
  Ref,
  Schedule,
  Schema,
} from "effect"
import { amqpUrl } from "../../src/config.ts"
import {
  CommandBus,
  type CommandBusError,
  CommandBusLive,
  checkQueue,
  commandBusReady,
  deadLetterQueueName,
  defineCommand,
  type RetryPolicy,
  retryQueueName,
} from "../../src/commands/index.ts"
import { deadLetters, messagesHandled, queueDepth } from "../../src/metrics.ts"
import { testRuntime } from "../support/run.ts"

const bus = testRuntime(CommandBusLive("order"))

/** Raw amqplib, to look at queues the way another client would and to publish what the bus never would. */
let raw: ChannelModel | undefined
const rawChannel = async () => {
  raw ??= await connect(Redacted.value(await Effect.runPromise(amqpUrl)))
  return raw.createChannel()
}

const fastRetry: Partial<RetryPolicy> = { maxAttempts: 3, initialDelay: "20 millis", factor: 2, maxDelay: "100 millis" }
const createdQueues = new Set<string>()
const uniqueQueue = (name: string) => {
  const queue = `test.${name}.${crypto.randomUUID().slice(0, 8)}`
  createdQueues.add(queue)
  createdQueues.add(deadLetterQueueName(queue))
  for (const delay of [20, 40, 1_000, 4_000, 16_000, 60_000]) createdQueues.add(retryQueueName(queue, delay))
  return queue
}

class CartUnavailable extends Data.TaggedError("CartUnavailable")<{ readonly message: string }> {}

const ReserveCart = Schema.Struct({ cartId: Schema.String, quantity: Schema.Int })
const reserveCart = (queue: string) => defineCommand("cart.reserve", ReserveCart, { queue })
const cartReserved = (queue: string) =>
  defineCommand("cart.reserved", Schema.Struct({ cartId: Schema.String, reserved: Schema.Boolean }), { queue })

const counter = async (metric: typeof messagesHandled | typeof deadLetters, labels: Record<string, string>) => {
  const { values } = await metric.get()
  const matching = values.filter((sample) =>
    Object.entries(labels).every(([key, value]) => (sample.labels as Record<string, unknown>)[key] === value),
  )
  return matching.reduce((sum, sample) => sum + sample.value, 0)
}

/** Waits for one message on a queue (a dead-letter queue, usually), fetched with basic.get. */
const nextMessage = async (queue: string, timeoutMillis = 5_000): Promise<GetMessage> => {
  const channel = await rawChannel()
  const deadline = Date.now() + timeoutMillis
  try {
    while (Date.now() < deadline) {
      const message = await channel.get(queue, { noAck: true })
      if (message !== false) return message
      await Bun.sleep(20)
    }
    throw new Error(`no message on ${queue} within ${timeoutMillis} ms`)
  } finally {
    await channel.close()
  }
}

const takeWithin = <A>(queue: Queue.Queue<A>) => Queue.take(queue).pipe(Effect.timeout("5 seconds"))

afterAll(async () => {
  await bus.dispose()
  const channel = await rawChannel()
  for (const queue of createdQueues) await channel.deleteQueue(queue).catch(() => undefined)
  await raw?.close()
})

describe("CommandBus", () => {
  test("a command sent is handled once with its payload, id and first attempt", () =>
    bus.run(
      Effect.gen(function* () {
        const command = reserveCart(uniqueQueue("roundtrip"))
        const commandBus = yield* CommandBus
        const handled = yield* Queue.unbounded<{ payload: typeof ReserveCart.Type; id: string; attempt: number }>()
        yield* commandBus.consume(command, (payload, delivery) =>
          Queue.offer(handled, { payload, id: delivery.id, attempt: delivery.attempt }),
        )
        const id = yield* commandBus.send(command, { cartId: "cart-1", quantity: 2 })
        const received = yield* takeWithin(handled)
        expect(received).toEqual({ payload: { cartId: "cart-1", quantity: 2 }, id, attempt: 1 })
      }).pipe(Effect.scoped),
    ))

  test("send completes after the broker confirmed a persistent message carrying the id as messageId", async () => {
    const queue = uniqueQueue("confirm")
    const command = reserveCart(queue)
    const { id, depth } = await bus.run(
      Effect.gen(function* () {
        const commandBus = yield* CommandBus
        const id = yield* commandBus.send(command, { cartId: "cart-2", quantity: 1 }, { id: "reserve-cart-2" })
        // Confirmed means enqueued: the depth is already 1, with no consumer and no waiting.
        return { id, depth: yield* checkQueue(queue) }
      }),
    )
    expect(id).toBe("reserve-cart-2")
    expect(depth).toBe(1)
    expect((await queueDepth.get()).values.find((sample) => sample.labels.queue === queue)?.value).toBe(1)
    const message = await nextMessage(queue)
    expect(message.properties.messageId).toBe("reserve-cart-2")
    expect(message.properties.deliveryMode).toBe(2)
    const envelope = JSON.parse(message.content.toString("utf8"))
    expect(envelope).toMatchObject({ type: "cart.reserve", version: 1, id: "reserve-cart-2" })
    expect(envelope.payload).toEqual({ cartId: "cart-2", quantity: 1 })
    expect(new Date(envelope.occurredAt).getTime()).toBeGreaterThan(Date.now() - 60_000)
  })

  test("a handler failing twice is retried after a delay and succeeds on the third attempt", async () => {
    const queue = uniqueQueue("retry")
    const attempts = await bus.run(
      Effect.gen(function* () {
        const command = reserveCart(queue)
        const commandBus = yield* CommandBus
        const seen = yield* Ref.make<ReadonlyArray<number>>([])
        const done = yield* Deferred.make<void>()
        yield* commandBus.consume(
          command,
          (_, delivery) =>
            Ref.update(seen, (attempts) => [...attempts, delivery.attempt]).pipe(
              Effect.zipRight(
                delivery.attempt < 3
                  ? Effect.fail(new CartUnavailable({ message: "cart locked" }))
                  : Deferred.succeed(done, undefined),
              ),
            ),
          { retry: fastRetry },
        )
        yield* commandBus.send(command, { cartId: "cart-3", quantity: 1 })
        yield* Deferred.await(done).pipe(Effect.timeout("5 seconds"))
        return yield* Ref.get(seen)
      }).pipe(Effect.scoped),
    )
    expect(attempts).toEqual([1, 2, 3])
    expect(await counter(messagesHandled, { queue, outcome: "retry" })).toBe(2)
    expect(await counter(messagesHandled, { queue, outcome: "ok" })).toBe(1)
    expect(await counter(messagesHandled, { queue, outcome: "dead_letter" })).toBe(0)
  })

  test("a handler that always fails sends the message to the dead-letter queue after N attempts, with the reason", async () => {
    const queue = uniqueQueue("exhausted")
    const attempts = await bus.run(
      Effect.gen(function* () {
        const command = reserveCart(queue)
        const commandBus = yield* CommandBus
        const seen = yield* Ref.make(0)
        yield* commandBus.consume(
          command,
          () =>
            Ref.update(seen, (n) => n + 1).pipe(
              Effect.zipRight(Effect.fail(new CartUnavailable({ message: "cart is gone" }))),
            ),
          {
            retry: fastRetry,
          },
        )
        yield* commandBus.send(command, { cartId: "cart-4", quantity: 1 }, { id: "reserve-cart-4" })
        yield* Effect.promise(() =>
          nextMessage(deadLetterQueueName(queue)).then(async (message) => {
            expect(message.properties.messageId).toBe("reserve-cart-4")
            expect(message.properties.headers?.["x-dead-letter-reason"]).toBe("exhausted")
            expect(message.properties.headers?.["x-attempts"]).toBe(3)
            expect(String(message.properties.headers?.["x-dead-letter-error"])).toContain("cart is gone")
            expect(JSON.parse(message.content.toString("utf8")).payload).toEqual({ cartId: "cart-4", quantity: 1 })
          }),
        )
        return yield* Ref.get(seen)
      }).pipe(Effect.scoped),
    )
    expect(attempts).toBe(3)
    expect(await counter(deadLetters, { queue, reason: "exhausted" })).toBe(1)
    expect(await counter(messagesHandled, { queue, outcome: "dead_letter" })).toBe(1)
    expect(await counter(messagesHandled, { queue, outcome: "retry" })).toBe(2)
  })

  test("malformed messages go to the dead-letter queue and the consumer still handles the next valid one", async () => {
    const queue = uniqueQueue("malformed")
    const handled = await bus.run(
      Effect.gen(function* () {
        const command = reserveCart(queue)
        const commandBus = yield* CommandBus
        const received = yield* Queue.unbounded<string>()
        yield* commandBus.consume(command, (payload) => Queue.offer(received, payload.cartId), { retry: fastRetry })
        yield* Effect.promise(async () => {
          const channel = await rawChannel()
          channel.sendToQueue(queue, Buffer.from("{not json"), { messageId: "garbage" })
          const wrongPayload = {
            type: "cart.reserve",
            version: 1,
            id: "bad-payload",
            occurredAt: new Date().toISOString(),
            payload: { cartId: 7 },
          }
          channel.sendToQueue(queue, Buffer.from(JSON.stringify(wrongPayload)), { messageId: "bad-payload" })
          await channel.close()
        })
        yield* commandBus.send(command, { cartId: "cart-5", quantity: 1 })
        return yield* takeWithin(received)
      }).pipe(Effect.scoped),
    )
    expect(handled).toBe("cart-5")
    const first = await nextMessage(deadLetterQueueName(queue))
    const second = await nextMessage(deadLetterQueueName(queue))
    expect([first.properties.messageId, second.properties.messageId].sort()).toEqual(["bad-payload", "garbage"])
    for (const message of [first, second]) {
      expect(message.properties.headers?.["x-dead-letter-reason"]).toBe("malformed")
      expect(message.properties.headers?.["x-attempts"]).toBe(1)
    }
    expect(await counter(deadLetters, { queue, reason: "malformed" })).toBe(2)
    expect(await counter(messagesHandled, { queue, outcome: "ok" })).toBe(1)
  })

  test("a handler defect is retried like a failure and does not stop the consumer", async () => {
    const queue = uniqueQueue("defect")
    const attempts = await bus.run(
      Effect.gen(function* () {
        const command = reserveCart(queue)
        const commandBus = yield* CommandBus
        const received = yield* Queue.unbounded<number>()
        yield* commandBus.consume(
          command,
          (_, delivery) => {
            // A handler that throws while building its Effect, then one that dies inside it.
            if (delivery.attempt === 1) throw new Error("bug in handler")
            if (delivery.attempt === 2) return Effect.die("defect in handler")
            return Queue.offer(received, delivery.attempt)
          },
          { retry: fastRetry },
        )
        yield* commandBus.send(command, { cartId: "cart-6", quantity: 1 })
        return yield* takeWithin(received)
      }).pipe(Effect.scoped),
    )
    expect(attempts).toBe(3)
    expect(await counter(messagesHandled, { queue, outcome: "retry" })).toBe(2)
  })

  test("closing the consumer waits for in-flight handlers, which still ack", async () => {
    const queue = uniqueQueue("drain")
    const outcome = await bus.run(
      Effect.gen(function* () {
        const command = reserveCart(queue)
        const commandBus = yield* CommandBus
        const finished = yield* Ref.make(false)
        yield* Effect.gen(function* () {
          const started = yield* Deferred.make<void>()
          yield* commandBus.consume(command, () =>
            Deferred.succeed(started, undefined).pipe(
              Effect.zipRight(Effect.sleep("300 millis")),
              Effect.zipRight(Ref.set(finished, true)),
            ),
          )
          yield* commandBus.send(command, { cartId: "cart-7", quantity: 1 })
          yield* Deferred.await(started)
        }).pipe(Effect.scoped)
        return { finished: yield* Ref.get(finished), depth: yield* checkQueue(queue) }
      }),
    )
    // Acked before the channel closed: nothing went back to the queue.
    expect(outcome).toEqual({ finished: true, depth: 0 })
    expect(await counter(messagesHandled, { queue, outcome: "ok" })).toBe(1)
  })

  test("a handler's reply comes back to sendAndAwait, correlated to the command", async () => {
    const queue = uniqueQueue("request")
    const reply = await bus.run(
      Effect.gen(function* () {
        const command = reserveCart(queue)
        const replyCommand = cartReserved(`${queue}.reply`)
        const commandBus = yield* CommandBus
        const correlation = yield* Deferred.make<{ id: string; replyTo: string | undefined }>()
        yield* commandBus.consume(command, (payload, delivery) =>
          Deferred.succeed(correlation, { id: delivery.id, replyTo: delivery.replyTo }).pipe(
            Effect.zipRight(delivery.reply(replyCommand, { cartId: payload.cartId, reserved: payload.quantity <= 5 })),
          ),
        )
        const answer = yield* commandBus.sendAndAwait(command, { cartId: "cart-8", quantity: 3 }, replyCommand, {
          id: "saga-1:reserve-cart",
        })
        const seen = yield* Deferred.await(correlation)
        expect(seen.id).toBe("saga-1:reserve-cart")
        expect(seen.replyTo).toStartWith("order.replies.")
        return answer
      }).pipe(Effect.scoped),
    )
    expect(reply).toEqual({ cartId: "cart-8", reserved: true })
  })

  test("commands sent to one queue at the same moment travel as one message, each handled and answered as its own", async () => {
    const queue = uniqueQueue("batched")
    const command = reserveCart(queue)
    const replyCommand = cartReserved(`${queue}.reply`)
    const carts = ["cart-b1", "cart-b2", "cart-b3", "cart-b4", "cart-b5", "cart-b6"]
    const { depth, answers, handled } = await bus.run(
      Effect.gen(function* () {
        const commandBus = yield* CommandBus
        // The queue's sender exists before the burst, so the burst finds it without waiting.
        yield* commandBus.send(command, { cartId: "cart-b0", quantity: 1 }, { id: "send:cart-b0" })
        yield* Effect.all(
          carts.map((cartId) => commandBus.send(command, { cartId, quantity: 1 }, { id: `send:${cartId}` })),
          { concurrency: "unbounded" },
        )
        const depth = yield* checkQueue(queue)
        const seen = yield* Ref.make<ReadonlyArray<string>>([])
        yield* commandBus.consume(command, (payload, delivery) =>
          Ref.update(seen, (ids) => [...ids, delivery.id]).pipe(
            Effect.zipRight(delivery.reply(replyCommand, { cartId: payload.cartId, reserved: payload.quantity <= 2 })),
          ),
        )
        const answers = yield* Effect.all(
          carts.map((cartId, i) =>
            commandBus.sendAndAwait(command, { cartId, quantity: i }, replyCommand, { id: `await:${cartId}` }),
          ),
          { concurrency: "unbounded" },
        )
        yield* Effect.sleep("100 millis")
        return { depth, answers, handled: yield* Ref.get(seen) }
      }).pipe(Effect.scoped),
    )
    // One message for the first send, one (or, should the burst straddle a write, two) for the six after it.
    expect(depth).toBeGreaterThanOrEqual(2)
    expect(depth).toBeLessThanOrEqual(3)
    expect(answers).toEqual(carts.map((cartId, i) => ({ cartId, reserved: i <= 2 })))
    expect([...handled].sort()).toEqual(
      ["send:cart-b0", ...carts.map((cartId) => `send:${cartId}`), ...carts.map((cartId) => `await:${cartId}`)].sort(),
    )
  })

  test("a command failing in a batch retries the whole message; the others, handled again, answer the same", async () => {
    const queue = uniqueQueue("batch-retry")
    const command = reserveCart(queue)
    const replyCommand = cartReserved(`${queue}.reply`)
    const { answers, attempts } = await bus.run(
      Effect.gen(function* () {
        const commandBus = yield* CommandBus
        const attempts = yield* Ref.make(new Map<string, number>())
        yield* commandBus.consume(
          command,
          (payload, delivery) =>
            Ref.update(attempts, (seen) => new Map(seen).set(payload.cartId, delivery.attempt)).pipe(
              Effect.zipRight(
                payload.cartId === "cart-flaky" && delivery.attempt === 1
                  ? Effect.fail<CartUnavailable | CommandBusError>(new CartUnavailable({ message: "cart locked" }))
                  : delivery.reply(replyCommand, { cartId: payload.cartId, reserved: true }),
              ),
            ),
          { retry: fastRetry },
        )
        const answers = yield* Effect.all(
          ["cart-steady", "cart-flaky"].map((cartId) =>
            commandBus.sendAndAwait(command, { cartId, quantity: 1 }, replyCommand, { id: `retry:${cartId}` }),
          ),
          { concurrency: "unbounded" },
        )
        return { answers, attempts: yield* Ref.get(attempts) }
      }).pipe(Effect.scoped),
    )
    expect(answers).toEqual([
      { cartId: "cart-steady", reserved: true },
      { cartId: "cart-flaky", reserved: true },
    ])
    expect(attempts.get("cart-flaky")).toBe(2)
    // Whether the two shared a message decides whether the steady one saw a second attempt; either way it answered once.
    expect([1, 2]).toContain(attempts.get("cart-steady") ?? 0)
  })

  test("sendAndAwait without an answer fails with ReplyTimeout", async () => {
    const queue = uniqueQueue("unanswered")
    const error = await bus.run(
      Effect.gen(function* () {
        const commandBus = yield* CommandBus
        return yield* commandBus
          .sendAndAwait(reserveCart(queue), { cartId: "cart-9", quantity: 1 }, cartReserved(`${queue}.reply`), {
            timeout: "200 millis",
          })
          .pipe(Effect.flip)
      }),
    )
    expect(error._tag).toBe("ReplyTimeout")
  })

  test("the readiness probe succeeds on a live connection", () => bus.run(commandBusReady))

  test("building the Layer fails with CommandBusError when the broker stays unreachable", async () => {
    const unreachable = Layer.setConfigProvider(
      ConfigProvider.fromMap(new Map([["AMQP_URL", "amqp://guest:guest@127.0.0.1:1"]])),
    )
    const exit = await Effect.runPromiseExit(
      Effect.scoped(Layer.build(CommandBusLive("order", { setupRetry: Schedule.recurs(2) }))).pipe(
        Effect.provide(unreachable),
      ),
    )
    expect(Exit.isFailure(exit) && Cause.failureOption(exit.cause).pipe(Option.map((error) => error._tag))).toEqual(
      Option.some("CommandBusError"),
    )
  })
})

/** Closes this process's connections named `name` from the broker's side, as a broker restart would. */
const forceClose = async (name: string) => {
  const list = Bun.spawn(["rabbitmqctl", "list_connections", "pid", "client_properties", "-q"], { stdout: "pipe" })
  const rows = (await new Response(list.stdout).text()).split("\n")
  const pids = rows
    .filter((row) => row.includes(`{"connection_name","${name}"}`))
    .map((row) => row.split("\t")[0] ?? "")
  expect(pids.length).toBeGreaterThan(0)
  for (const pid of pids) await Bun.spawn(["rabbitmqctl", "close_connection", pid, "test: broker went away"]).exited
}

describe("CommandBus after the broker closed its connection", () => {
  // Needs the broker's CLI on this machine (scripts/infra provisions it); skipped against a remote broker.
  test.skipIf(Bun.which("rabbitmqctl") === null)("reconnects, resubscribes its consumers and sends again", async () => {
    const connectionName = `commerce-mesh/test-${crypto.randomUUID().slice(0, 8)}`
    const reconnecting = testRuntime(CommandBusLive("order", { connectionName }))
    const queue = uniqueQueue("reconnect")
    try {
      const handled = await reconnecting.run(
        Effect.gen(function* () {
          const command = reserveCart(queue)
          const commandBus = yield* CommandBus
          const received = yield* Queue.unbounded<string>()
          yield* commandBus.consume(command, (payload) => Queue.offer(received, payload.cartId))
          yield* commandBus.send(command, { cartId: "before", quantity: 1 })
          const before = yield* takeWithin(received)
          yield* Effect.promise(() => forceClose(connectionName))
          yield* commandBus.send(command, { cartId: "after", quantity: 1 })
          const after = yield* takeWithin(received)
          yield* commandBus.ready
          return [before, after]
        }).pipe(Effect.scoped),
      )
      expect(handled).toEqual(["before", "after"])
    } finally {
      await reconnecting.dispose()
    }
  })
})

/** What `rabbitmqctl <args> -q` prints, as rows of tab-separated columns. */
const rabbitmqctlRows = async (...args: ReadonlyArray<string>) => {
  const run = Bun.spawn(["rabbitmqctl", ...args, "-q"], { stdout: "pipe" })
  return (await new Response(run.stdout).text()).split("\n").map((line) => line.split("\t"))
}

/** The name of the policy the broker applies to one queue ("" when none). */
const policyOf = async (queue: string) => {
  const row = (await rabbitmqctlRows("list_queues", "name", "policy")).find(([name]) => name === queue)
  expect(row).toBeDefined()
  return row?.[1] ?? ""
}

const stateDir = process.env.COMMERCE_MESH_STATE ?? `${process.env.HOME}/.cache/commerce-mesh/state`
const brokerStartedByUpSh =
  Bun.which("rabbitmqctl") !== null && (await Bun.file(`${stateDir}/rabbitmq/managed`).exists())

describe("queues on the broker scripts/infra/up.sh started", () => {
  // Every test run names its queues after itself; they used to stay for good, and a broker with ~1000 of
  // them on disk never finished booting. A policy lets them go 10 minutes after their last use.
  test.skipIf(!brokerStartedByUpSh)(
    "a test run's queues expire after their last use, the mesh's own never",
    async () => {
      const channel = await rawChannel()
      const throwaway = `test_expiry_${crypto.randomUUID().slice(0, 8)}.cart.reserve`
      const kept = `cart.expiry-check-${crypto.randomUUID().slice(0, 8)}`
      try {
        await channel.assertQueue(throwaway, { durable: true })
        await channel.assertQueue(kept, { durable: true })
        expect(await policyOf(throwaway)).toBe("throwaway-queues")
        expect(await policyOf(kept)).toBe("")
        const policy = (await rabbitmqctlRows("list_policies")).find((row) => row.includes("throwaway-queues"))
        expect(policy?.find((column) => column.includes("expires"))).toBe('{"expires":600000}')
      } finally {
        await channel.deleteQueue(throwaway)
        await channel.deleteQueue(kept)
        await channel.close()
      }
    },
  )
})
