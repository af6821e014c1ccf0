/**
 * The human-readable API reference at /docs: Scalar's viewer reading /openapi.json. The viewer's script
 * comes from its CDN when a browser opens the page, which keeps 3 MB of JavaScript out of the gateway.
 */
export const docsPage = (title: string) => `<!doctype html>
<html>
  <head>
    <meta charset="utf-8" />
    <title>${title.replace(/[<>&"]/g, "")}</title>
    <meta name="viewport" content="width=device-width, initial-scale=1" />
  </head>
  <body>
    <script id="api-reference" data-url="/openapi.json"></script>
    <script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference@1.39.3/dist/browser/standalone.min.js"></script>
  </body>
</html>`
