/** makeBatchedCall (src/rpc/batched.ts): concurrent callers share one batch call, each with its own outcome. */
import { describe, expect, test } from "bun:test"
import { Data, Effect, Either, Exit, Ref, type Scope } from "effect"
import { makeBatchedCall } from "../../src/rpc/batched.ts"

class Refused extends Data.TaggedError("Refused")<{ readonly item: number }> {}
class Unreachable extends Data.TaggedError("Unreachable")<{}> {}

const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => Effect.runPromise(Effect.scoped(effect))

describe("makeBatchedCall", () => {
  test("callers of the same moment go out as one call; a refused item fails only its own caller", () =>
    run(
      Effect.gen(function* () {
        const calls = yield* Ref.make<ReadonlyArray<ReadonlyArray<number>>>([])
        const double = yield* makeBatchedCall("test.double", (items: ReadonlyArray<number>) =>
          Ref.update(calls, (seen) => [...seen, items]).pipe(
            Effect.as(items.map((n) => (n < 0 ? Either.left(new Refused({ item: n })) : Either.right(n * 2)))),
          ),
        )
        const outcomes = yield* Effect.all(
          [1, 2, -3, 4].map((n) => Effect.exit(double(n))),
          { concurrency: "unbounded" },
        )
        expect(outcomes).toEqual([
          Exit.succeed(2),
          Exit.succeed(4),
          Exit.fail(new Refused({ item: -3 })),
          Exit.succeed(8),
        ])
        // The first caller may go alone before the rest join; never one call per caller.
        const sent = yield* Ref.get(calls)
        expect(sent.flat()).toEqual([1, 2, -3, 4])
        expect(sent.length).toBeLessThanOrEqual(2)
      }),
    ))

  test("a call that fails as a whole fails every caller of its batch, and the next batch goes on", () =>
    run(
      Effect.gen(function* () {
        const down = yield* Ref.make(true)
        const echo = yield* makeBatchedCall("test.echo", (items: ReadonlyArray<number>) =>
          Effect.flatMap(Ref.get(down), (isDown) =>
            isDown ? Effect.fail(new Unreachable()) : Effect.succeed(items.map((n) => Either.right(n))),
          ),
        )
        const failed = yield* Effect.all([echo(1).pipe(Effect.flip), echo(2).pipe(Effect.flip)], {
          concurrency: "unbounded",
        })
        expect(failed.map((error) => error._tag)).toEqual(["Unreachable", "Unreachable"])
        yield* Ref.set(down, false)
        expect(yield* echo(3)).toBe(3)
      }),
    ))
})
