#!/usr/bin/env bash
# Debian's Chromium for the report's browser test (tests/python/browser.py drives it with
# Playwright; Playwright's own browser download is not used). Idempotent: when the browser
# (SCOREHOUSE_CHROMIUM, else `chromium` on PATH) is already there it prints its version and
# exits; otherwise it installs the `chromium` apt package, with a CJK font so that the bank's
# Chinese product names render in screenshots (sudo only when not root). Fails with one line
# on stderr when it cannot.
set -euo pipefail
chromium=${SCOREHOUSE_CHROMIUM:-chromium}
# Debian's launcher script prints a harmless shell error on some machines; only the version
# line matters here.
version() { "$1" --version 2>/dev/null | head -n 1; }

packages="chromium fonts-wqy-zenhei"
font_ok() {
    ! command -v dpkg-query >/dev/null 2>&1 \
        || dpkg-query -W -f='${Status}' fonts-wqy-zenhei 2>/dev/null | grep -q 'ok installed'
}
if path=$(command -v "$chromium") && [ -x "$path" ] && font_ok; then
    echo "chromium: $(version "$path") ($path)"
    exit 0
fi

fail() { echo "install_chromium.sh: $*" >&2; exit 1; }
if [ "$(id -u)" = 0 ]; then
    as_root() { "$@"; }
elif command -v sudo >/dev/null 2>&1; then
    as_root() { sudo "$@"; }
else
    fail "$chromium not found and not root without sudo: install Debian's chromium package"
fi
command -v apt-get >/dev/null 2>&1 || fail "$chromium not found and no apt-get: install Chromium and set SCOREHOUSE_CHROMIUM"

echo "chromium: installing Debian's $packages"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { as_root apt-get update -q \
        && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $packages
    } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "apt-get could not install chromium (output above)"
fi

path=$(command -v "$chromium") && [ -x "$path" ] \
    || fail "apt-get installed chromium but $chromium is not executable"
echo "chromium: installed $(version "$path") ($path)"
