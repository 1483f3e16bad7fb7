// A probe's TCP (or TLS) conversation: connect with a deadline, write lines, read until a
// predicate holds, each step bounded by the checker's timeout. Every failure becomes a
// ProbeFailure whose message is the reason the checker reports.
import net from 'node:net';
import tls from 'node:tls';
import type { CheckerCommon } from '../src/config/model.js';
import type { Cancellation } from './cancel.js';
import { ProbeFailure, errReason, tcpSocket } from './net-util.js';
import { hostPort } from './types.js';

export interface ConnectOptions {
  spec: CheckerCommon;
  address: string;
  port: number;
  timeoutMs: number;
  cancel: Cancellation;
  /** wrap in TLS without certificate verification (as keepalived); servername = SNI or none */
  tls?: { servername?: string };
}

/** Connect (and handshake), failing with "connect ECONNREFUSED a:p" / "connect timeout after N ms (a:p)". */
export function connectStream(o: ConnectOptions): Promise<net.Socket> {
  const peer = hostPort(o.address, o.port);
  return new Promise<net.Socket>((resolve, reject) => {
    if (o.cancel.aborted) return reject(new ProbeFailure('aborted'));
    let raw: net.Socket;
    try {
      raw = tcpSocket(o.spec, o.address, o.port);
    } catch (err) {
      return reject(err instanceof ProbeFailure ? err : new ProbeFailure(errReason(err, peer)));
    }
    let sock: net.Socket = raw;
    let done = false;
    const finish = (err: ProbeFailure | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      offAbort();
      sock.removeListener('error', onError);
      if (err) {
        sock.destroy();
        raw.destroy();
        reject(err);
      } else resolve(sock);
    };
    const onError = (err: Error): void => {
      const e = err as NodeJS.ErrnoException;
      // TLS errors carry no syscall; say which stage failed
      if (o.tls && !e.syscall) finish(new ProbeFailure(`TLS handshake failed with ${peer}: ${e.code ?? e.message}`));
      else finish(new ProbeFailure(errReason(err, peer)));
    };
    const onAbort = (): void => finish(new ProbeFailure('aborted'));
    const timer = setTimeout(
      () => finish(new ProbeFailure(`${o.tls && connected ? 'TLS handshake' : 'connect'} timeout after ${o.timeoutMs} ms (${peer})`)),
      o.timeoutMs,
    );
    let connected = false;
    const offAbort = o.cancel.onAbort(onAbort);
    raw.once('connect', () => {
      connected = true;
      if (!o.tls) return finish(null);
      sock.removeListener('error', onError);
      // errors of the wrapped socket surface on the TLS socket; never leave one unhandled
      raw.on('error', () => {});
      const opts: tls.ConnectionOptions = { socket: raw, rejectUnauthorized: false };
      if (o.tls.servername) opts.servername = o.tls.servername;
      sock = tls.connect(opts, () => finish(null));
      sock.on('error', onError);
    });
    sock.on('error', onError);
  });
}

/** Read/write steps over a connected stream. */
export class Conversation {
  private buf: Buffer = Buffer.alloc(0);
  private closed = false;
  private error: ProbeFailure | null = null;
  private wake: (() => void) | null = null;

  constructor(
    readonly sock: net.Socket,
    readonly peer: string,
    private readonly timeoutMs: number,
    private readonly maxBuffer = 1 << 20,
  ) {
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      if (this.buf.length > this.maxBuffer) {
        this.error = new ProbeFailure(`reply from ${peer} exceeds ${this.maxBuffer} bytes`);
        sock.destroy();
      }
      this.poke();
    });
    sock.on('end', () => {
      this.closed = true;
      this.poke();
    });
    sock.on('close', () => {
      this.closed = true;
      this.poke();
    });
    sock.on('error', (err) => {
      this.error ??= new ProbeFailure(errReason(err, peer));
      this.poke();
    });
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  write(data: string | Buffer): void {
    if (!this.sock.destroyed) this.sock.write(data);
  }

  /**
   * Wait until `take(buffer)` returns a byte count (>= 0): that many bytes are consumed and
   * returned. Fails on timeout, error, or close before the predicate holds.
   */
  async read(take: (buf: Buffer, closed: boolean) => number, what: string): Promise<Buffer> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const n = take(this.buf, this.closed);
      if (n >= 0) {
        const out = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return out;
      }
      if (this.error) throw this.error;
      if (this.closed) throw new ProbeFailure(`connection closed by ${this.peer} while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new ProbeFailure(`timeout after ${this.timeoutMs} ms waiting for ${what} from ${this.peer}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.wake = null;
          resolve();
        }, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** One CRLF/LF-terminated line (without the terminator). */
  async line(what: string): Promise<string> {
    const raw = await this.read((b) => {
      const i = b.indexOf(10);
      return i < 0 ? -1 : i + 1;
    }, what);
    return raw.toString('latin1').replace(/\r?\n$/, '');
  }

  /**
   * An SMTP/FTP/NNTP-style reply: lines "NNN-text" continue, "NNN text" ends it.
   * Returns the code and the joined text.
   */
  async reply(what: string): Promise<{ code: number; text: string }> {
    const lines: string[] = [];
    for (;;) {
      const l = await this.line(what);
      lines.push(l);
      const m = /^(\d{3})([ -]|$)/.exec(l);
      if (!m) throw new ProbeFailure(`malformed ${what} from ${this.peer}: ${JSON.stringify(l.slice(0, 80))}`);
      if (m[2] !== '-') return { code: Number(m[1]), text: lines.join('\n') };
      if (lines.length > 100) throw new ProbeFailure(`${what} from ${this.peer} has too many lines`);
    }
  }

  /** Everything until the peer closes, `enough(buf)` says stop, or the timeout (not an error here). */
  async collect(enough: (buf: Buffer) => boolean): Promise<{ data: Buffer; closed: boolean; timedOut: boolean }> {
    try {
      const data = await this.read((b, closed) => (closed || enough(b) ? b.length : -1), 'data');
      return { data, closed: this.closed, timedOut: false };
    } catch (err) {
      if (err instanceof ProbeFailure && err.message.startsWith('timeout')) {
        const data = this.buf;
        this.buf = Buffer.alloc(0);
        return { data, closed: false, timedOut: true };
      }
      throw err;
    }
  }

  close(): void {
    this.sock.destroy();
  }
}
