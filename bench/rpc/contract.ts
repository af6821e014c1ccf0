/** The benchmark's contract: one small request and a small JSON answer, like the bare baseline's. */
import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"

export class Unknown extends Schema.TaggedError<Unknown>()("Unknown", { id: Schema.Int }) {}

export const Item = Schema.Struct({ id: Schema.Int, name: Schema.String, priceMinor: Schema.Int, ok: Schema.Boolean })

export class BenchRpcs extends RpcGroup.make(
  Rpc.make("Get", { payload: { id: Schema.Int, name: Schema.String }, success: Item, error: Unknown }),
) {}

export const answer = (id: number, name: string) => ({ id, name, priceMinor: 1999, ok: true })

export const benchPayload = { id: 42, name: "widget" }
