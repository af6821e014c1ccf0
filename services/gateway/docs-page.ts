/**
 * The human-readable API reference at /docs: Scalar's viewer reading /openapi.json. The viewer's script
 * is served by the gateway itself — the copy of Scalar's browser bundle that @effect/platform ships for
 * HttpApiScalar — so the page works wherever the gateway runs, with no internet access (and the system's
 * fonts instead of Scalar's, which would come from its own site). The 3 MB script
 * is read on the first request for it (not at start: the gateway's idle memory stays as it was),
 * gzipped once, and answered with an ETag that browsers revalidate.
 */
import { Effect } from "effect"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const docsScriptPath = "/docs/scalar-api-reference.js"

export const docsPage = (title: string) => `<!doctype html>
<html>
  <head>
    <meta charset="utf-8" />
    <title>${title.replace(/[<>&"]/g, "")}</title>
    <meta name="viewport" content="width=device-width, initial-scale=1" />
  </head>
  <body>
    <script id="api-reference" data-url="/openapi.json" data-configuration='{"withDefaultFonts":false}'></script>
    <script src="${docsScriptPath}"></script>
  </body>
</html>`

export interface DocsScript {
  readonly plain: string
  readonly gzipped: Uint8Array
  readonly etag: string
}

/** The bundle sits beside HttpApiScalar in @effect/platform, behind its `internal` folder (not an export). */
const bundledScalar = Effect.gen(function* () {
  const scalarModule = fileURLToPath(import.meta.resolve("@effect/platform/HttpApiScalar"))
  const bundle = join(dirname(scalarModule), "internal", "httpApiScalar.js")
  const loaded: { readonly javascript?: unknown } = yield* Effect.promise(() => import(bundle))
  if (typeof loaded.javascript !== "string") return yield* Effect.dieMessage(`no Scalar bundle in ${bundle}`)
  return loaded.javascript
})

export const loadDocsScript: Effect.Effect<DocsScript> = Effect.map(bundledScalar, (plain) => ({
  plain,
  gzipped: Bun.gzipSync(plain),
  etag: `"${Bun.hash(plain).toString(36)}"`,
}))

/** The script's answer: gzipped when the browser takes it, 304 when it holds this very version. */
export const docsScriptResponse = (script: DocsScript, request: Request) => {
  const cache = { etag: script.etag, "cache-control": "public, max-age=86400", vary: "accept-encoding" }
  if (request.headers.get("if-none-match") === script.etag) return new Response(null, { status: 304, headers: cache })
  const gzip = (request.headers.get("accept-encoding") ?? "").includes("gzip")
  return new Response(gzip ? script.gzipped : script.plain, {
    headers: {
      ...cache,
      "content-type": "text/javascript; charset=utf-8",
      ...(gzip ? { "content-encoding": "gzip" } : {}),
    },
  })
}
