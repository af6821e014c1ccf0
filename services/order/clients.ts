/**
 * The services the checkout saga calls over RPC. Each client's address comes from Config.
 */
import { DeliveryRpcs } from "../../rpc/delivery.ts"
import { InventoryRpcs } from "../../rpc/inventory.ts"
import { PaymentRpcs } from "../../rpc/payment.ts"
import { RpcClientTag } from "../../src/rpc/index.ts"

export class InventoryClient extends RpcClientTag<InventoryClient>()("inventory", InventoryRpcs, {
  timeout: "5 seconds",
}) {}
export class PaymentClient extends RpcClientTag<PaymentClient>()("payment", PaymentRpcs, { timeout: "5 seconds" }) {}
export class DeliveryClient extends RpcClientTag<DeliveryClient>()("delivery", DeliveryRpcs, {
  timeout: "5 seconds",
}) {}
