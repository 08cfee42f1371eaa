import { execFile } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import { promisify } from "node:util";
import { Agent, setGlobalDispatcher } from "undici";
import { ConfigError, type Config } from "./config.ts";

/**
 * TLS of footfall's listeners (the MQTT broker, the API, `footfall gateway`) and of its clients
 * (simulator, camera agent). With FOOTFALL_TLS_CERT and FOOTFALL_TLS_KEY set, TLS is required:
 * the broker listens only on FOOTFALL_MQTTS_PORT (TLS), the API and the gateway only over HTTPS;
 * no plain listener is opened for them. The ops ports of the broker and the actor host
 * (/healthz, /metrics) stay plain HTTP on their own ports. The files are read once at start.
 */
export interface ServerTls {
  cert: Buffer;
  key: Buffer;
  certFile: string;
  keyFile: string;
}

/** A TLS handshake not finished within this long is dropped (node's default is 2 minutes). */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * The listeners' certificate and key, or undefined when neither variable is set (plain). Only one
 * of them set, a file that cannot be read, or a key that does not match the certificate: a
 * ConfigError naming the variable (the process does not start).
 */
export function serverTlsOf(cfg: Pick<Config, "tlsCert" | "tlsKey">): ServerTls | undefined {
  if (!cfg.tlsCert && !cfg.tlsKey) return undefined;
  if (!cfg.tlsCert || !cfg.tlsKey) {
    throw new ConfigError([`${cfg.tlsCert ? "FOOTFALL_TLS_KEY (tlsKey)" : "FOOTFALL_TLS_CERT (tlsCert)"}: FOOTFALL_TLS_CERT and FOOTFALL_TLS_KEY are set together or not at all`]);
  }
  const read = (file: string, name: string): Buffer => {
    try { return fs.readFileSync(file); } catch (e) {
      throw new ConfigError([`${name}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`]);
    }
  };
  const cert = read(cfg.tlsCert, "FOOTFALL_TLS_CERT (tlsCert)");
  const key = read(cfg.tlsKey, "FOOTFALL_TLS_KEY (tlsKey)");
  try {
    tls.createSecureContext({ cert, key });
  } catch (e) {
    throw new ConfigError([`FOOTFALL_TLS_CERT / FOOTFALL_TLS_KEY: not a PEM certificate and its matching key (${(e as Error).message})`]);
  }
  return { cert, key, certFile: path.resolve(cfg.tlsCert), keyFile: path.resolve(cfg.tlsKey) };
}

/** A CA file for a client (--ca, FOOTFALL_TLS_CA): its PEM text; throws naming the file when unusable. */
export function readCaFile(file: string): Buffer {
  let pem: Buffer;
  try { pem = fs.readFileSync(file); } catch (e) {
    throw new Error(`cannot read the CA file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new Error(`the CA file ${file} holds no PEM certificate`);
  return pem;
}

/** openssl's / node's codes for a server certificate that does not verify against the trusted CAs. */
const CERTIFICATE_ERRORS = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_UNTRUSTED", "CERT_SIGNATURE_FAILURE",
  "CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID", "CERT_REJECTED", "INVALID_CA", "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** True when a client's connection error is the server's certificate failing verification. */
export function isCertificateError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && CERTIFICATE_ERRORS.has(code);
}

const run = promisify(execFile);

/**
 * Writes a self-signed certificate and its key (EC P-256, 825 days) into `dir` as cert.pem and
 * key.pem (mode 0600), made by Debian's `openssl` CLI. Subject alternative names: 127.0.0.1, ::1,
 * localhost and `hosts` (IP addresses or DNS names). Clients trust cert.pem itself as the CA
 * (`curl --cacert`, `mosquitto_pub --cafile`, `--ca`). An existing pair is kept unless `force`.
 */
export async function writeSelfSigned(dir: string, opts: { hosts?: string[]; force?: boolean } = {}): Promise<{ cert: string; key: string; created: boolean }> {
  const cert = path.join(dir, "cert.pem");
  const key = path.join(dir, "key.pem");
  if (!opts.force && fs.existsSync(cert) && fs.existsSync(key)) return { cert, key, created: false };
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const names = [...new Set(["127.0.0.1", "::1", "localhost", ...(opts.hosts ?? [])].filter((h) => h && h !== "0.0.0.0" && h !== "::"))];
  const san = names.map((h) => (net.isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(",");
  const tmpKey = `${key}.tmp`;
  const tmpCert = `${cert}.tmp`;
  await run("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", tmpKey, "-out", tmpCert, "-days", "825", "-subj", "/CN=footfall self-signed",
    "-addext", `subjectAltName=${san}`, "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
    "-addext", "extendedKeyUsage=serverAuth",
  ]);
  fs.chmodSync(tmpKey, 0o600);
  fs.renameSync(tmpKey, key);
  fs.renameSync(tmpCert, cert);
  return { cert, key, created: true };
}

/**
 * Makes this process's fetch() verify HTTPS servers against `ca` only (the operator's or the
 * self-signed CA) instead of the system's roots. For footfall's own clients of its API
 * (`footfall up --demo`, `footfall sim`); node's fetch takes its dispatcher from undici's global.
 */
export function trustOnlyForFetch(ca: Buffer | string): void {
  // no kept-alive sockets: these are a few set-up calls, and a socket the server closes while
  // idle would fail the next request ("other side closed") on a loaded machine
  setGlobalDispatcher(new Agent({ connect: { ca, rejectUnauthorized: true }, pipelining: 0 }));
}

/** The CA footfall's own clients of this installation trust (`footfall up --demo`): FOOTFALL_TLS_CA, else the (self-signed) certificate itself. */
export function ownClientTlsOf(cfg: Pick<Config, "tlsCert" | "tlsKey" | "tlsCa">): { caFile: string; ca: Buffer } | undefined {
  if (!cfg.tlsCert || !cfg.tlsKey) return undefined;
  const caFile = path.resolve(cfg.tlsCa ?? cfg.tlsCert);
  return { caFile, ca: readCaFile(caFile) };
}

/** The broker's URL for a device on `host`: mqtts:// on the TLS port when TLS is on, else mqtt://. */
export const mqttUrlFor = (cfg: Pick<Config, "tlsCert" | "tlsKey" | "mqttPort" | "mqttsPort">, host: string): string =>
  cfg.tlsCert && cfg.tlsKey ? `mqtts://${host}:${cfg.mqttsPort}` : `mqtt://${host}:${cfg.mqttPort}`;
