#!/usr/bin/env bash
# The Electron client's tests: unit (a Node stand-in sidecar), integration (the real Python sidecar with the fake
# `sf`) and browser (Debian's Chromium via playwright-core, under a strict CSP, backed by the real sidecar).
#
# Installs what they need when it is missing: Debian's chromium (apt-get, only when no Chromium is found) and the
# npm dev dependencies (npm ci), and type-checks the README's main-process example against electron.d.ts. The Python side is expected to exist already: SWEATSHOP_PYTHON names its
# interpreter (default ../../.venv/bin/python, as `make venv` creates it). With SWEATSHOP_REQUIRE_SIDECAR=1 (the
# default here) a missing sidecar fails the run instead of skipping its tests.
set -euo pipefail
cd "$(dirname "$0")"

export SWEATSHOP_PYTHON="${SWEATSHOP_PYTHON:-$PWD/../../.venv/bin/python}"
export SWEATSHOP_REQUIRE_SIDECAR="${SWEATSHOP_REQUIRE_SIDECAR:-1}"

if ! command -v node >/dev/null 2>&1; then
  echo "run-tests.sh: Node.js 18 or newer is required" >&2
  exit 1
fi
node -e 'if (+process.versions.node.split(".")[0] < 18) { console.error("run-tests.sh: Node.js 18+ required, found " + process.version); process.exit(1) }'

chromium_found() {
  [ -n "${CHROMIUM_PATH:-}" ] && [ -x "${CHROMIUM_PATH}" ] && return 0
  [ -x /usr/bin/chromium ] || [ -x /usr/bin/chromium-browser ]
}
if ! chromium_found; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "run-tests.sh: installing Debian's chromium (apt-get install -y chromium)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
      echo "run-tests.sh: WARNING: could not install chromium; the browser tests will be skipped" >&2
    fi
  else
    echo "run-tests.sh: WARNING: no Chromium and no root apt-get to install it; the browser tests will be skipped" >&2
  fi
fi

# The dev dependencies: playwright-core (drives Chromium), typescript and electron (only for electron.d.ts: its
# binary download never runs, ELECTRON_SKIP_BINARY_DOWNLOAD=1 and --ignore-scripts).
if ! node -e 'require.resolve("playwright-core"); require.resolve("typescript/bin/tsc"); require.resolve("electron/electron.d.ts")' >/dev/null 2>&1; then
  echo "run-tests.sh: npm ci"
  ELECTRON_SKIP_BINARY_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi

# The README's main-process example against Electron's own types.
echo "run-tests.sh: tsc --noEmit --strict -p examples/tsconfig.json"
node node_modules/typescript/bin/tsc --noEmit --strict -p examples/tsconfig.json

# Only *.test.js: node --test would otherwise run every .js under test/ (helpers, fixtures, page scripts).
exec node --test test/unit/*.test.js test/integration/*.test.js test/browser/*.test.js
