// PING_CHECK: ICMP/ICMPv6 echo through the native socket layer. One socket per family (and
// bindto/fwmark/bind_if) serves every target; replies are matched by sequence number, source
// address and (raw sockets) our identifier. A ping socket (SOCK_DGRAM, no privilege when
// net.ipv4.ping_group_range allows our gid) is preferred, SOCK_RAW (root) is the fallback.
import crypto from 'node:crypto';
import type { PingCheck } from '../src/config/model.js';
import type { Cancellation } from './cancel.js';
import { C } from '../src/net/native.js';
import { RawSocket } from '../src/net/socket.js';
import { canonicalIp, decodeSockaddr, sockaddrFor } from '../src/net/sockaddr.js';
import { buildEcho, describeIcmpError, parseIcmp } from './icmp-codec.js';
import { effectiveTarget, type ProbeContext, type ProbeResult, type ProbeTarget } from './types.js';

interface Pending {
  dst: string;
  sentAt: number;
  resolve: (r: { ok: true; rttMs: number } | { ok: false; reason: string }) => void;
}

export type PingSocketMode = 'dgram' | 'raw';

export class Pinger {
  private sock: RawSocket;
  readonly mode: PingSocketMode;
  private readonly ident = crypto.randomInt(1, 0xffff);
  private seq = crypto.randomInt(0, 0xffff);
  private pending = new Map<number, Pending>();
  private readonly payload = Buffer.from('lvsd PING_CHECK lvsd PING_CHECK lvsd PING_CHECK!!!!!!!!');

  constructor(
    readonly v6: boolean,
    opts: { bindTo?: string; fwmark?: number; bindIf?: string; forceMode?: PingSocketMode },
  ) {
    const domain = v6 ? C('AF_INET6') : C('AF_INET');
    const proto = v6 ? C('IPPROTO_ICMPV6') : C('IPPROTO_ICMP');
    let sock: RawSocket | undefined;
    let mode: PingSocketMode = 'dgram';
    let firstErr: unknown;
    if (opts.forceMode !== 'raw') {
      try {
        sock = new RawSocket(domain, C('SOCK_DGRAM'), proto);
      } catch (err) {
        firstErr = err;
      }
    }
    if (!sock && opts.forceMode !== 'dgram') {
      try {
        sock = new RawSocket(domain, C('SOCK_RAW'), proto);
        mode = 'raw';
      } catch (err) {
        const e = (firstErr ?? err) as NodeJS.ErrnoException;
        throw new Error(
          `cannot open an ICMP socket (${e.code ?? e.message}): needs root, or a gid inside net.ipv4.ping_group_range`,
        );
      }
    }
    if (!sock) throw new Error(`cannot open an ICMP ping socket (${(firstErr as NodeJS.ErrnoException)?.code ?? 'unknown'})`);
    this.sock = sock;
    this.mode = mode;
    try {
      if (opts.fwmark) sock.setOption(C('SOL_SOCKET'), C('SO_MARK'), opts.fwmark);
      if (opts.bindIf) sock.setOption(C('SOL_SOCKET'), C('SO_BINDTODEVICE'), Buffer.from(`${opts.bindIf}\0`));
      if (opts.bindTo) sock.bind(sockaddrFor(opts.bindTo, 0));
    } catch (err) {
      sock.close();
      throw new Error(`ICMP socket setup failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    sock.startReading(
      (pkt) => this.onPacket(pkt.data, pkt.addr),
      () => {
        /* transient receive errors: the probes concerned time out */
      },
    );
    sock.unref();
  }

  private onPacket(data: Buffer, addr: Buffer): void {
    const ev = parseIcmp(data, this.v6, this.mode === 'raw' && !this.v6);
    if (ev.kind === 'other') return;
    // ping sockets rewrite the identifier and only deliver our replies; raw sockets see all
    if (this.mode === 'raw' && ev.id !== this.ident) return;
    const p = this.pending.get(ev.seq);
    if (!p) return;
    if (ev.kind === 'reply') {
      const from = decodeSockaddr(addr).address;
      if (!from || canonicalIp(from) !== p.dst) return;
      this.pending.delete(ev.seq);
      p.resolve({ ok: true, rttMs: performance.now() - p.sentAt });
    } else {
      if (canonicalIp(ev.dst) !== p.dst) return;
      this.pending.delete(ev.seq);
      p.resolve({ ok: false, reason: describeIcmpError(this.v6, ev.type, ev.code) });
    }
  }

  private nextSeq(): number {
    for (let i = 0; i < 0x10000; i++) {
      this.seq = (this.seq + 1) & 0xffff;
      if (!this.pending.has(this.seq)) return this.seq;
    }
    throw new Error('too many pings in flight');
  }

  get inFlight(): number {
    return this.pending.size;
  }

  ping(address: string, timeoutMs: number, cancel?: Cancellation): Promise<{ ok: true; rttMs: number } | { ok: false; reason: string }> {
    return new Promise((resolve) => {
      let seq: number;
      try {
        seq = this.nextSeq();
      } catch (err) {
        return resolve({ ok: false, reason: (err as Error).message });
      }
      const dst = canonicalIp(address);
      let timer: NodeJS.Timeout;
      const done = (r: { ok: true; rttMs: number } | { ok: false; reason: string }): void => {
        clearTimeout(timer);
        offAbort();
        this.pending.delete(seq);
        resolve(r);
      };
      const onAbort = (): void => done({ ok: false, reason: 'aborted' });
      timer = setTimeout(() => done({ ok: false, reason: `no echo reply within ${timeoutMs} ms` }), timeoutMs);
      const offAbort = cancel ? cancel.onAbort(onAbort) : () => {};
      this.pending.set(seq, { dst, sentAt: performance.now(), resolve: done });
      try {
        this.sock.send(buildEcho(this.v6, this.ident, seq, this.payload), sockaddrFor(address, 0));
      } catch (err) {
        done({ ok: false, reason: `sendto ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      }
    });
  }

  close(): void {
    for (const p of this.pending.values()) p.resolve({ ok: false, reason: 'aborted' });
    this.pending.clear();
    this.sock.close();
  }
}

const pingers = new Map<string, Pinger>();

function pingerFor(v6: boolean, spec: PingCheck): Pinger {
  const key = `${v6 ? 6 : 4}|${spec.bindTo ?? ''}|${spec.fwmark ?? 0}|${spec.bindIf ?? ''}`;
  let p = pingers.get(key);
  if (!p) {
    p = new Pinger(v6, { bindTo: spec.bindTo, fwmark: spec.fwmark, bindIf: spec.bindIf });
    pingers.set(key, p);
  }
  return p;
}

/** Close the shared ICMP sockets (checker shutdown). */
export function closePingers(): void {
  for (const p of pingers.values()) p.close();
  pingers.clear();
}

export async function probePing(spec: PingCheck, target: ProbeTarget, ctx: ProbeContext): Promise<ProbeResult> {
  const start = ctx.now();
  const { address, family } = effectiveTarget(spec, target);
  let pinger: Pinger;
  try {
    pinger = pingerFor(family === 'inet6', spec);
  } catch (err) {
    return { up: false, reason: `PING_CHECK ${address}: ${(err as Error).message}`, latencyMs: ctx.now() - start };
  }
  const r = await pinger.ping(address, spec.connectTimeoutMs, ctx.cancel);
  if (r.ok) return { up: true, reason: `PING ${address}: echo reply in ${r.rttMs.toFixed(1)} ms`, latencyMs: ctx.now() - start };
  return { up: false, reason: `PING_CHECK ${address}: ${r.reason}`, latencyMs: ctx.now() - start };
}
