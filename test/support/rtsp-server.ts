/**
 * A real RTSP server for tests: Debian's rtsp-server-perl (package `rtsp-server-perl`) run as a
 * child process on free loopback ports, and an ffmpeg publisher that pushes a file into it.
 *
 * rtsp-server-perl has two RTSP listeners: the source port, where a publisher ANNOUNCEs and
 * RECORDs a mount (`ffmpeg -re -i f.mp4 -c copy -f rtsp rtsp://127.0.0.1:SOURCE/cam`), and the
 * client port, where readers DESCRIBE / SETUP / PLAY it (`rtsp://127.0.0.1:CLIENT/cam`). It
 * carries media over RTP/UDP only (no RTP-over-RTSP interleaving): readers must use
 * `-rtsp_transport udp`. Its RTP ports are numbered upwards from `--rtp_start_port` (2 per
 * stream and party); a free block of UDP ports is chosen for it here.
 *
 * Also GStreamer's RTSP server (startGstRtspServer below), which serves RTP over TCP too.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import dgram from "node:dgram";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { freePort } from "./ports.ts";

export const RTSP_SERVER_PERL = process.env.RTSP_SERVER_PERL ?? "/usr/bin/rtsp-server-perl";
const FFMPEG = process.env.FFMPEG_PATH ?? "ffmpeg";
/** UDP ports reserved for the server's RTP/RTCP sockets (2 per stream set up, publishers and readers) */
const RTP_PORT_BLOCK = 64;

export interface RtspServer {
  /** port where publishers ANNOUNCE/RECORD */
  sourcePort: number;
  /** port where readers DESCRIBE/SETUP/PLAY */
  clientPort: number;
  /** first of the server's RTP/RTCP UDP ports */
  rtpStartPort: number;
  /** URL a publisher pushes `mount` to */
  publishUrl(mount: string): string;
  /** URL a reader plays `mount` from (RTP over UDP) */
  readUrl(mount: string): string;
  /** what the server printed so far (last 64 KiB) */
  output(): string;
  /** stops the server (SIGINT, then SIGKILL after 3 s) */
  stop(): Promise<void>;
}

export interface RtspPublisher {
  process: ChildProcess;
  /** ffmpeg's stderr so far (last 64 KiB) */
  output(): string;
  stop(): Promise<void>;
}

/** Keeps the tail of a child's output. */
function tail(child: ChildProcess): () => string {
  let text = "";
  const add = (b: Buffer) => { text = (text + b.toString("utf8")).slice(-65536); };
  child.stdout?.on("data", add);
  child.stderr?.on("data", add);
  return () => text;
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGINT", graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill(signal);
  const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(t);
}

/** True when UDP port p can be bound on 127.0.0.1 and on all addresses. */
async function udpFree(p: number): Promise<boolean> {
  for (const address of ["127.0.0.1", "0.0.0.0"]) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket("udp4");
      s.once("error", () => { s.close(); resolve(false); });
      s.bind(p, address, () => s.close(() => resolve(true)));
    });
    if (!ok) return false;
  }
  return true;
}

/** The first port of `count` consecutive free UDP ports (even, in 30000–59999). */
export async function freeUdpPortBlock(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 30000 + 2 * Math.floor(Math.random() * ((30000 - count) / 2));
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await udpFree(p);
    if (ok) return base;
  }
  throw new Error(`no block of ${count} free UDP ports found`);
}

