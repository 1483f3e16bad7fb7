// A lean HTTP/1.x client for health checks: one fresh connection per request, the request
// exactly as keepalived sends it (HTTP/1.0 by default), a streaming response parser that keeps
// only what the check needs (status, MD5 of the body, a bounded body prefix for regexes).
// Chosen over undici for the hot path: see bench/checks/http-checks.ts for the measurements.
import net from 'node:net';
import crypto from 'node:crypto';
import type { CheckerCommon } from '../src/config/model.js';
import type { Cancellation } from './cancel.js';
import { connectStream } from './conversation.js';
import { ProbeFailure, errReason, tcpSocket } from './net-util.js';
import { hostPort } from './types.js';

export interface HttpRequest {
  spec: CheckerCommon;
  address: string;
  port: number;
  timeoutMs: number;
  cancel: Cancellation;
  tls?: { servername?: string };
  method: 'GET' | 'HEAD';
  path: string;
  /** Host header value */
  host: string;
  /** keepalived's http_protocol: 1.0 (no Connection header), 1.0C (Connection: close), 1.1 (+ close) */
  version: '1.0' | '1.0C' | '1.1';
  wantDigest: boolean;
  /** keep up to this many body bytes (for regex matching); 0 = keep none */
  keepBody: number;
}

export interface HttpResponse {
  status: number;
  /** status line and headers, as received (latin1) */
  head: string;
  bodyBytes: number;
  /** MD5 hex of the (de-chunked) body, when wantDigest */
  md5?: string;
  /** the first keepBody bytes of the body */
  body: Buffer;
}

const MAX_HEAD = 64 * 1024;
/** how long a finished exchange waits for the server to close before closing itself */
const CLOSE_GRACE_MS = 1000;

export function buildRequest(r: Pick<HttpRequest, 'method' | 'path' | 'host' | 'version'>): string {
  const v = r.version === '1.1' ? '1.1' : '1.0';
  const conn = r.version === '1.0' ? '' : 'Connection: close\r\n';
  // same header order and User-Agent as keepalived, so existing log filters keep working
  return `${r.method} ${r.path} HTTP/${v}\r\nUser-Agent: KeepAliveClient\r\n${conn}Host: ${r.host}\r\n\r\n`;
}

/** Default Host header: the address and port probed (IPv6 in brackets), as keepalived does. */
export function defaultHost(address: string, port: number): string {
  return hostPort(address, port);
}

/** Streaming HTTP/1.x response parser (sans-I/O: feed bytes, then end). */
export class ResponseParser {
  private head: Buffer[] = [];
  private headLen = 0;
  private phase: 'head' | 'body' | 'done' = 'head';
  private status = 0;
  private headText = '';
  private contentLength = -1;
  private chunked = false;
  private bodyBytes = 0;
  private md5: crypto.Hash | null;
  private kept: Buffer[] = [];
  private keptLen = 0;
  // chunked decoding state
  private chunkLeft = 0;
  private chunkState: 'size' | 'data' | 'crlf' | 'trailer' = 'size';
  private sizeLine = '';
  private final: HttpResponse | null = null;

  constructor(
    private readonly isHead: boolean,
    wantDigest: boolean,
    private readonly keepBody: number,
  ) {
    this.md5 = wantDigest ? crypto.createHash('md5') : null;
  }

  get done(): boolean {
    return this.phase === 'done';
  }

  get headersComplete(): boolean {
    return this.phase !== 'head';
  }

  get received(): number {
    return this.headLen;
  }

