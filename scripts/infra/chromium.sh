#!/usr/bin/env bash
# Makes Debian's `chromium` available for the test that opens the gateway's /docs in a real headless
# browser (test/gateway/docs.test.ts, driven with playwright-core; no browser download from elsewhere).
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/debian-tool.sh" chromium chromium
