#!/usr/bin/env bash
# Install what the test suite needs: Debian's chromium (browser tests), the Python test
# dependencies and wrangler from npm (D1 tests). Safe to run again; used by the README's test
# command and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
# poppler-utils: pdftoppm rasterises the handout PDF in tests; Pango is WeasyPrint's text engine.
if ! command -v chromium >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1 \
  || ! command -v pdftoppm >/dev/null 2>&1; then
  echo "installing chromium, ffmpeg, poppler-utils and Pango (Debian packages)..." >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium ffmpeg fonts-dejavu-core \
    poppler-utils libpango-1.0-0 libpangoft2-1.0-0 >/dev/null
fi
# The Python packages go into .venv (PEP 668: never into the system's Python). Debian's python3
# needs python3-venv for that; pyenv's and python.org's Pythons have it.
if [ ! -x .venv/bin/python ]; then
  if ! python3 -c "import ensurepip" >/dev/null 2>&1; then
    echo "installing python3-venv (Debian package)..." >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
  fi
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
# From npm, pinned in package-lock.json: wrangler (the real D1 engine, offline, for the D1
# tests), and for the real-runtime Worker tests Miniflare (D1 and the asset worker) and
# pyodide (the Pyodide the pinned workerd loads).
if [ ! -x node_modules/.bin/wrangler ] || [ ! -f node_modules/pyodide/pyodide.asm.wasm ] \
  || [ ! -d node_modules/miniflare ]; then
  echo "installing wrangler, miniflare and pyodide (npm ci)..." >&2
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi
# The upload tests' tus server (@tus/server + @tus/file-store, pinned in its own lock file).
if [ ! -d tests/tusserver/node_modules/@tus/server ]; then
  echo "installing the test tus server (npm ci in tests/tusserver)..." >&2
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error --prefix tests/tusserver
fi
