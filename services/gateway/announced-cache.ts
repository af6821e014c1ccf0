/**
 * What the gateway remembers of another service's answers (sessions, addresses): an entry lives until that
 * service announces a change to it (src/announcements.ts), or until its time runs out should an
 * announcement be lost; after the subscription reconnects everything is forgotten, since announcements
 * may have been missed meanwhile. Past `maxEntries` the oldest entry goes first (a Map iterates in
 * insertion order).
 */
import { Clock, Effect } from "effect"
import { Announcements } from "./announcements.ts"

export const makeAnnouncedCache = <K extends string, V>(channel: string, maxEntries: number) =>
  Effect.gen(function* () {
    const announcements = yield* Announcements
    const entries = new Map<string, { readonly value: V; readonly until: number }>()
    yield* announcements.on(
      channel,
      (key) => entries.delete(key),
      () => entries.clear(),
    )

    /**
     * The remembered value for `key` when it is still live and `accept`s it; otherwise `fetch`, kept until
     * `until` says (given the value and the time now).
     */
    const getOrFetch = <E, R>(
      key: K,
      fetch: Effect.Effect<V, E, R>,
      until: (value: V, now: number) => number,
      accept: (value: V) => boolean = () => true,
    ) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const entry = entries.get(key)
        if (entry !== undefined && entry.until > now && accept(entry.value)) return entry.value
        const value = yield* fetch
        entries.delete(key)
        if (entries.size >= maxEntries) {
          const oldest = entries.keys().next()
          if (oldest.done !== true) entries.delete(oldest.value)
        }
        entries.set(key, { value, until: until(value, now) })
        return value
      })

    /** Forgets `key` at once (this gateway changed what it stands for). */
    const forget = (key: K) => Effect.sync(() => entries.delete(key))

    return { getOrFetch, forget } as const
  })
