/**
 * The monolith: every service in one Bun process, from the same Layers the per-process mains use
 * (services/<name>/service.ts), composed differently.
 *
 *   bun run scripts/monolith.ts
 *
 * - Each service runs on its own database: `PostgresLive(<service>)` is provided to that service's Layer
 *   alone, so the one SqlClient it sees is its own. Each is also built by a `Layer.build` of its own, that
 *   is with a memo map of its own: Layers that several services use by reference (Outbox.Default,
 *   EventProducer.Default, RedisLive) are then built per service, on its SqlClient and Kafka client and
 *   for its lifetime, exactly as in its own process, instead of once for the whole process on those of
 *   whichever service happened to be built first.
 * - Calls between services stay in the process: cart's CatalogClient and order's InventoryClient,
 *   PaymentClient and DeliveryClient are `RpcClientTag.InProcess`, given the serving service's handlers
 *   (no network, no encoding; each call runs with the serving service's context, src/rpc/direct.ts).
 * - Every RpcGroup is still served on its usual RPC port (`<SERVICE>_RPC_PORT`), so clients in other
 *   processes (scripts/demo-checkout.ts, tests, a gateway of its own) work as with the mesh.
 * - One side port for all, MONOLITH_HTTP_PORT (9100): /healthz, /readyz (every service's checks, named
 *   `catalog.postgres`, `order.rabbitmq` …), /metrics (one registry; series labelled by service).
 * - SIGTERM/SIGINT stop it as runService stops a service: the side port and the RPC servers first
 *   (calls in flight drain), then order and cart, then the services they call.
 *
 * - The gateway serves the REST API on GATEWAY_HTTP_PORT (8080) with in-process clients of every service,
 *   analytics included (its consumer group reads Kafka as in its own process).
 */
import { Context, Effect, Layer } from "effect"
import { AnalyticsRpcs } from "../rpc/analytics.ts"
import { CartRpcs } from "../rpc/cart.ts"
import { CatalogRpcs } from "../rpc/catalog.ts"
import { DeliveryRpcs } from "../rpc/delivery.ts"
import { InventoryRpcs } from "../rpc/inventory.ts"
import { OrderRpcs } from "../rpc/order.ts"
import { PaymentRpcs } from "../rpc/payment.ts"
import { UserRpcs } from "../rpc/user.ts"
import { InventoryClient as AnalyticsInventory } from "../services/analytics/clients.ts"
import { AnalyticsService, analyticsReadiness } from "../services/analytics/service.ts"
import { CatalogClient } from "../services/cart/catalog-client.ts"
import { CartService, cartReadiness } from "../services/cart/service.ts"
import { CatalogService, catalogReadiness } from "../services/catalog/service.ts"
import * as Gateway from "../services/gateway/clients.ts"
import { GatewayService } from "../services/gateway/service.ts"
import { DeliveryService, deliveryReadiness } from "../services/delivery/service.ts"
import { InventoryService, inventoryReadiness } from "../services/inventory/service.ts"
import { DeliveryClient, InventoryClient, PaymentClient } from "../services/order/clients.ts"
import { OrderService, orderReadiness } from "../services/order/service.ts"
import { PaymentService, paymentReadiness } from "../services/payment/service.ts"
import { UserService, userReadiness } from "../services/user/service.ts"
import { monolithBind, monolithHttpPort, type ServiceName } from "../src/config.ts"
import { checksOf, HealthServerLive } from "../src/http.ts"
import { PostgresLive } from "../src/postgres.ts"
import { RpcServe } from "../src/rpc/index.ts"
import { runService } from "../src/service.ts"

/**
 * Builds a service's Layer on its own database, in a memo map of its own, for the life of the
 * monolith; returns its context (its RpcGroup's handlers, its SqlClient and clients for readiness).
 * Its log lines, and those of the fibers it starts, carry its name.
 */
const start = <A, E, R>(service: ServiceName, layer: Layer.Layer<A, E, R>) =>
  Layer.build(layer.pipe(Layer.provideMerge(PostgresLive(service)))).pipe(Effect.annotateLogs({ service }))

