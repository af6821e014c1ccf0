/**
 * Consuming a queue: a subscription that survives reconnections and drains on close, and the
 * settlement of each message — ack, delayed retry, or dead letter.
 *
 * Retries are delayed by per-delay TTL queues: a failed message is re-published, with its attempt
 * number in the `x-attempt` header, to `<queue>.retry.<ms>ms`, a queue nobody consumes whose
 * `x-message-ttl` is that delay and whose dead-letter target is the original queue. Every message in
 * one retry queue waits the same time, so expiry stays in FIFO order (a single queue with per-message
 * TTLs would hold a short delay behind a long one), and the consumer never sleeps on a message: the
 * rest of the queue keeps flowing. The copy is confirmed before the original is acked, so a crash in
 * between duplicates a message (consumers are idempotent by id) but never loses one.
 */
import type { ConfirmChannel, ConsumeMessage, Options } from "amqplib"
import { Cause, Deferred, type Duration, Effect, Either, Exit, FiberSet, Runtime } from "effect"
import { deadLetters, messagesHandled } from "../metrics.ts"
import {
  type BusConnection,
  CommandBusError,
  declareQueue,
  describeError,
  durationMillis,
  type Live,
  publishConfirmed,
} from "./connection.ts"

export interface RetryPolicy {
  /** Deliveries of one message, the first included, before it goes to the dead-letter queue. */
  readonly maxAttempts: number
  readonly initialDelay: Duration.DurationInput
  readonly factor: number
  readonly maxDelay: Duration.DurationInput
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  initialDelay: "1 second",
  factor: 4,
  maxDelay: "1 minute",
}

export const deadLetterQueueName = (queue: string) => `${queue}.dlq`
export const retryQueueName = (queue: string, delayMillis: number) => `${queue}.retry.${delayMillis}ms`

/** The wait before delivery `attempt + 1`, after delivery `attempt` failed. No jitter: each delay is a queue. */
export const retryDelayMillis = (policy: RetryPolicy, attempt: number) =>
  Math.max(
    1,
    Math.round(
      Math.min(durationMillis(policy.initialDelay) * policy.factor ** (attempt - 1), durationMillis(policy.maxDelay)),
    ),
  )

/** The queue, its dead-letter queue and one retry queue per distinct delay of the policy. */
export const declareTopology = (live: Live, queue: string, policy: RetryPolicy) =>
  Effect.gen(function* () {
    yield* declareQueue(live, queue)
    yield* declareQueue(live, deadLetterQueueName(queue))
    const delays = new Set<number>()
    for (let attempt = 1; attempt < policy.maxAttempts; attempt++) delays.add(retryDelayMillis(policy, attempt))
    for (const delay of delays) {
      yield* declareQueue(live, retryQueueName(queue, delay), {
        durable: true,
        arguments: { "x-message-ttl": delay, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue },
      })
    }
  })

export interface Subscription<R> {
  readonly queue: string
  readonly prefetch: number
  readonly drainTimeout: Duration.DurationInput
  readonly declare: (live: Live) => Effect.Effect<void, CommandBusError>
  readonly onMessage: (channel: ConfirmChannel, message: ConsumeMessage) => Effect.Effect<void, never, R>
}

/**
 * Consumes `queue` until the enclosing scope closes. The first subscription's failure is this
 * Effect's failure; later ones (after a reconnection) are retried every second in the background.
 * Closing the scope cancels the consumer, waits for in-flight messages (up to `drainTimeout`),
 * then closes the channel; whatever is still unacked then is redelivered by the broker.
 */
export const subscribe = <R>(connection: BusConnection, subscription: Subscription<R>) =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const started = yield* Deferred.make<void, CommandBusError>()

    const consumeOn = (live: Live) =>
      Effect.gen(function* () {
        const channel = yield* Effect.acquireRelease(
          Effect.tryPromise({
            try: () => live.connection.createConfirmChannel(),
            catch: (error) =>
              new CommandBusError({ message: `cannot open a channel: ${describeError(error)}`, cause: error }),
          }),
          (channel) => Effect.promise(() => channel.close().catch(() => undefined)),
        )
        const closed = yield* Deferred.make<void>()
        const signalClosed = () => Runtime.runSync(runtime)(Deferred.succeed(closed, undefined))
        channel.on("error", (error: unknown) =>
          Runtime.runFork(runtime)(
            Effect.logWarning("consumer channel error").pipe(
              Effect.annotateLogs({ queue: subscription.queue, error: describeError(error) }),
            ),
          ),
        )
        channel.on("close", signalClosed)
        yield* subscription.declare(live)
        yield* Effect.tryPromise({
          try: () => channel.prefetch(subscription.prefetch),
          catch: (error) =>
            new CommandBusError({ message: `cannot set prefetch: ${describeError(error)}`, cause: error }),
        })
        const inFlight = yield* FiberSet.make<void, never>()
        const run = yield* FiberSet.runtime(inFlight)<R>()
        yield* Effect.acquireRelease(
          Effect.tryPromise({
            try: () =>
              channel.consume(
                subscription.queue,
                // null: the broker cancelled the consumer (the queue was deleted); resubscribing re-declares it.
                (message) => (message === null ? signalClosed() : run(subscription.onMessage(channel, message))),
                { noAck: false },
              ),
            catch: (error) =>
              new CommandBusError({
                message: `cannot consume ${subscription.queue}: ${describeError(error)}`,
                cause: error,
              }),
          }),
          ({ consumerTag }) =>
            Effect.promise(() => channel.cancel(consumerTag).catch(() => undefined)).pipe(
              Effect.zipRight(
                FiberSet.awaitEmpty(inFlight).pipe(Effect.timeout(subscription.drainTimeout), Effect.ignore),
              ),
            ),
        )
        yield* Deferred.succeed(started, undefined)
        yield* Deferred.await(closed)
      }).pipe(Effect.scoped)

    const loop = Effect.gen(function* () {
      while (true) {
        const exit = yield* connection.awaitLive.pipe(Effect.flatMap(consumeOn), Effect.exit)
        if (!(yield* Deferred.isDone(started))) {
          yield* Deferred.done(started, exit)
          return
        }
        if (Exit.isFailure(exit)) {
          yield* Effect.logWarning("consumer cannot resubscribe yet").pipe(
            Effect.annotateLogs({ queue: subscription.queue, error: Cause.pretty(exit.cause) }),
          )
          yield* Effect.sleep("1 second")
        } else {
          yield* Effect.logWarning("consumer channel closed; resubscribing").pipe(
            Effect.annotateLogs("queue", subscription.queue),
          )
        }
      }
    })
    yield* Effect.forkScoped(loop)
    yield* Deferred.await(started)
  })

