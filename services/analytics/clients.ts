/**
 * The services analytics calls over RPC: inventory, for the current stock behind the forecast.
 */
import { InventoryRpcs } from "../../rpc/inventory.ts"
import { RpcClientTag } from "../../src/rpc/index.ts"

export class InventoryClient extends RpcClientTag<InventoryClient>()("inventory", InventoryRpcs, {
  timeout: "5 seconds",
}) {}
