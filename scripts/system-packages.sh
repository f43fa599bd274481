#!/usr/bin/env bash
# Install the Debian packages Depesche needs, whether or not this machine happens to have the
# programs elsewhere: a fresh Debian has none of them.
#   scripts/system-packages.sh runtime   what `make demo` and every run need (PDF rendering)
#   scripts/system-packages.sh [test]    the runtime packages plus what only the tests use
set -euo pipefail
purpose=${1:-test}
# WeasyPrint renders press releases as PDF through Pango and HarfBuzz; Liberation provides fonts
# metric-compatible with Arial/Helvetica, which the print stylesheet asks for.
runtime=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation2)
case "$purpose" in
  runtime) packages=("${runtime[@]}"); needed_by="Depesche (make demo)" ;;
  # postgresql: `make test` runs the suite a second time on a PostgreSQL server it starts itself.
  test) packages=("${runtime[@]}" redis-server postgresql); needed_by="the tests" ;;
  *) echo "usage: $0 [runtime|test]" >&2; exit 2 ;;
esac
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "error: ${needed_by} needs these Debian packages: ${missing[*]}" >&2
  echo "       run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The tests start their own servers on free loopback ports; the packaged service is not needed.
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now redis-server postgresql >/dev/null 2>&1 || true
fi