const maxHeaderText = 1_000
const truncate = (text: string) => (text.length > maxHeaderText ? `${text.slice(0, maxHeaderText)}…` : text)

export const describeCause = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  if (typeof error === "object" && error !== null && "_tag" in error) {
    const message =
      "message" in error && typeof error.message === "string" && error.message.length > 0 ? error.message : ""
    return message.length > 0 ? `${String(error._tag)}: ${message}` : String(error._tag)
  }
  return describeError(error)
}

const attemptOf = (message: ConsumeMessage) => {
  const value: unknown = message.properties.headers?.["x-attempt"]
  return typeof value === "number" && Number.isInteger(value) && value >= 1 ? value : 1
}

/** A copy of the message's properties for re-publishing, without the broker's own death history. */
const copyOf = (message: ConsumeMessage, headers: Record<string, unknown>): Options.Publish => {
  const kept: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(message.properties.headers ?? {})) {
    if (key !== "x-death" && !key.startsWith("x-first-death") && !key.startsWith("x-last-death")) kept[key] = value
  }
  const { properties } = message
  return {
    persistent: true,
    contentType: properties.contentType,
    messageId: properties.messageId,
    correlationId: properties.correlationId,
    replyTo: properties.replyTo,
    type: properties.type,
    timestamp: properties.timestamp,
    headers: { ...kept, ...headers },
  }
}

export interface Settlement<R> {
  readonly service: string
  readonly queue: string
  readonly retry: RetryPolicy
  /** Left: why the message is malformed. Right: the handler's work, which may fail or die. */
  readonly process: (message: ConsumeMessage, attempt: number) => Either.Either<Effect.Effect<void, unknown, R>, string>
}

/** Handles one delivery and settles it exactly once: ack, re-publish for a retry, or dead-letter. Never fails. */
export const settle = <R>(settlement: Settlement<R>, channel: ConfirmChannel, message: ConsumeMessage) => {
  const { service, queue, retry } = settlement
  const count = (outcome: "ok" | "retry" | "dead_letter") =>
    Effect.sync(() => messagesHandled.add({ service, transport: "amqp", queue, outcome }))
  const ack = Effect.try({
    try: () => channel.ack(message),
    catch: (error) => new CommandBusError({ message: `cannot ack: ${describeError(error)}`, cause: error }),
  })
  const deadLetter = (reason: "malformed" | "exhausted", detail: string, attempt: number) =>
    publishConfirmed(
      channel,
      deadLetterQueueName(queue),
      message.content,
      copyOf(message, {
        "x-dead-letter-reason": reason,
        "x-dead-letter-error": truncate(detail),
        "x-attempts": attempt,
        "x-original-queue": queue,
      }),
    ).pipe(
      Effect.zipRight(ack),
      Effect.zipRight(count("dead_letter")),
      Effect.zipRight(Effect.sync(() => deadLetters.inc({ service, queue, reason }))),
      Effect.zipRight(
        Effect.logWarning("message dead-lettered").pipe(
          Effect.annotateLogs({ reason, error: truncate(detail), attempt }),
        ),
      ),
    )

  return Effect.gen(function* () {
    const attempt = attemptOf(message)
    const work = settlement.process(message, attempt)
    if (Either.isLeft(work)) return yield* deadLetter("malformed", work.left, attempt)
    const exit = yield* Effect.exit(work.right)
    if (Exit.isSuccess(exit)) {
      yield* ack
      return yield* count("ok")
    }
    // Interrupted by a drain timeout: leave it unacked; the broker redelivers it when the channel closes.
    if (Cause.isInterruptedOnly(exit.cause)) return
    const error = describeCause(exit.cause)
    if (attempt >= retry.maxAttempts)
      return yield* deadLetter("exhausted", `after ${attempt} attempts: ${error}`, attempt)
    const delay = retryDelayMillis(retry, attempt)
    yield* publishConfirmed(
      channel,
      retryQueueName(queue, delay),
      message.content,
      copyOf(message, { "x-attempt": attempt + 1, "x-last-error": truncate(error) }),
    )
    yield* ack
    yield* count("retry")
    yield* Effect.logInfo("message failed; retry scheduled").pipe(
      Effect.annotateLogs({ attempt, delayMillis: delay, error }),
    )
  }).pipe(
    Effect.annotateLogs({ queue, messageId: String(message.properties.messageId) }),
    // Settling failed (the channel died mid-way): requeue so the message is not stuck unacked on a live channel.
    Effect.catchAllCause((cause) =>
      Effect.logError("cannot settle message; requeued").pipe(
        Effect.annotateLogs({ queue, error: Cause.pretty(cause) }),
        Effect.zipRight(Effect.try(() => channel.nack(message, false, true)).pipe(Effect.ignore)),
      ),
    ),
  ) satisfies Effect.Effect<void, never, R>
}