/** Resolves once a TCP connection to 127.0.0.1:port succeeds (polls until timeoutMs). */
async function waitForTcp(port: number, timeoutMs: number, alive: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => { s.destroy(); resolve(true); });
      s.once("error", () => { s.destroy(); resolve(false); });
    });
    if (ok) return;
    if (!alive()) throw new Error(`${what} exited before it accepted connections on port ${port}`);
    if (Date.now() > deadline) throw new Error(`${what} did not accept connections on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Sends one RTSP DESCRIBE to `url` and returns the status code (e.g. 200, or 404 while nothing is published). */
export async function rtspDescribeStatus(url: string, timeoutMs = 3000): Promise<number> {
  const u = new URL(url);
  return new Promise<number>((resolve, reject) => {
    const s = net.connect(Number(u.port || 554), u.hostname);
    let got = "";
    const t = setTimeout(() => { s.destroy(); reject(new Error(`no answer to DESCRIBE ${url}`)); }, timeoutMs);
    s.once("connect", () => s.write(`DESCRIBE ${url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n`));
    s.on("data", (b) => {
      got += b.toString("latin1");
      const m = /^RTSP\/1\.0 (\d{3})/.exec(got);
      if (m || got.includes("\r\n")) {
        clearTimeout(t);
        s.destroy();
        if (m) resolve(Number(m[1]));
        else reject(new Error(`unexpected answer to DESCRIBE: ${got.slice(0, 80)}`));
      }
    });
    s.once("error", (e) => { clearTimeout(t); reject(e); });
  });
}

/**
 * Starts rtsp-server-perl on free loopback ports and waits until both listeners accept
 * connections. Throws a clear error when the Debian package is not installed.
 */
export async function startRtspServer(opts: { startTimeoutMs?: number; logLevel?: number } = {}): Promise<RtspServer> {
  if (!existsSync(RTSP_SERVER_PERL)) {
    throw new Error(`${RTSP_SERVER_PERL} not found: the RTSP tests need Debian's rtsp-server-perl (apt-get install rtsp-server-perl)`);
  }
  const clientPort = await freePort();
  let sourcePort = await freePort();
  while (sourcePort === clientPort) sourcePort = await freePort();
  const rtpStartPort = await freeUdpPortBlock(RTP_PORT_BLOCK);
  // run the script with autoflushed stdout (its log readable while it runs), and with the RTP
  // base port set in the module too: the server goes back to $RTSP::Server::RTP_START_PORT
  // (20000) whenever no mount is left, e.g. after a DESCRIBE of a mount not published yet
  const child = spawn("perl", [
    "-e", "$| = 1; my $f = shift @ARGV; my $rtp = shift @ARGV; require RTSP::Server; $RTSP::Server::RTP_START_PORT = $rtp; do $f; die $@ if $@;",
    RTSP_SERVER_PERL, String(rtpStartPort),
    "--clientport", String(clientPort), "--client_listen_address", "127.0.0.1",
    "--serverport", String(sourcePort), "--source_listen_address", "127.0.0.1",
    "--rtp_start_port", String(rtpStartPort),
    "--loglevel", String(opts.logLevel ?? 3),
  ], { stdio: ["ignore", "pipe", "pipe"] });
  const output = tail(child);
  const alive = () => child.exitCode === null && child.signalCode === null;
  const stop = () => stopChild(child);
  try {
    const t = opts.startTimeoutMs ?? 15_000;
    await waitForTcp(sourcePort, t, alive, "rtsp-server-perl");
    await waitForTcp(clientPort, t, alive, "rtsp-server-perl");
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n${output()}`);
  }
  return {
    sourcePort, clientPort, rtpStartPort,
    publishUrl: (mount) => `rtsp://127.0.0.1:${sourcePort}/${mount}`,
    readUrl: (mount) => `rtsp://127.0.0.1:${clientPort}/${mount}`,
    output,
    stop,
  };
}

/**
 * Starts ffmpeg publishing `file` (stream copy, paced in real time, looped) to `mount` and waits
 * until readers can DESCRIBE the mount.
 */
