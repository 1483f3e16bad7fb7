// Test fixtures for checker tests: spec builders and small loopback servers each test starts
// itself (HTTP, HTTPS with a self-signed certificate made by openssl, TCP, SMTP, DNS/UDP).
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { CheckerCommon, CheckerSpec, HttpCheck, HttpUrl } from '../../../src/config/model.js';
import { Cancel } from '../../../checks/cancel.js';
import type { ProbeContext, ProbeSettings, ProbeTarget } from '../../../checks/types.js';

export const loc = { file: 'test.conf', line: 1, col: 1 };

export function common(over: Partial<CheckerCommon> = {}): CheckerCommon {
  return {
    connectTimeoutMs: 1000,
    delayLoopMs: 1000,
    retry: 1,
    delayBeforeRetryMs: 1000,
    warmupMs: 0,
    alpha: false,
    logAllFailures: false,
    loc,
    ...over,
  };
}

export function url(over: Partial<HttpUrl> = {}): HttpUrl {
  return { path: '/', statusCodes: [[200, 299]], regexNoMatch: false, regexOptions: [], loc, ...over };
}

export function httpCheck(over: Partial<HttpCheck> = {}): HttpCheck {
  return {
    ...common(),
    type: 'HTTP_GET',
    urls: [url()],
    httpProtocol: '1.0',
    fastRecovery: false,
    enableSni: false,
    tlsCompliant: false,
    ...over,
  };
}

export function target(port: number, address = '127.0.0.1', over: Partial<ProbeTarget> = {}): ProbeTarget {
  return { address, port, family: address.includes(':') ? 'inet6' : 'inet', ...over };
}

export function ctx(settings: Partial<ProbeSettings> = {}, signal = new AbortController().signal): ProbeContext {
  return { cancel: Cancel.fromSignal(signal), settings: { enableScriptSecurity: false, trackFiles: {}, ...settings }, now: () => performance.now() };
}

export function spec<T extends CheckerSpec>(s: T): T {
  return s;
}

/** A port on 127.0.0.1 that nobody listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Closable {
  port: number;
  close(): Promise<void>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export async function httpServer(handler: Handler, host = '127.0.0.1'): Promise<Closable & { requests: { url: string; headers: http.IncomingHttpHeaders; httpVersion: string }[] }> {
  const requests: { url: string; headers: http.IncomingHttpHeaders; httpVersion: string }[] = [];
  const srv = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers, httpVersion: req.httpVersion });
    handler(req, res);
  });
  await new Promise<void>((r) => srv.listen(0, host, r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    requests,
    close: () => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }),
  };
}

let certCache: { key: string; cert: string } | null = null;

/** A self-signed certificate generated with openssl at test time. */
export function selfSigned(): { key: string; cert: string } {
  if (certCache) return certCache;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsd-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=lvsd-test'], { stdio: 'ignore' });
    certCache = { key: fs.readFileSync(path.join(dir, 'k.pem'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'c.pem'), 'utf8') };
    return certCache;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function httpsServer(handler: Handler): Promise<Closable & { snis: (string | false)[] }> {
  const snis: (string | false)[] = [];
  const srv = https.createServer(selfSigned(), handler);
  srv.on('secureConnection', (s) => snis.push((s as unknown as { servername: string | false }).servername));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    snis,
    close: () => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }),
  };
}

/** A raw TCP server: `onConn` gets each socket. */
export async function tcpServer(onConn: (s: net.Socket) => void, host = '127.0.0.1'): Promise<Closable & { connections: number }> {
  const sockets = new Set<net.Socket>();
  const state = { connections: 0 };
  const srv = net.createServer((s) => {
    state.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onConn(s);
  });
  await new Promise<void>((r) => srv.listen(0, host, r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

/** A UDP server: `onMsg` may answer with `reply(buf)`. */
export async function udpServer(onMsg: (msg: Buffer, reply: (b: Buffer) => void) => void, host = '127.0.0.1'): Promise<Closable & { received: Buffer[] }> {
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const received: Buffer[] = [];
  sock.on('message', (msg, rinfo) => {
    received.push(msg);
    onMsg(msg, (b) => sock.send(b, rinfo.port, rinfo.address));
  });
  await new Promise<void>((r) => sock.bind(0, host, r));
  return { port: sock.address().port, received, close: () => new Promise<void>((r) => sock.close(() => r())) };
}

/** A free UDP port on 127.0.0.1 (nobody bound: datagrams to it draw ICMP port unreachable). */
export async function closedUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export function tmpDir(prefix = 'lvsd-checks-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
