/**
 * The RabbitMQ command bus: typed, versioned commands (envelope.ts) sent to durable queues with
 * publisher confirms, consumed with manual acks, bounded delayed retries and a dead-letter queue per
 * queue, and a request/reply pattern for the saga.
 *
 * Request/reply: a command may name a `replyTo` queue; its handler answers with `delivery.reply(...)`,
 * which sends the reply there with `correlationId` = the command's id and a reply id derived from it,
 * so a redelivered command replies with the same id. `sendAndAwait` does all of this for a caller
 * that waits: each bus has its own reply queue (`<service>.replies.<random>`, deleted by the broker a
 * minute after its process is gone) and matches replies to waiters by correlation id. A reply that
 * arrives after its waiter gave up is dropped; the saga retries the step with the same command id.
 * A saga that would rather not wait in memory can name a durable queue as `replyTo` and `consume` it.
 */
import {
  Context,
  Data,
  DateTime,
  Deferred,
  type Duration,
  Effect,
  Either,
  Exit,
  Layer,
  Schedule,
  Schema,
  Scope,
} from "effect"
import type { Options } from "amqplib"
import { commandQueuePrefix, type ServiceName } from "../config.ts"
import {
  type BusConnection,
  CommandBusError,
  type ConnectionOptions,
  declareQueue,
  defaultConnectionOptions,
  makeConnection,
  publishConfirmed,
  withChannel,
} from "./connection.ts"
import {
  type Command,
  type CommandEnvelope,
  CommandEnvelopeJson,
  decodeCommands,
  decodeEnvelopes,
  formatParseError,
} from "./envelope.ts"
import { makeGroupCommit } from "../group-commit.ts"
import { declareTopology, defaultRetryPolicy, type RetryPolicy, settle, subscribe } from "./consumer.ts"
import { queueDepth } from "../metrics.ts"

export { type Command, CommandEnvelope, defineCommand } from "./envelope.ts"
export { CommandBusError } from "./connection.ts"
export { deadLetterQueueName, type RetryPolicy, retryQueueName } from "./consumer.ts"

export class ReplyTimeout extends Data.TaggedError("ReplyTimeout")<{ readonly type: string; readonly id: string }> {}

export interface SendOptions {
  /** Idempotency id of the command (default: a random UUID); also the AMQP messageId. */
  readonly id?: string
  /** The queue the handler's reply goes to. */
  readonly replyTo?: string
  readonly correlationId?: string
}

export interface ConsumeOptions {
  /** Unacked messages in flight on this consumer, i.e. its concurrency (default 10). */
  readonly prefetch?: number
  readonly retry?: Partial<RetryPolicy>
  /** How long closing the consumer waits for in-flight handlers (default 10 seconds). */
  readonly drainTimeout?: Duration.DurationInput
}

/** What a handler knows about the message besides its payload. */
export interface Delivery {
  readonly id: string
  readonly type: string
  readonly version: number
  readonly occurredAt: DateTime.Utc
  /** 1 on the first delivery, n on the n-th try. */
  readonly attempt: number
  readonly replyTo: string | undefined
  readonly correlationId: string | undefined
  /** Sends `payload` to the command's `replyTo` queue; does nothing when the sender asked for no reply. */
  readonly reply: <T extends string, B, J>(
    command: Command<T, B, J>,
    payload: B,
  ) => Effect.Effect<void, CommandBusError>
}

export interface CommandBusApi {
  /** Completes once the broker has confirmed the (persistent) message; returns the command id. */
  readonly send: <T extends string, A, I>(
    command: Command<T, A, I>,
    payload: A,
    options?: SendOptions,
  ) => Effect.Effect<string, CommandBusError>
  /** Consumes the command's queue until the scope closes. */
  readonly consume: <T extends string, A, I, E, R>(
    command: Command<T, A, I>,
    handler: (payload: A, delivery: Delivery) => Effect.Effect<void, E, R>,
    options?: ConsumeOptions,
  ) => Effect.Effect<void, CommandBusError, Scope.Scope | R>
  /** Sends a command and waits for its reply (default timeout 10 seconds). */
  readonly sendAndAwait: <T extends string, A, I, U extends string, B, J>(
    command: Command<T, A, I>,
    payload: A,
    reply: Command<U, B, J>,
    options?: { readonly id?: string; readonly timeout?: Duration.DurationInput },
  ) => Effect.Effect<B, CommandBusError | ReplyTimeout>
  /** Messages ready in a queue; also sets the queue_depth gauge. */
  readonly checkQueue: (queue: string) => Effect.Effect<number, CommandBusError>
  /** Fails unless the broker answers on the current connection. */
  readonly ready: Effect.Effect<void, CommandBusError>
}

