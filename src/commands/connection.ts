/**
 * The RabbitMQ connection behind the command bus: one connection and one confirm channel for
 * publishing, kept alive by a supervisor fiber. The first connection is retried with a bounded
 * Schedule and fails the Layer when the broker stays away; once up, a lost connection is re-opened
 * with a capped exponential Schedule that never gives up, because a service that outlives a broker
 * restart should heal by itself (its readiness probe reports the outage meanwhile).
 */
import { type Channel, type ChannelModel, type ConfirmChannel, connect, type Options } from "amqplib"
import { Data, Deferred, Duration, Effect, Exit, Option, Redacted, Ref, Runtime, Schedule, Scope } from "effect"
import { amqpUrl } from "../config.ts"

export class CommandBusError extends Data.TaggedError("CommandBusError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export const describeError = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** One open connection. `declared` caches queue declarations, which a new connection must repeat. */
export interface Live {
  readonly connection: ChannelModel
  readonly publisher: ConfirmChannel
  readonly lost: Deferred.Deferred<string>
  readonly declared: Set<string>
}

export interface BusConnection {
  /** The open connection; waits for a reconnection in progress, up to the connect timeout. */
  readonly awaitLive: Effect.Effect<Live, CommandBusError>
  /** The open connection, waiting as long as a reconnection takes (callers bound it themselves). */
  readonly waitLive: Effect.Effect<Live>
  /** The open connection, if there is one right now (for readiness). */
  readonly current: Effect.Effect<Option.Option<Live>>
}

export interface ConnectionOptions {
  readonly setupRetry: Schedule.Schedule<unknown, CommandBusError>
  readonly reconnectRetry: Schedule.Schedule<unknown, CommandBusError>
  readonly connectTimeout: Duration.DurationInput
  /** Bounds a send from start to broker confirm, waiting for a reconnection and retries included. */
  readonly sendTimeout: Duration.DurationInput
  /** Shown by the broker (`rabbitmqctl list_connections client_properties`); default `commerce-mesh/<service>`. */
  readonly connectionName?: string
}

export const defaultConnectionOptions: ConnectionOptions = {
  setupRetry: Schedule.exponential("200 millis").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(7))),
  reconnectRetry: Schedule.exponential("200 millis").pipe(
    Schedule.jittered,
    Schedule.union(Schedule.spaced("5 seconds")),
  ),
  connectTimeout: "10 seconds",
  sendTimeout: "10 seconds",
}

const closeQuietly = (closable: { close(): Promise<void> }) =>
  Effect.promise(() => closable.close().catch(() => undefined))

