/**
 * Consumes the checkout saga's commands (cart.reserve, cart.release, cart.clear) from RabbitMQ and answers
 * each on its replyTo queue. A handler that fails (the database away) is retried by the bus with backoff
 * and then dead-lettered; a message that does not decode goes straight to the dead-letter queue. A retry or
 * a redelivery is harmless: Carts answers a repeated command from its stored reply.
 *
 * Reserve and clear, the commands of every checkout, are group-committed: the ones in flight at the same
 * moment (up to the consumer's prefetch) are decided and written in one transaction, each answered with
 * its own reply.
 */
import { Effect, Exit, Layer } from "effect"
import {
  type CartCommand,
  CartClearedReply,
  CartReleasedReply,
  CartReservedReply,
  ClearCart,
  ReleaseCart,
  ReserveCart,
} from "../../rpc/cart.ts"
import { CommandBus, type ConsumeOptions } from "../../src/commands/index.ts"
import { makeGroupCommit } from "../../src/group-commit.ts"
import { Carts } from "./carts.ts"

/** The commands consumed; tests pass copies on queues of their own. */
export interface SagaCommandQueues {
  readonly reserve: typeof ReserveCart
  readonly release: typeof ReleaseCart
  readonly clear: typeof ClearCart
}

export const defaultQueues: SagaCommandQueues = { reserve: ReserveCart, release: ReleaseCart, clear: ClearCart }

export const SagaCommandsLive = (queues: SagaCommandQueues = defaultQueues, options: ConsumeOptions = {}) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const bus = yield* CommandBus
      const carts = yield* Carts
      const reserve = yield* makeGroupCommit("cart.reserve", (commands: ReadonlyArray<CartCommand>) =>
        Effect.map(carts.reserveMany(commands), (replies) => replies.map(Exit.succeed)),
      )
      const clear = yield* makeGroupCommit("cart.clear", (commands: ReadonlyArray<CartCommand>) =>
        Effect.map(carts.clearMany(commands), (replies) => replies.map(Exit.succeed)),
      )
      // Enough in flight for the group commit to gather a batch under load.
      const batched = { prefetch: 64, ...options }
      yield* bus.consume(
        queues.reserve,
        (command, delivery) =>
          reserve(command).pipe(Effect.flatMap((reply) => delivery.reply(CartReservedReply, reply))),
        batched,
      )
      yield* bus.consume(
        queues.release,
        (command, delivery) =>
          carts.release(command).pipe(Effect.flatMap((reply) => delivery.reply(CartReleasedReply, reply))),
        options,
      )
      yield* bus.consume(
        queues.clear,
        (command, delivery) => clear(command).pipe(Effect.flatMap((reply) => delivery.reply(CartClearedReply, reply))),
        batched,
      )
      yield* Effect.logDebug("saga command consumers started")
    }),
  )
