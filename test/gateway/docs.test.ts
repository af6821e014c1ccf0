/**
 * /docs in a real browser: Debian's headless Chromium (installed by scripts/infra/chromium.sh, driven with
 * playwright-core) opens the gateway's docs page with every request to anywhere but the gateway refused —
 * a machine without internet access — and finds the API's groups and operations listed on the page.
 */
import { afterAll, beforeAll, expect, test } from "bun:test"
import { type Browser, chromium } from "playwright-core"
import { type ServiceProcess, startService } from "../support/service-process.ts"

let gateway: ServiceProcess
let browser: Browser

beforeAll(async () => {
  const executablePath = Bun.which("chromium")
  if (executablePath === null) throw new Error("chromium is not installed: run bash scripts/infra/chromium.sh")
  ;[gateway, browser] = await Promise.all([
    startService("gateway"),
    // Root (as in CI) cannot use Chromium's sandbox.
    chromium.launch({ executablePath, args: ["--no-sandbox"] }),
  ])
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await gateway?.stop()
})

interface OpenApi {
  readonly tags: ReadonlyArray<{ readonly name: string }>
  readonly paths: Record<string, Record<string, { readonly summary?: string; readonly tags?: ReadonlyArray<string> }>>
}

test("the docs page lists the API's groups and operations with no internet access", async () => {
  const spec = (await (await fetch(`${gateway.httpUrl}/openapi.json`)).json()) as OpenApi
  const page = await browser.newPage()
  const elsewhere: Array<string> = []
  await page.route("**/*", (route) => {
    const url = route.request().url()
    if (url.startsWith(gateway.httpUrl)) return route.continue()
    elsewhere.push(url)
    return route.abort()
  })
  await page.goto(`${gateway.httpUrl}/docs`)
  // The first group opens by itself: its operations are listed by their summaries.
  const catalogSummaries = Object.values(spec.paths)
    .flatMap((operations) => Object.values(operations))
    .filter((operation) => operation.tags?.includes("catalog"))
    .flatMap((operation) => (operation.summary === undefined ? [] : [operation.summary]))
  expect(catalogSummaries.length).toBeGreaterThan(0)
  await page
    .getByText(catalogSummaries[0] ?? "", { exact: true })
    .first()
    .waitFor({ timeout: 30_000 })
  const text = await page.innerText("body")
  for (const summary of catalogSummaries) expect(text).toContain(summary)
  for (const tag of spec.tags) expect(text).toContain(tag.name)
  expect(elsewhere).toEqual([])
  await page.close()
}, 60_000)

test("the viewer's script comes from the gateway, gzipped, and revalidates with its ETag", async () => {
  const page = await (await fetch(`${gateway.httpUrl}/docs`)).text()
  const src = /<script src="([^"]+)"/.exec(page)?.[1]
  expect(src).toStartWith("/")
  const script = await fetch(`${gateway.httpUrl}${src}`, { headers: { "accept-encoding": "gzip" }, decompress: false })
  expect(script.status).toBe(200)
  expect(script.headers.get("content-encoding")).toBe("gzip")
  expect(script.headers.get("content-type")).toContain("javascript")
  const etag = script.headers.get("etag")
  expect(etag).toBeTruthy()
  const zipped = new Uint8Array(await script.arrayBuffer())
  expect(new TextDecoder().decode(Bun.gunzipSync(zipped))).toContain("api-reference")
  const again = await fetch(`${gateway.httpUrl}${src}`, { headers: { "if-none-match": etag ?? "" } })
  expect(again.status).toBe(304)
})