export class CommandBus extends Context.Tag("platform/CommandBus")<CommandBus, CommandBusApi>() {}

/** A command on its way to a queue: its envelope, and the envelope as JSON. */
interface Outgoing {
  readonly envelope: CommandEnvelope
  readonly body: string
  readonly declare: boolean
}

/** One envelope as itself; several as a JSON array of them (decodeEnvelopes reads both). */
const bodyOf = (batch: ReadonlyArray<Outgoing>) =>
  batch.length === 1 ? (batch[0]?.body ?? "") : `[${batch.map((outgoing) => outgoing.body).join(",")}]`

const typesOf = (batch: ReadonlyArray<Outgoing>) =>
  [...new Set(batch.map((outgoing) => outgoing.envelope.type))].join(", ")

/** AMQP properties: a lone command's own; a batch's name its first id and how many follow (the envelopes hold the rest). */
const propertiesOf = (service: ServiceName, batch: ReadonlyArray<Outgoing>): Options.Publish => {
  const first = batch[0]?.envelope
  const types = typesOf(batch)
  return {
    persistent: true,
    contentType: "application/json",
    messageId: batch.length === 1 ? first?.id : `${first?.id}+${batch.length - 1}`,
    type: types.includes(",") ? "batch" : types,
    timestamp: first === undefined ? undefined : Math.floor(DateTime.toEpochMillis(first.occurredAt) / 1000),
    appId: service,
    replyTo: batch.length === 1 ? first?.replyTo : undefined,
    correlationId: batch.length === 1 ? first?.correlationId : undefined,
  }
}

/** The handlers of a message's commands, side by side; the message fails (and is retried whole) if any failed. */
const handleAll = <E, R>(work: ReadonlyArray<Effect.Effect<void, E, R>>): Effect.Effect<void, E, R> =>
  Effect.forEach(work, Effect.exit, { concurrency: "unbounded" }).pipe(
    Effect.flatMap((exits) => exits.find(Exit.isFailure) ?? Effect.void),
  )

const publishRetry = Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(3)))

/** Connection Schedules, timeouts and the connection's name as the broker shows it; every field has a default. */
export type CommandBusOptions = Partial<ConnectionOptions>

