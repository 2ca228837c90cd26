#!/usr/bin/env bash
# The console's browser test drives Debian's chromium (playwright-core never downloads a browser).
# Installs it when missing and we are root; otherwise stops with the exact command to run.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "pretest: installing Debian's chromium for the browser tests (apt-get)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "pretest: /usr/bin/chromium is missing. Install it with:  sudo apt-get install -y chromium" >&2
exit 1
