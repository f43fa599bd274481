#!/usr/bin/env bash
# Create the project's virtualenv. Debian ships `venv` separately (python3-venv): install it
# when missing and we are root, otherwise say what to do.
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
  exit 0
fi
rm -rf "$venv"
if ! "$python" -m venv "$venv" 2>/dev/null; then
  rm -rf "$venv"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip >/dev/null
    "$python" -m venv "$venv"
  else
    echo "error: '$python -m venv' failed; install python3-venv (sudo apt-get install python3-venv)" >&2
    exit 1
  fi
fi