  /** Feed bytes; throws ProbeFailure on a malformed response. */
  push(data: Buffer): void {
    if (this.phase === 'head') {
      this.head.push(data);
      this.headLen += data.length;
      const all = this.head.length === 1 ? data : Buffer.concat(this.head);
      this.head = [all];
      let end = all.indexOf('\r\n\r\n');
      let sep = 4;
      if (end < 0) {
        end = all.indexOf('\n\n');
        sep = 2;
      }
      if (end < 0) {
        if (all.length > MAX_HEAD) throw new ProbeFailure(`HTTP response headers exceed ${MAX_HEAD} bytes`);
        // reject garbage early rather than waiting for a timeout
        if (all.length >= 8 && !all.subarray(0, 5).equals(Buffer.from('HTTP/'))) this.badStatusLine(all);
        return;
      }
      this.parseHead(all.subarray(0, end).toString('latin1'));
      this.head = [];
      this.phase = 'body';
      if (this.isHead || this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200)) {
        this.phase = 'done';
        return;
      }
      if (this.contentLength === 0 && !this.chunked) {
        this.phase = 'done';
        return;
      }
      const rest = all.subarray(end + sep);
      if (rest.length) this.body(rest);
      return;
    }
    if (this.phase === 'body') this.body(data);
  }

  /** The peer closed: what we have is the response (a body without length ends here). */
  end(): HttpResponse {
    if (this.phase === 'head') {
      const got = this.head.length ? this.head[0]! : Buffer.alloc(0);
      if (got.length === 0) throw new ProbeFailure('connection closed without an HTTP response');
      if (!got.subarray(0, 5).equals(Buffer.from('HTTP/'))) this.badStatusLine(got);
      throw new ProbeFailure(`connection closed before the end of the HTTP response headers (${got.length} bytes received)`);
    }
    this.phase = 'done';
    return this.result();
  }

  result(): HttpResponse {
    if (this.final) return this.final;
    const r: HttpResponse = {
      status: this.status,
      head: this.headText,
      bodyBytes: this.bodyBytes,
      body: this.kept.length === 1 ? this.kept[0]! : Buffer.concat(this.kept, this.keptLen),
    };
    if (this.md5) r.md5 = this.md5.digest('hex');
    this.final = r;
    return r;
  }

  private badStatusLine(b: Buffer): never {
    const line = b.toString('latin1').split(/\r?\n/)[0]!.slice(0, 60);
    throw new ProbeFailure(`invalid HTTP status line ${JSON.stringify(line)}`);
  }

  private parseHead(text: string): void {
    this.headText = text;
    const lines = text.split(/\r?\n/);
    const m = /^HTTP\/(\d)\.(\d) (\d{3})(?: |$)/.exec(lines[0]!);
    if (!m) this.badStatusLine(Buffer.from(lines[0]!, 'latin1'));
    this.status = Number(m![3]);
    const v11 = m![1] === '1' && m![2] === '1';
    for (let i = 1; i < lines.length; i++) {
      const l = lines[i]!;
      const c = l.indexOf(':');
      if (c <= 0) continue;
      const name = l.slice(0, c).trim().toLowerCase();
      const value = l.slice(c + 1).trim();
      if (name === 'content-length') {
        const n = Number(value);
        if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new ProbeFailure(`invalid Content-Length ${JSON.stringify(value.slice(0, 30))}`);
        this.contentLength = n;
      } else if (name === 'transfer-encoding' && v11 && /(^|,)\s*chunked\s*$/i.test(value)) this.chunked = true;
    }
    if (this.chunked) this.contentLength = -1;
  }

  private body(d: Buffer): void {
    if (this.chunked) return this.dechunk(d);
    if (this.contentLength >= 0) {
      const left = this.contentLength - this.bodyBytes;
      if (d.length >= left) {
        this.take(d.subarray(0, left));
        this.phase = 'done';
        return;
      }
    }
    this.take(d);
  }

  private take(d: Buffer): void {
    if (d.length === 0) return;
    this.bodyBytes += d.length;
    this.md5?.update(d);
    if (this.keptLen < this.keepBody) {
      const part = d.subarray(0, this.keepBody - this.keptLen);
      this.kept.push(part);
      this.keptLen += part.length;
    }
  }

  private dechunk(d: Buffer): void {
    let i = 0;
    while (i < d.length && this.phase === 'body') {
      switch (this.chunkState) {
        case 'size': {
          const nl = d.indexOf(10, i);
          const part = d.subarray(i, nl < 0 ? d.length : nl).toString('latin1');
          this.sizeLine += part;
          if (this.sizeLine.length > 1024) throw new ProbeFailure('invalid chunked encoding (size line too long)');
          if (nl < 0) return;
          i = nl + 1;
          const hex = this.sizeLine.replace(/\r$/, '').split(';')[0]!.trim();
          this.sizeLine = '';
          if (!/^[0-9a-fA-F]+$/.test(hex)) throw new ProbeFailure(`invalid chunk size ${JSON.stringify(hex.slice(0, 20))}`);
          this.chunkLeft = parseInt(hex, 16);
          this.chunkState = this.chunkLeft === 0 ? 'trailer' : 'data';
          if (this.chunkLeft === 0) {
            // trailers are not needed: the body is complete
            this.phase = 'done';
            return;
          }
          break;
        }
        case 'data': {
          const n = Math.min(this.chunkLeft, d.length - i);
          this.take(d.subarray(i, i + n));
          this.chunkLeft -= n;
          i += n;
          if (this.chunkLeft === 0) this.chunkState = 'crlf';
          break;
        }
        case 'crlf': {
          const nl = d.indexOf(10, i);
          if (nl < 0) return;
          i = nl + 1;
          this.chunkState = 'size';
          break;
        }
        case 'trailer':
          return;
      }
    }
  }
}

