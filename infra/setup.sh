#!/usr/bin/env bash
# Installs what footfall needs on a Debian machine, only what is missing:
#   Debian packages: nats-server, influxdb, ffmpeg, mosquitto-clients (needs root or sudo)
#   npm packages:    npm install (the versions pinned in package-lock.json)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have nats-server   || need+=(nats-server)
have influxd       || need+=(influxdb)
have ffmpeg        || need+=(ffmpeg)
have mosquitto_pub || need+=(mosquitto-clients)

if [ ${#need[@]} -gt 0 ]; then
  echo "footfall setup: installing Debian packages: ${need[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "footfall setup: need root or sudo to apt-get install ${need[*]}" >&2; exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian's influxdb package may start a system service on :8086; footfall runs its own influxd.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet influxdb 2>/dev/null; then
    $SUDO systemctl stop influxdb || true
  fi
fi

if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "footfall setup: installing npm packages"
  # `npm install`, not `npm ci`: npm 11 writes lock files without other platforms' optional
  # packages (rollup's native builds), which `npm ci` then refuses as out of sync
  npm install --no-audit --no-fund --loglevel=error
fi
echo "footfall setup: ready (nats-server $(/usr/sbin/nats-server --version 2>/dev/null || nats-server --version), $(influxd version 2>/dev/null | head -1))"