/** Builds a Layer that needs what `context` holds (handlers of a started service) under that service's name. */
const within = <A, E, R>(service: ServiceName, context: Context.Context<R>, layer: Layer.Layer<A, E, R>) =>
  Layer.build(layer.pipe(Layer.provide(Layer.succeedContext(context)))).pipe(Effect.annotateLogs({ service }))

const Monolith = Layer.scopedDiscard(
  Effect.gen(function* () {
    // The services that call no other service, side by side.
    const [catalog, inventory, payment, delivery, user] = yield* Effect.all(
      [
        start("catalog", CatalogService),
        start("inventory", InventoryService),
        start("payment", PaymentService),
        start("delivery", DeliveryService),
        start("user", UserService),
      ],
      { concurrency: "unbounded" },
    )
    // Analytics reads current stock from inventory: in-process too.
    const analytics = yield* start(
      "analytics",
      AnalyticsService.pipe(
        Layer.provide(Layer.succeedContext(yield* within("inventory", inventory, AnalyticsInventory.InProcess))),
      ),
    )

    // The in-process clients, built under the serving service's name (their calls log as that service).
    const catalogClient = yield* within("catalog", catalog, CatalogClient.InProcess)
    const inventoryClient = yield* within("inventory", inventory, InventoryClient.InProcess)
    const paymentClient = yield* within("payment", payment, PaymentClient.InProcess)
    const deliveryClient = yield* within("delivery", delivery, DeliveryClient.InProcess)

    const [cart, order] = yield* Effect.all(
      [
        start("cart", CartService.pipe(Layer.provide(Layer.succeedContext(catalogClient)))),
        start(
          "order",
          OrderService.pipe(
            Layer.provide(Layer.succeedContext(Context.mergeAll(inventoryClient, paymentClient, deliveryClient))),
          ),
        ),
      ],
      { concurrency: "unbounded" },
    )
    // The gateway on GATEWAY_HTTP_PORT, with in-process clients of every service it calls.
    const gatewayClients = Context.mergeAll(
      yield* within("catalog", catalog, Gateway.CatalogClient.InProcess),
      yield* within("inventory", inventory, Gateway.InventoryClient.InProcess),
      yield* within("cart", cart, Gateway.CartClient.InProcess),
      yield* within("user", user, Gateway.UserClient.InProcess),
      yield* within("order", order, Gateway.OrderClient.InProcess),
      yield* within("delivery", delivery, Gateway.DeliveryClient.InProcess),
      yield* within("analytics", analytics, Gateway.AnalyticsClient.InProcess),
    )
    yield* Layer.build(GatewayService.pipe(Layer.provide(Layer.succeedContext(gatewayClients)))).pipe(
      Effect.annotateLogs({ service: "gateway" }),
    )

    // Every RpcGroup on its usual port, for clients in other processes.
    yield* Effect.all(
      [
        within("catalog", catalog, RpcServe.layer(CatalogRpcs, { service: "catalog" })),
        within("inventory", inventory, RpcServe.layer(InventoryRpcs, { service: "inventory" })),
        within("payment", payment, RpcServe.layer(PaymentRpcs, { service: "payment" })),
        within("delivery", delivery, RpcServe.layer(DeliveryRpcs, { service: "delivery" })),
        within("user", user, RpcServe.layer(UserRpcs, { service: "user" })),
        within("cart", cart, RpcServe.layer(CartRpcs, { service: "cart" })),
        within("order", order, RpcServe.layer(OrderRpcs, { service: "order" })),
        within("analytics", analytics, RpcServe.layer(AnalyticsRpcs, { service: "analytics" })),
      ],
      { concurrency: "unbounded" },
    )

    yield* Layer.build(
      HealthServerLive({
        service: "monolith",
        port: monolithHttpPort,
        hostname: monolithBind,
        checks: {
          ...checksOf("catalog", catalogReadiness, catalog),
          ...checksOf("inventory", inventoryReadiness, inventory),
          ...checksOf("payment", paymentReadiness, payment),
          ...checksOf("delivery", deliveryReadiness, delivery),
          ...checksOf("user", userReadiness, user),
          ...checksOf("cart", cartReadiness, cart),
          ...checksOf("order", orderReadiness, order),
          ...checksOf("analytics", analyticsReadiness, analytics),
        },
      }),
    )
  }),
)

runService("monolith", Monolith)
