/**
 * A bounded map whose entries expire: what the gateway remembers of another service's answers (sessions,
 * addresses) until that service announces a change or the entry's time runs out. Past `maxEntries` the
 * oldest entry goes first (a Map iterates in insertion order).
 */
export interface ExpiringMap<K, V> {
  readonly get: (key: K, now: number) => V | undefined
  readonly set: (key: K, value: V, until: number) => void
  readonly delete: (key: K) => void
  readonly clear: () => void
}

export const makeExpiringMap = <K, V>(maxEntries: number): ExpiringMap<K, V> => {
  const entries = new Map<K, { readonly value: V; readonly until: number }>()
  return {
    get: (key, now) => {
      const entry = entries.get(key)
      return entry !== undefined && entry.until > now ? entry.value : undefined
    },
    set: (key, value, until) => {
      entries.delete(key)
      if (entries.size >= maxEntries) {
        const oldest = entries.keys().next()
        if (oldest.done !== true) entries.delete(oldest.value)
      }
      entries.set(key, { value, until })
    },
    delete: (key) => {
      entries.delete(key)
    },
    clear: () => entries.clear(),
  }
}
