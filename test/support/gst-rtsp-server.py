#!/usr/bin/python3
"""
A GStreamer RTSP server for tests (Debian: gir1.2-gst-rtsp-server-1.0, python3-gi,
gstreamer1.0-plugins-good). Serves one shared live mount that re-serves an H.264 RTP stream
received on a UDP port (e.g. from `ffmpeg -re -i f.mp4 -c copy -bsf:v h264_mp4toannexb -f rtp
rtp://127.0.0.1:UDP`). Readers may take the media over TCP (interleaved) or UDP.

RTP timestamps of the input are kept (rtpjitterbuffer mode=none), so frame timing is exact.

Usage: gst-rtsp-server.py --port 8554 --mount cam --udp-port 5004
Prints "ready rtsp://127.0.0.1:PORT/MOUNT" once it listens; stops on SIGINT / SIGTERM.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mount", default="cam")
    ap.add_argument("--udp-port", type=int, required=True)
    ap.add_argument("--address", default="127.0.0.1")
    a = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(a.address)
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    caps = "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"
    factory.set_launch(
        f'( udpsrc address={a.address} port={a.udp_port} caps="{caps}" '
        "! rtpjitterbuffer mode=none latency=200 ! rtph264depay "
        "! rtph264pay name=pay0 pt=96 config-interval=0 )"
    )
    factory.set_shared(True)
    server.get_mount_points().add_factory(f"/{a.mount}", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on {a.address}:{a.port}", file=sys.stderr)
        return 1

    loop = GLib.MainLoop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, lambda *_: (loop.quit(), False)[1])
    print(f"ready rtsp://{a.address}:{a.port}/{a.mount}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
