/**
 * Which methods a path answers to, from the routes an app registered (hono patterns such as
 * `/orders/:id`), so a known path asked with another method gets `405 Method Not Allowed` with an
 * `Allow` header instead of a 404 that would say the path does not exist.
 */
export interface RouteIndex {
  readonly add: (method: string, pattern: string) => void
  /** The methods registered for a path matching `path`, in registration order; empty when none does. */
  readonly allowed: (path: string) => ReadonlyArray<string>
}

const toRegExp = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split("/")
      .map((segment) => (segment.startsWith(":") ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
      .join("/")}/?$`,
  )

export const makeRouteIndex = (): RouteIndex => {
  const routes: Array<{ readonly method: string; readonly match: RegExp }> = []
  return {
    add: (method, pattern) => {
      routes.push({ method: method.toUpperCase(), match: toRegExp(pattern) })
    },
    allowed: (path) => {
      const methods: Array<string> = []
      for (const route of routes)
        if (route.match.test(path) && !methods.includes(route.method)) methods.push(route.method)
      return methods
    },
  }
}
