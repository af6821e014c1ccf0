/**
 * Calls of one kind that independent fibers make at the same moment (sagas stepping together) sent as one
 * call of the service's batch method (`ReserveMany` for `Reserve` …), whose answer holds one Either per item
 * in order. Each caller gets its own outcome; a failure of the call itself (the service unreachable, a
 * timeout) fails every caller of that batch, as it would have failed each of their own calls.
 */
import { Effect, Either, Exit } from "effect"
import { makeGroupCommit } from "../group-commit.ts"

export const makeBatchedCall = <I, A, E, CE>(
  name: string,
  callMany: (items: ReadonlyArray<I>) => Effect.Effect<ReadonlyArray<Either.Either<A, E>>, CE>,
) =>
  makeGroupCommit<I, A, E | CE, never>(name, (items) =>
    Effect.map(callMany(items), (outcomes) =>
      outcomes.map(Either.match({ onLeft: (error): Exit.Exit<A, E | CE> => Exit.fail(error), onRight: Exit.succeed })),
    ),
  )