/** One request on a fresh connection. Rejects with a ProbeFailure carrying the reason. */
export function httpExchange(r: HttpRequest): Promise<HttpResponse> {
  const peer = hostPort(r.address, r.port);
  const request = buildRequest(r);
  const fast = !r.tls && !r.spec.fwmark && !r.spec.bindIf;
  if (fast) {
    let sock: net.Socket;
    try {
      sock = tcpSocket(r.spec, r.address, r.port);
    } catch (err) {
      return Promise.reject(err instanceof ProbeFailure ? err : new ProbeFailure(errReason(err, peer)));
    }
    // written before the connection completes: net.Socket queues it, saving an event-loop turn
    sock.write(request);
    return exchangeOn(sock, r, peer, false);
  }
  return connectStream({ spec: r.spec, address: r.address, port: r.port, timeoutMs: r.timeoutMs, cancel: r.cancel, tls: r.tls }).then((sock) => {
    sock.write(request);
    return exchangeOn(sock, r, peer, true);
  });
}

function exchangeOn(sock: net.Socket, r: HttpRequest, peer: string, connected: boolean): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve, reject) => {
    const parser = new ResponseParser(r.method === 'HEAD', r.wantDigest, r.keepBody);
    let settled = false;
    const finish = (err: ProbeFailure | null, res?: HttpResponse): void => {
      if (settled) return;
      settled = true;
      offAbort();
      if (err || sock.readableEnded || r.cancel.aborted) sock.destroy();
      else {
        // complete response, server not closed yet: it will (Connection: close / HTTP/1.0), so
        // let it close first -- the TIME_WAIT then stays on the real server instead of piling
        // up here (10,000 checks/s would mean 600,000 of them). Bounded wait, then close anyway.
        sock.setTimeout(CLOSE_GRACE_MS, () => sock.destroy());
        sock.once('end', () => sock.destroy());
      }
      if (err) reject(err);
      else resolve(res!);
    };
    if (r.cancel.aborted) return finish(new ProbeFailure('aborted'));
    const offAbort = r.cancel.onAbort(() => finish(new ProbeFailure('aborted')));
    // an inactivity timeout: net.Socket re-arms it on every read/write, as keepalived applies
    // connect_timeout to each step (and it costs no timer churn per chunk)
    sock.setTimeout(r.timeoutMs, () => {
      finish(
        new ProbeFailure(
          connected || !sock.connecting
            ? `timeout after ${r.timeoutMs} ms waiting for the HTTP response from ${peer}${parser.received ? ` (${parser.received} bytes received)` : ''}`
            : `connect timeout after ${r.timeoutMs} ms (${peer})`,
        ),
      );
    });
    sock.on('data', (d: Buffer) => {
      if (settled) return;
      try {
        parser.push(d);
        if (parser.done) finish(null, parser.result());
      } catch (err) {
        finish(err as ProbeFailure);
      }
    });
    sock.on('end', () => {
      try {
        finish(null, parser.end());
      } catch (err) {
        finish(err as ProbeFailure);
      }
    });
    sock.on('error', (err) => {
      // a reset after a complete head with an unbounded body still ends the body (as a close would)
      if (parser.headersComplete && (err as NodeJS.ErrnoException).code === 'ECONNRESET') {
        try {
          return finish(null, parser.end());
        } catch (e) {
          return finish(e as ProbeFailure);
        }
      }
      finish(new ProbeFailure(errReason(err, peer)));
    });
  });
}
