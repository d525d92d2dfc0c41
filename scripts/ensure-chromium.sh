#!/usr/bin/env bash
# Make sure a Chromium exists for the browser tests: use one that is present, else install Debian's.
# Prints the browser's path; exits non-zero (loudly) when none can be had.
set -uo pipefail
for candidate in "${CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; exit 0; fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the browser tests..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2 || true
  if [ -x /usr/bin/chromium ]; then echo /usr/bin/chromium; exit 0; fi
fi
echo "ERROR: no Chromium found for the browser tests. Install one (Debian: apt-get install chromium;" \
     "elsewhere: python -m playwright install chromium) or set CHROMIUM=/path/to/chrome." >&2
exit 1
