/**
 * The baseline: a bare Bun.serve answering the gateway's own bytes for the same paths, so the benchmark
 * compares the gateway's whole request path (hono routing, rate limit, cache, Effect) with nothing.
 *
 *   bun run bench/gateway/bare.ts <port> <answers.json>     # answers: { "<path>": "<body>" }
 */
const [port, file] = process.argv.slice(2)
const answers: Record<string, string> = await Bun.file(file ?? "").json()

const server = Bun.serve({
  port: Number(port),
  hostname: "127.0.0.1",
  fetch: (request) => {
    const url = new URL(request.url)
    const body = answers[url.pathname + url.search]
    return body === undefined
      ? new Response("not found", { status: 404 })
      : new Response(body, { headers: { "content-type": "application/json" } })
  },
})
console.log(`bare listening on ${server.port}`)