const makeCommandBus = (service: ServiceName, options: CommandBusOptions) =>
  Effect.gen(function* () {
    const connectionOptions: ConnectionOptions = { ...defaultConnectionOptions, ...options }
    const queuePrefix = yield* commandQueuePrefix
    const queueOf = (command: { readonly queue: string }) => `${queuePrefix}${command.queue}`
    const connection: BusConnection = yield* makeConnection(service, connectionOptions)
    const layerScope = yield* Effect.scope

    // What was sent to one queue at the same moment travels as one AMQP message — one publish and
    // confirm here, one delivery and ack at the consumer — so the sagas stepping together on a beat
    // send their commands (and the consumer its replies) as one message each.
    const deliver = (queue: string, batch: ReadonlyArray<Outgoing>) =>
      connection.waitLive.pipe(
        Effect.tap((live) => (batch.some((outgoing) => outgoing.declare) ? declareQueue(live, queue) : Effect.void)),
        Effect.flatMap((live) =>
          publishConfirmed(live.publisher, queue, Buffer.from(bodyOf(batch)), propertiesOf(service, batch)),
        ),
        // A send racing a dying connection fails on its channel; the same ids on the next connection are harmless.
        Effect.retry(publishRetry),
        Effect.timeoutFail({
          duration: connectionOptions.sendTimeout,
          onTimeout: () =>
            new CommandBusError({ message: `no broker confirm for ${typesOf(batch)} to ${queue} in time` }),
        }),
        Effect.as(batch.map(() => Exit.void)),
      )
    const senders = new Map<string, (outgoing: Outgoing) => Effect.Effect<void, CommandBusError>>()
    const sendersLock = yield* Effect.makeSemaphore(1)
    const senderFor = (queue: string) =>
      Effect.suspend(() => {
        const known = senders.get(queue)
        return known !== undefined
          ? Effect.succeed(known)
          : sendersLock.withPermits(1)(
              Effect.suspend(() => {
                const raced = senders.get(queue)
                if (raced !== undefined) return Effect.succeed(raced)
                return makeGroupCommit(
                  `commands.${queue.includes(".replies.") ? "replies" : queue}`,
                  (batch: ReadonlyArray<Outgoing>) => deliver(queue, batch),
                ).pipe(
                  Scope.extend(layerScope),
                  Effect.tap((sender) => Effect.sync(() => senders.set(queue, sender))),
                )
              }),
            )
      })

    const publish = <T extends string, A, I>(
      command: Command<T, A, I>,
      queue: string,
      payload: A,
      options: SendOptions & { readonly declare: boolean },
    ) =>
      Effect.gen(function* () {
        const encoded = yield* Schema.encode(command.payload)(payload).pipe(
          Effect.mapError(
            (error) => new CommandBusError({ message: `cannot encode ${command.type}: ${formatParseError(error)}` }),
          ),
        )
        const id = options.id ?? crypto.randomUUID()
        const envelope: CommandEnvelope = {
          type: command.type,
          version: command.version,
          id,
          occurredAt: yield* DateTime.now,
          payload: encoded,
          ...(options.replyTo === undefined ? {} : { replyTo: options.replyTo }),
          ...(options.correlationId === undefined ? {} : { correlationId: options.correlationId }),
        }
        const body = yield* Schema.encode(CommandEnvelopeJson)(envelope).pipe(
          Effect.mapError(
            (error) => new CommandBusError({ message: `cannot encode envelope: ${formatParseError(error)}` }),
          ),
        )
        const sender = yield* senderFor(queue)
        yield* sender({ envelope, body, declare: options.declare })
        return id
      }).pipe(Effect.withSpan("CommandBus.send", { attributes: { type: command.type, queue } }))

    const send: CommandBusApi["send"] = (command, payload, options = {}) =>
      publish(command, queueOf(command), payload, { ...options, declare: true })

    const reply =
      (envelope: CommandEnvelope): Delivery["reply"] =>
      (command, payload) =>
        envelope.replyTo === undefined
          ? Effect.void
          : publish(command, envelope.replyTo, payload, {
              id: `${envelope.id}:${command.type}`,
              correlationId: envelope.id,
              // The requester owns its reply queue and its arguments; declaring it here could conflict.
              declare: false,
            }).pipe(Effect.asVoid)

    const consume: CommandBusApi["consume"] = (command, handler, options = {}) => {
      const retry = { ...defaultRetryPolicy, ...options.retry }
      const queue = queueOf(command)
      return subscribe(connection, {
        queue,
        prefetch: options.prefetch ?? 10,
        drainTimeout: options.drainTimeout ?? "10 seconds",
        declare: (live) => declareTopology(live, queue, retry),
        onMessage: (channel, message) =>
          settle(
            {
              service,
              queue,
              retry,
              process: (message, attempt) =>
                Either.map(decodeCommands(command, message.content.toString("utf8")), (commands) =>
                  handleAll(
                    commands.map(({ envelope, payload }) =>
                      // suspend: a handler that throws while building its Effect is a defect of this message only.
                      Effect.suspend(() =>
                        handler(payload, {
                          id: envelope.id,
                          type: envelope.type,
                          version: envelope.version,
                          occurredAt: envelope.occurredAt,
                          attempt,
                          replyTo: envelope.replyTo,
                          correlationId: envelope.correlationId,
                          reply: reply(envelope),
                        }),
                      ).pipe(
                        Effect.withSpan("CommandBus.handle", {
                          attributes: { type: command.type, id: envelope.id, attempt },
                        }),
                        Effect.annotateLogs({ commandType: command.type, commandId: envelope.id, attempt }),
                      ),
                    ),
                  ),
                ),
            },
            channel,
            message,
          ),
      })
    }

    // Replies for sendAndAwait: one queue per bus, consumed from the first call on, waiters by correlation id.
    const replyQueue = `${service}.replies.${crypto.randomUUID().slice(0, 8)}`
    const waiters = new Map<string, Deferred.Deferred<CommandEnvelope>>()
    const inboxLock = yield* Effect.makeSemaphore(1)
    let inboxStarted = false
    const startInbox = inboxLock.withPermits(1)(
      Effect.suspend(() =>
        inboxStarted
          ? Effect.void
          : subscribe(connection, {
              queue: replyQueue,
              prefetch: 50,
              drainTimeout: "1 second",
              // x-expires instead of exclusive/auto-delete: the queue must outlive a reconnection.
              declare: (live) => declareQueue(live, replyQueue, { durable: false, arguments: { "x-expires": 60_000 } }),
              onMessage: (channel, message) =>
                Effect.gen(function* () {
                  const envelopes = decodeEnvelopes(message.content.toString("utf8"))
                  if (Either.isLeft(envelopes)) {
                    yield* Effect.logDebug("undecodable reply dropped").pipe(
                      Effect.annotateLogs({ queue: replyQueue, error: envelopes.left }),
                    )
                  }
                  for (const envelope of Either.getOrElse(envelopes, () => [])) {
                    const waiter =
                      envelope.correlationId === undefined ? undefined : waiters.get(envelope.correlationId)
                    if (waiter !== undefined) yield* Deferred.succeed(waiter, envelope)
                    else
                      yield* Effect.logDebug("reply without a waiter dropped").pipe(
                        Effect.annotateLogs("queue", replyQueue),
                      )
                  }
                  yield* Effect.try(() => channel.ack(message)).pipe(Effect.ignore)
                }),
            }).pipe(
              Scope.extend(layerScope),
              Effect.tap(() => {
                inboxStarted = true
              }),
            ),
      ),
    )

    const sendAndAwait: CommandBusApi["sendAndAwait"] = (command, payload, replyCommand, options = {}) =>
      Effect.gen(function* () {
        yield* startInbox
        const id = options.id ?? crypto.randomUUID()
        const timeout = options.timeout ?? "10 seconds"
        const envelope = yield* Effect.acquireUseRelease(
          Deferred.make<CommandEnvelope>().pipe(Effect.tap((waiter) => Effect.sync(() => waiters.set(id, waiter)))),
          (waiter) =>
            publish(command, queueOf(command), payload, { id, replyTo: replyQueue, declare: true }).pipe(
              Effect.zipRight(Deferred.await(waiter)),
              Effect.timeoutFail({
                duration: timeout,
                onTimeout: () => new ReplyTimeout({ type: command.type, id }),
              }),
            ),
          (waiter) => Effect.sync(() => waiters.get(id) === waiter && waiters.delete(id)),
        )
        if (envelope.type !== replyCommand.type || envelope.version !== replyCommand.version) {
          return yield* new CommandBusError({
            message: `expected reply ${replyCommand.type} v${replyCommand.version}, got ${envelope.type} v${envelope.version}`,
          })
        }
        return yield* Schema.decodeUnknown(replyCommand.payload)(envelope.payload).pipe(
          Effect.mapError((error) => new CommandBusError({ message: `malformed reply: ${formatParseError(error)}` })),
        )
      }).pipe(Effect.withSpan("CommandBus.sendAndAwait", { attributes: { type: command.type } }))

    const checkQueue: CommandBusApi["checkQueue"] = (queue) =>
      connection.awaitLive.pipe(
        Effect.flatMap((live) =>
          withChannel(live, `cannot check queue ${queue}`, (channel) => channel.checkQueue(queue)),
        ),
        Effect.map(({ messageCount }) => messageCount),
        Effect.tap((depth) => Effect.sync(() => queueDepth.set({ service, queue }, depth))),
      )

    const ready: CommandBusApi["ready"] = connection.current.pipe(
      Effect.flatMap((live) =>
        live._tag === "None"
          ? Effect.fail(new CommandBusError({ message: "RabbitMQ is not connected" }))
          : // Opening and closing a channel is a round trip to the broker on the live connection.
            withChannel(live.value, "RabbitMQ did not answer", () => Promise.resolve()),
      ),
    )

    const bus: CommandBusApi = { send, consume, sendAndAwait, checkQueue, ready }
    return bus
  })

/**
 * The command bus of `service`. Building it connects (retried with a bounded Schedule, then the Layer
 * fails); afterwards a lost connection is re-opened in the background and consumers resubscribe.
 */
export const CommandBusLive = (service: ServiceName, options: CommandBusOptions = {}) =>
  Layer.scoped(CommandBus, makeCommandBus(service, options))

/** Readiness probe for the side port. */
export const commandBusReady = Effect.flatMap(CommandBus, (bus) => bus.ready)

/** Samples a queue's depth into the queue_depth gauge. */
export const checkQueue = (queue: string) => Effect.flatMap(CommandBus, (bus) => bus.checkQueue(queue))
