#!/usr/bin/env bash
# Headless Chromium and its WebDriver for the sync history's browser test (tests/ui/test_browser.py).
# Installs Debian's chromium and chromium-driver with apt-get when they are absent and we are root;
# otherwise says so, and the browser test is skipped saying why. Idempotent and quiet.
set -euo pipefail

have() { command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; }

if have; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing chromium and chromium-driver with apt-get for the browser test..." >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } >/dev/null 2>&1 || true
fi
if ! have; then
  echo "chromium and chromium-driver could not be installed; the browser test will be skipped" >&2
fi
exit 0