export const makeConnection = (service: string, options: ConnectionOptions) =>
  Effect.gen(function* () {
    const url = Redacted.value(yield* amqpUrl)
    const runtime = yield* Effect.runtime<never>()
    const runSync = Runtime.runSync(runtime)
    const runFork = Runtime.runFork(runtime)

    const open = Effect.gen(function* () {
      const connection = yield* Effect.acquireRelease(
        Effect.tryPromise({
          // `timeout` bounds the TCP connect; a broker that accepts but never answers would hang the retry.
          try: () =>
            connect(url, {
              timeout: 5_000,
              clientProperties: { connection_name: options.connectionName ?? `commerce-mesh/${service}` },
            }),
          catch: (error) =>
            new CommandBusError({ message: `cannot connect to RabbitMQ: ${describeError(error)}`, cause: error }),
        }),
        closeQuietly,
      )
      const lost = yield* Deferred.make<string>()
      const signalLost = (reason: string) => runSync(Deferred.succeed(lost, reason))
      // An EventEmitter without an "error" listener throws from inside amqplib's socket handler.
      connection.on("error", (error: unknown) =>
        runFork(
          Effect.logWarning("RabbitMQ connection error").pipe(Effect.annotateLogs("error", describeError(error))),
        ),
      )
      connection.on("close", (error: unknown) =>
        signalLost(error === undefined ? "connection closed" : describeError(error)),
      )
      connection.on("blocked", (reason: unknown) =>
        runFork(
          Effect.logWarning("RabbitMQ blocked publishing (resource alarm)").pipe(
            Effect.annotateLogs("reason", String(reason)),
          ),
        ),
      )
      const publisher = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: () => connection.createConfirmChannel(),
          catch: (error) =>
            new CommandBusError({ message: `cannot open a channel: ${describeError(error)}`, cause: error }),
        }),
        closeQuietly,
      )
      publisher.on("error", (error: unknown) =>
        runFork(
          Effect.logWarning("RabbitMQ publisher channel error").pipe(
            Effect.annotateLogs("error", describeError(error)),
          ),
        ),
      )
      // A publisher channel closed by the broker takes the whole connection with it: re-opening both is
      // simpler than tracking which sends were on the dead channel, and consumers resubscribe anyway.
      publisher.on("close", () => signalLost("publisher channel closed"))
      const live: Live = { connection, publisher, lost, declared: new Set() }
      return live
    })

    // The scope of the open connection is recorded before anything is acquired in it, so closing the
    // Layer closes it even when an interruption lands between acquiring and publishing it.
    const openScope = yield* Ref.make<Option.Option<Scope.CloseableScope>>(Option.none())
    const establish = Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        yield* Ref.set(openScope, Option.some(scope))
        return yield* restore(open).pipe(
          Scope.extend(scope),
          Effect.onExit((exit) => (Exit.isFailure(exit) ? Scope.close(scope, exit) : Effect.void)),
        )
      }),
    )
    const closeOpen = Ref.get(openScope).pipe(
      Effect.flatMap(Option.match({ onNone: () => Effect.void, onSome: (scope) => Scope.close(scope, Exit.void) })),
    )

    const first = yield* establish.pipe(
      Effect.tapError((error) =>
        Effect.logWarning("RabbitMQ not reachable yet").pipe(Effect.annotateLogs("error", error.message)),
      ),
      Effect.retry(options.setupRetry),
    )
    const current = yield* Ref.make(yield* Deferred.make<Live>())
    yield* Ref.get(current).pipe(Effect.flatMap((deferred) => Deferred.succeed(deferred, first)))
    // Registered before the supervisor, so it runs after the supervisor is interrupted (finalizers run in reverse).
    yield* Effect.addFinalizer(() => closeOpen)

    const reconnect = Effect.gen(function* () {
      const next = yield* Deferred.make<Live>()
      yield* Ref.set(current, next)
      yield* closeOpen
      const live = yield* establish.pipe(
        Effect.tapError((error) =>
          Effect.logWarning("RabbitMQ reconnect failed").pipe(Effect.annotateLogs("error", error.message)),
        ),
        Effect.retry(options.reconnectRetry),
      )
      yield* Deferred.succeed(next, live)
      yield* Effect.logInfo("RabbitMQ reconnected")
      return live
    })
    const supervise = (live: Live): Effect.Effect<never> =>
      Deferred.await(live.lost).pipe(
        Effect.tap((reason) =>
          Effect.logWarning("RabbitMQ connection lost").pipe(Effect.annotateLogs("reason", reason)),
        ),
        Effect.zipRight(reconnect),
        // Only reachable with a bounded reconnect Schedule: the bus stays down and readiness says so.
        Effect.tapError((error) =>
          Effect.logError("RabbitMQ reconnect gave up").pipe(Effect.annotateLogs("error", error.message)),
        ),
        Effect.catchAll(() => Effect.never),
        Effect.flatMap(supervise),
      )
    yield* Effect.forkScoped(supervise(first))

    const waitLive = Ref.get(current).pipe(Effect.flatMap(Deferred.await))
    const bus: BusConnection = {
      waitLive,
      awaitLive: waitLive.pipe(
        Effect.timeoutFail({
          duration: options.connectTimeout,
          onTimeout: () => new CommandBusError({ message: "RabbitMQ is not connected" }),
        }),
      ),
      current: Ref.get(current).pipe(
        Effect.flatMap(Deferred.poll),
        Effect.flatMap(Option.match({ onNone: () => Effect.succeedNone, onSome: Effect.asSome })),
      ),
    }
    return bus
  })

/** Runs `use` on a short-lived channel, so a broker error it causes (404, 406) closes only that channel. */
export const withChannel = <A>(live: Live, what: string, use: (channel: Channel) => Promise<A>) =>
  Effect.acquireUseRelease(
    Effect.tryPromise({
      try: () => live.connection.createChannel(),
      catch: (error) =>
        new CommandBusError({ message: `cannot open a channel: ${describeError(error)}`, cause: error }),
    }).pipe(Effect.tap((channel) => Effect.sync(() => channel.on("error", () => undefined)))),
    (channel) =>
      Effect.tryPromise({
        try: () => use(channel),
        catch: (error) => new CommandBusError({ message: `${what}: ${describeError(error)}`, cause: error }),
      }),
    closeQuietly,
  )

/** Declares a queue once per connection. Every declaration of one name must use the same arguments. */
export const declareQueue = (live: Live, queue: string, options: Options.AssertQueue = { durable: true }) =>
  live.declared.has(queue)
    ? Effect.void
    : withChannel(live, `cannot declare queue ${queue}`, (channel) => channel.assertQueue(queue, options)).pipe(
        Effect.tap(() => Effect.sync(() => live.declared.add(queue))),
      )

/**
 * Publishes to a queue through the default exchange and completes when the broker confirmed it.
 * A nack, or the channel closing first, fails. `sendToQueue` returning false only means the socket
 * buffer is full; each caller already waits for its confirm, which bounds what one fiber buffers.
 */
export const publishConfirmed = (channel: ConfirmChannel, queue: string, body: Buffer, options: Options.Publish) =>
  Effect.async<void, CommandBusError>((resume) => {
    try {
      channel.sendToQueue(queue, body, options, (error: unknown) =>
        resume(
          error === null || error === undefined
            ? Effect.void
            : Effect.fail(
                new CommandBusError({
                  message: `broker did not confirm a message to ${queue}: ${describeError(error)}`,
                  cause: error,
                }),
              ),
        ),
      )
    } catch (error) {
      resume(
        Effect.fail(
          new CommandBusError({ message: `cannot publish to ${queue}: ${describeError(error)}`, cause: error }),
        ),
      )
    }
  })

export const durationMillis = (duration: Duration.DurationInput) =>
  Math.round(Duration.toMillis(Duration.decode(duration)))
