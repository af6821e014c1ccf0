/**
 * Password hashing with argon2id (Bun.password). Hashing is slow on purpose; its cost comes from Config so
 * tests can make it cheap. A hash names its own algorithm and parameters, so verification works for
 * hashes made under older settings.
 */
import { Effect, Redacted } from "effect"
import { argon2MemoryKib, argon2TimeCost } from "./config.ts"

export class Passwords extends Effect.Service<Passwords>()("user/Passwords", {
  effect: Effect.gen(function* () {
    const options = {
      algorithm: "argon2id" as const,
      memoryCost: yield* argon2MemoryKib,
      timeCost: yield* argon2TimeCost,
    }
    // Bun.password rejects only on invalid parameters or a broken runtime: a defect, not a user's error.
    const hash = Effect.fn("Passwords.hash")(function* (password: Redacted.Redacted<string>) {
      return yield* Effect.promise(() => Bun.password.hash(Redacted.value(password), options))
    })
    const verify = Effect.fn("Passwords.verify")(function* (password: Redacted.Redacted<string>, hashed: string) {
      return yield* Effect.promise(() => Bun.password.verify(Redacted.value(password), hashed))
    })
    // Checked against when the email is unknown, so a login takes as long either way and does not tell
    // an attacker which addresses have accounts.
    const decoy = yield* hash(Redacted.make(crypto.randomUUID()))
    const verifyAgainstNothing = (password: Redacted.Redacted<string>) => Effect.asVoid(verify(password, decoy))
    return { hash, verify, verifyAgainstNothing } as const
  }),
}) {}
