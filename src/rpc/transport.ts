/**
 * The wire under src/rpc/index.ts: @effect/rpc's message protocol carried over Bun's own WebSocket server and
 * client, with no HttpApp, platform Socket or per-frame fiber in between.
 *
 * A frame carries every message produced in one tick. Framing: with JSON one message is an object and
 * several are an array of them; serializations that frame themselves (msgpack, ndjson) carry several
 * messages back to back. The `Protocol` adapters at the end plug these connections into the stock
 * RpcServer.make / RpcClient.make (used for groups with streams or middleware, and by the benchmark).
 */
import { RpcClient, RpcClientError, type RpcSerialization, RpcServer } from "@effect/rpc"
import type { FromClientEncoded, FromServerEncoded } from "@effect/rpc/RpcMessage"
import type { ServerWebSocket } from "bun"
import { Duration, Effect, Mailbox, Runtime, type Scope } from "effect"

type Frame = string | Uint8Array

export interface FrameCodec {
  readonly encode: (messages: ReadonlyArray<unknown>) => Frame | undefined
  readonly decode: (frame: Frame) => ReadonlyArray<unknown>
}

const concatBytes = (parts: ReadonlyArray<Uint8Array>) => {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

export const makeCodec = (serialization: RpcSerialization.RpcSerialization["Type"]): FrameCodec => {
  if (!serialization.includesFraming) {
    const decoder = new TextDecoder()
    return {
      encode: (messages) => (messages.length === 1 ? JSON.stringify(messages[0]) : JSON.stringify(messages)),
      decode: (frame) => {
        const parsed: unknown = JSON.parse(typeof frame === "string" ? frame : decoder.decode(frame))
        return Array.isArray(parsed) ? parsed : [parsed]
      },
    }
  }
  const parser = serialization.unsafeMake()
  const encoder = new TextEncoder()
  return {
    encode: (messages) => {
      const parts: Array<Frame> = []
      for (const message of messages) {
        const part = parser.encode(message)
        if (part !== undefined) parts.push(part)
      }
      if (parts.length <= 1) return parts[0]
      if (parts.every((part) => typeof part === "string")) return parts.join("")
      return concatBytes(parts.map((part) => (typeof part === "string" ? encoder.encode(part) : part)))
    },
    decode: (frame) => parser.decode(frame),
  }
}

/** Collects items and hands them over once per tick (on a microtask). */
const tickBatcher = <A>(flush: (items: Array<A>) => void) => {
  let items: Array<A> = []
  let scheduled = false
  const run = () => {
    scheduled = false
    const batch = items
    items = []
    if (batch.length > 0) flush(batch)
  }
  return {
    push: (item: A) => {
      items.push(item)
      if (!scheduled) {
        scheduled = true
        queueMicrotask(run)
      }
    },
    clear: () => {
      items = []
    },
  }
}

const toFrame = (data: string | ArrayBuffer | Uint8Array): Frame =>
  typeof data === "string" ? data : data instanceof Uint8Array ? data : new Uint8Array(data)

// ---------------------------------------------------------------------------------------------------
// Server

export interface ServerListener {
  /** Queues a message to a client; it leaves with the other messages of this tick. */
  readonly send: (clientId: number, message: FromServerEncoded) => void
  readonly clientIds: () => ReadonlySet<number>
}

interface SocketData {
  readonly clientId: number
}

/**
 * A `Bun.serve` on `hostname:port` accepting WebSocket upgrades on `path`. `onMessages` is called
 * synchronously with the decoded messages of each frame. Stops, closing its connections, with the scope.
 */
export const listen = (options: {
  readonly hostname: string
  readonly port: number
  readonly path: string
  readonly serialization: RpcSerialization.RpcSerialization["Type"]
  readonly onMessages: (clientId: number, messages: ReadonlyArray<FromClientEncoded>) => void
  readonly onClose: (clientId: number) => void
}): Effect.Effect<ServerListener, never, Scope.Scope> =>
  Effect.gen(function* () {
    interface Client {
      readonly codec: FrameCodec
      readonly outgoing: { readonly push: (message: FromServerEncoded) => void }
    }
    const clients = new Map<number, Client>()
    let nextClientId = 0

    const server = Bun.serve<SocketData>({
      hostname: options.hostname,
      port: options.port,
      fetch: (request, server) => {
        if (new URL(request.url).pathname !== options.path) return new Response("not found", { status: 404 })
        return server.upgrade(request, { data: { clientId: nextClientId++ } })
          ? undefined
          : new Response("expected a WebSocket upgrade", { status: 426 })
      },
      websocket: {
        // The client pings every 10 s; Bun's own idle timeout would cut quiet but healthy connections.
        idleTimeout: 0,
        open: (ws: ServerWebSocket<SocketData>) => {
          const codec = makeCodec(options.serialization)
          clients.set(ws.data.clientId, {
            codec,
            outgoing: tickBatcher<FromServerEncoded>((messages) => {
              const frame = codec.encode(messages)
              if (frame !== undefined) ws.send(frame)
            }),
          })
        },
        message: (ws, data) => {
          const client = clients.get(ws.data.clientId)
          if (client === undefined) return
          let messages: ReadonlyArray<unknown>
          try {
            messages = client.codec.decode(toFrame(data))
          } catch (cause) {
            ws.close(1003, `undecodable frame: ${String(cause)}`.slice(0, 120))
            return
          }
          options.onMessages(ws.data.clientId, messages as ReadonlyArray<FromClientEncoded>)
        },
        close: (ws) => {
          clients.delete(ws.data.clientId)
          options.onClose(ws.data.clientId)
        },
      },
    })
    yield* Effect.addFinalizer(() => Effect.promise(() => server.stop(true)))

    return {
      send: (clientId, message) => clients.get(clientId)?.outgoing.push(message),
      clientIds: () => new Set(clients.keys()),
    }
  })

/** A stock RpcServer Protocol on `listen` (for RpcServer.make). */
export const makeServerProtocol = (options: {
  readonly hostname: string
  readonly port: number
  readonly path: string
  readonly serialization: RpcSerialization.RpcSerialization["Type"]
}) =>
  RpcServer.Protocol.make((writeRequest) =>
    Effect.gen(function* () {
      const runFork = Runtime.runFork(yield* Effect.runtime<never>())
      const disconnects = yield* Mailbox.make<number>()
      const listener = yield* listen({
        ...options,
        onMessages: (clientId, messages) => {
          runFork(Effect.forEach(messages, (message) => writeRequest(clientId, message), { discard: true }))
        },
        onClose: (clientId) => {
          disconnects.unsafeOffer(clientId)
        },
      })
      return {
        disconnects,
        send: (clientId: number, response: FromServerEncoded) => Effect.sync(() => listener.send(clientId, response)),
        end: (_clientId: number) => Effect.void,
        clientIds: Effect.sync(listener.clientIds),
        initialMessage: Effect.succeedNone,
        supportsAck: true,
        supportsTransferables: false,
        supportsSpanPropagation: true,
      }
    }),
  )

// ---------------------------------------------------------------------------------------------------
// Client

export interface ClientConnection {
  /** Queues a message for the server, or answers why it cannot go (the connection is down). */
  readonly send: (message: FromClientEncoded) => RpcClientError.RpcClientError | undefined
}

export interface ConnectOptions {
  readonly url: string
  readonly serialization: RpcSerialization.RpcSerialization["Type"]
  readonly connectTimeout: Duration.DurationInput
  readonly maxReconnectDelay?: Duration.DurationInput | undefined
  readonly pingInterval?: Duration.DurationInput | undefined
}

/**
 * One WebSocket to `url`, reconnecting on its own.
 *
 * While the connection is down `send` refuses at once (callers decide whether to retry), and `onDrop`
 * tells the owner to fail the calls in flight. Reconnection is attempted after 50 ms, doubling up to
 * `maxReconnectDelay` (1 s). A connection that does not open within `connectTimeout`, or leaves a ping
 * unanswered for `pingInterval` (10 s), counts as dropped. Requests made while the first connection is
 * opening wait for it. Closes with the scope.
 */
export const connect = (
  options: ConnectOptions & {
    readonly onMessages: (messages: ReadonlyArray<FromServerEncoded>) => void
    readonly onDrop: (error: RpcClientError.RpcClientError) => void
  },
): Effect.Effect<ClientConnection, never, Scope.Scope> =>
  Effect.gen(function* () {
    const connectMillis = Duration.toMillis(options.connectTimeout)
    const maxDelayMillis = Duration.toMillis(options.maxReconnectDelay ?? Duration.seconds(1))
    const pingMillis = Duration.toMillis(options.pingInterval ?? Duration.seconds(10))

    let socket: WebSocket | undefined
    let codec = makeCodec(options.serialization)
    let open = false
    let closed = false
    let currentError: RpcClientError.RpcClientError | undefined
    let attempt = 0
    let awaitingPong = false
    let reconnectTimer: ReturnType<typeof setTimeout> | undefined
    let waiting: Array<FromClientEncoded> = []

    const outgoing = tickBatcher<FromClientEncoded>((messages) => {
      if (socket === undefined || !open) return
      const frame = codec.encode(messages)
      if (frame !== undefined) socket.send(frame)
    })

    const dropped = (ws: WebSocket, reason: string) => {
      if (socket !== ws) return
      socket = undefined
      open = false
      outgoing.clear()
      waiting = []
      currentError = new RpcClientError.RpcClientError({
        reason: "Protocol",
        message: `RPC connection to ${options.url} lost: ${reason}`,
      })
      options.onDrop(currentError)
      if (closed) return
      const delay = Math.min(maxDelayMillis, 50 * 2 ** attempt++)
      reconnectTimer = setTimeout(open_, delay)
    }

    const open_ = () => {
      reconnectTimer = undefined
      if (closed) return
      const ws = new WebSocket(options.url)
      ws.binaryType = "arraybuffer"
      socket = ws
      codec = makeCodec(options.serialization)
      const openTimer = setTimeout(() => {
        if (!open && socket === ws) {
          dropped(ws, `not open within ${connectMillis} ms`)
          ws.close()
        }
      }, connectMillis)
      ws.addEventListener("open", () => {
        clearTimeout(openTimer)
        if (socket !== ws) return
        open = true
        attempt = 0
        awaitingPong = false
        currentError = undefined
        const queued = waiting
        waiting = []
        for (const message of queued) outgoing.push(message)
      })
      ws.addEventListener("message", (event: MessageEvent<string | ArrayBuffer>) => {
        if (socket !== ws) return
        let messages: ReadonlyArray<unknown>
        try {
          messages = codec.decode(toFrame(event.data))
        } catch (cause) {
          dropped(ws, `undecodable frame: ${String(cause)}`)
          ws.close()
          return
        }
        awaitingPong = false
        options.onMessages(messages as ReadonlyArray<FromServerEncoded>)
      })
      ws.addEventListener("close", (event) => {
        clearTimeout(openTimer)
        dropped(ws, `closed (${event.code})`)
      })
      ws.addEventListener("error", () => {
        clearTimeout(openTimer)
        dropped(ws, "connection error")
      })
    }

    const pinger = setInterval(() => {
      if (socket === undefined || !open) return
      if (awaitingPong) {
        const ws = socket
        dropped(ws, `no answer to a ping within ${pingMillis} ms`)
        ws.close()
        return
      }
      awaitingPong = true
      outgoing.push({ _tag: "Ping" })
    }, pingMillis)

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        clearInterval(pinger)
        if (reconnectTimer !== undefined) clearTimeout(reconnectTimer)
        const ws = socket
        socket = undefined
        ws?.close(1000)
      }),
    )
    open_()

    return {
      send: (message) => {
        if (currentError !== undefined) return currentError
        if (open) outgoing.push(message)
        else waiting.push(message)
        return undefined
      },
    }
  })

/** A stock RpcClient Protocol on `connect` (for RpcClient.make). */
export const makeClientProtocol = (options: ConnectOptions) =>
  RpcClient.Protocol.make((writeResponse) =>
    Effect.gen(function* () {
      const runFork = Runtime.runFork(yield* Effect.runtime<never>())
      const connection = yield* connect({
        ...options,
        onMessages: (messages) => {
          runFork(Effect.forEach(messages, writeResponse, { discard: true }))
        },
        onDrop: (error) => {
          runFork(writeResponse({ _tag: "ClientProtocolError", error }))
        },
      })
      return {
        send: (request: FromClientEncoded) =>
          Effect.suspend(() => {
            const error = connection.send(request)
            return error === undefined ? Effect.void : Effect.fail(error)
          }),
        supportsAck: true,
        supportsTransferables: false,
      }
    }),
  )