export async function publishToRtsp(server: RtspServer, mount: string, file: string, opts: { loop?: boolean; timeoutMs?: number } = {}): Promise<RtspPublisher> {
  const child = spawn(FFMPEG, [
    "-hide_banner", "-loglevel", "warning", "-nostdin",
    "-re", ...(opts.loop ?? true ? ["-stream_loop", "-1"] : []), "-i", file,
    "-map", "0:v:0", "-c", "copy", "-f", "rtsp", server.publishUrl(mount),
  ], { stdio: ["ignore", "pipe", "pipe"] });
  const output = tail(child);
  const stop = () => stopChild(child, "SIGINT", 3000);
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`ffmpeg publisher exited (${child.exitCode ?? child.signalCode}):\n${output()}\nserver:\n${server.output()}`);
    }
    const status = await rtspDescribeStatus(server.readUrl(mount)).catch(() => 0);
    if (status === 200) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`mount /${mount} not readable (last DESCRIBE status ${status}):\n${output()}\nserver:\n${server.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { process: child, output, stop };
}

/**
 * GStreamer's RTSP server (test/support/gst-rtsp-server.py through Debian's python3-gi,
 * gir1.2-gst-rtsp-server-1.0 and gstreamer1.0-plugins-good): one shared live mount re-serving
 * H.264 RTP received on a UDP port. Unlike rtsp-server-perl it serves RTP over TCP
 * (interleaved), the camera agent's default transport.
 */
export interface GstRtspServer {
  port: number;
  /** UDP port the server takes the H.264 RTP stream from */
  rtpInPort: number;
  readUrl(): string;
  output(): string;
  stop(): Promise<void>;
}

const GST_SCRIPT = fileURLToPath(new URL("./gst-rtsp-server.py", import.meta.url));
/** Debian's python3 (python3-gi is installed for it, not for other pythons on the PATH) */
const SYSTEM_PYTHON = process.env.SYSTEM_PYTHON ?? "/usr/bin/python3";
const GST_PACKAGES = "gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-good";

export async function startGstRtspServer(opts: { mount?: string; startTimeoutMs?: number } = {}): Promise<GstRtspServer> {
  const mount = opts.mount ?? "cam";
  if (!existsSync(SYSTEM_PYTHON)) throw new Error(`${SYSTEM_PYTHON} not found: the GStreamer RTSP test needs Debian's python3 and ${GST_PACKAGES}`);
  const port = await freePort();
  const rtpInPort = await freeUdpPortBlock(2);
  const child = spawn(SYSTEM_PYTHON, [GST_SCRIPT, "--port", String(port), "--mount", mount, "--udp-port", String(rtpInPort)], { stdio: ["ignore", "pipe", "pipe"] });
  const output = tail(child);
  const alive = () => child.exitCode === null && child.signalCode === null;
  try {
    await waitForTcp(port, opts.startTimeoutMs ?? 15_000, alive, "gst-rtsp-server.py");
  } catch (e) {
    await stopChild(child);
    const hint = /No module named 'gi'|Namespace GstRtspServer not available|no element/i.test(output()) ? ` (install ${GST_PACKAGES})` : "";
    throw new Error(`${(e as Error).message}${hint}\n${output()}`);
  }
  return { port, rtpInPort, readUrl: () => `rtsp://127.0.0.1:${port}/${mount}`, output, stop: () => stopChild(child) };
}

/**
 * Starts ffmpeg sending `file` as H.264 RTP (stream copy, SPS/PPS in-band at each keyframe,
 * real-time paced, looped) to the GStreamer server, and waits until the mount can be DESCRIBEd.
 */
export async function publishRtpToGst(server: GstRtspServer, file: string, opts: { timeoutMs?: number } = {}): Promise<RtspPublisher> {
  const child = spawn(FFMPEG, [
    "-hide_banner", "-loglevel", "warning", "-nostdin", "-re", "-stream_loop", "-1", "-i", file,
    "-map", "0:v:0", "-c", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "rtp", `rtp://127.0.0.1:${server.rtpInPort}`,
  ], { stdio: ["ignore", "pipe", "pipe"] });
  const output = tail(child);
  const stop = () => stopChild(child, "SIGINT", 3000);
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`ffmpeg RTP publisher exited (${child.exitCode ?? child.signalCode}):\n${output()}`);
    const status = await rtspDescribeStatus(server.readUrl(), 5000).catch(() => 0);
    if (status === 200) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${server.readUrl()} not readable (last DESCRIBE status ${status}):\n${output()}\nserver:\n${server.output()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { process: child, output, stop };
}
