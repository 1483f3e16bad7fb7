// Socket plumbing shared by the TCP/UDP checkers: source address/port, SO_MARK and
// SO_BINDTODEVICE on probe sockets, and error texts that name the syscall, errno and peer.
import net from 'node:net';
import dgram from 'node:dgram';
import type { CheckerCommon } from '../src/config/model.js';
import { native, type NativeAddon } from '../src/net/native.js';
import { sockaddrFor } from '../src/net/sockaddr.js';
import { hostPort } from './types.js';

/** A failure with a finished, human-readable reason (thrown inside probes, caught at their edge). */
export class ProbeFailure extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'ProbeFailure';
  }
}

/** "connect ECONNREFUSED 10.0.0.5:80", "read ECONNRESET 10.0.0.5:80", "bind EADDRNOTAVAIL 10.9.9.9:0" */
export function errReason(err: unknown, peer: string): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string') {
    const syscall = e.syscall ?? 'socket';
    return `${syscall} ${e.code} ${peer}`;
  }
  return `${e instanceof Error ? e.message : String(e)} (${peer})`;
}

export function reasonOf(err: unknown): string {
  if (err instanceof ProbeFailure) return err.message;
  return err instanceof Error ? err.message : String(err);
}

type NativeLike = NativeAddon;

/** <linux/in6.h> IPV6_RECVERR (not among the native layer's constants) */
const IPV6_RECVERR = 25;

function needsNative(spec: CheckerCommon): boolean {
  return (spec.fwmark !== undefined && spec.fwmark !== 0) || (spec.bindIf !== undefined && spec.bindIf !== '');
}

/**
 * Start a TCP connection for a probe. Node cannot set SO_MARK / SO_BINDTODEVICE before connect(),
 * so when either is wanted the socket is made by the native layer, configured, bound, and handed
 * to net.Socket (libuv adopts an unconnected fd and connects it).
 */
export function tcpSocket(spec: CheckerCommon, address: string, port: number): net.Socket {
  if (!needsNative(spec)) {
    // no setNoDelay: a probe writes its request once, Nagle never delays it, and the
    // setsockopt would cost a syscall per probe
    const opts: net.NetConnectOpts = { host: address, port };
    if (spec.bindTo) (opts as net.TcpNetConnectOpts).localAddress = spec.bindTo;
    if (spec.bindPort) (opts as net.TcpNetConnectOpts).localPort = spec.bindPort;
    if (spec.bindTo || spec.bindPort) (opts as net.TcpNetConnectOpts).family = address.includes(':') ? 6 : 4;
    return net.connect(opts);
  }
  const n = native();
  const v6 = address.includes(':');
  const fd = n.socket(v6 ? 10 : 2, 1 /* SOCK_STREAM */, 0);
  try {
    applySockOpts(n, fd, spec);
    if (spec.bindTo || spec.bindPort) {
      try {
        n.bind(fd, sockaddrFor(spec.bindTo ?? (v6 ? '::' : '0.0.0.0'), spec.bindPort ?? 0));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        throw new ProbeFailure(`bind ${code} ${hostPort(spec.bindTo ?? (v6 ? '::' : '0.0.0.0'), spec.bindPort ?? 0)}`);
      }
    }
  } catch (err) {
    n.close(fd);
    throw err;
  }
  const sock = new net.Socket({ fd, readable: true, writable: true });
  return sock.connect(port, address);
}

function applySockOpts(n: NativeLike, fd: number, spec: CheckerCommon): void {
  const c = n.constants;
  try {
    if (spec.fwmark) n.setsockopt(fd, c.SOL_SOCKET!, c.SO_MARK!, spec.fwmark);
    if (spec.bindIf) n.setsockopt(fd, c.SOL_SOCKET!, c.SO_BINDTODEVICE!, Buffer.from(`${spec.bindIf}\0`));
  } catch (err) {
    throw new ProbeFailure(`setsockopt ${(err as NodeJS.ErrnoException).code ?? ''} (fwmark/bind_if)`.trim());
  }
}

/** The fd of a bound dgram socket, without touching the deprecated `_handle` accessor. */
function dgramFd(sock: dgram.Socket): number | undefined {
  for (const s of Object.getOwnPropertySymbols(sock)) {
    const v = (sock as unknown as Record<symbol, { handle?: { fd?: number } }>)[s];
    if (v && typeof v === 'object' && v.handle && typeof v.handle.fd === 'number') return v.handle.fd;
  }
  return undefined;
}

/**
 * A UDP socket bound (bindto/bind_port), marked (fwmark, bind_if) and connected to the peer, so the
 * kernel reports ICMP errors (port unreachable => ECONNREFUSED on the next receive).
 */
export async function udpConnected(spec: CheckerCommon, address: string, port: number): Promise<dgram.Socket> {
  const v6 = address.includes(':');
  const sock = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4' });
  const fail = (err: unknown, peer: string): never => {
    try { sock.close(); } catch { /* already closed */ }
    throw new ProbeFailure(errReason(err, peer));
  };
  const bindAddr = spec.bindTo ?? (v6 ? '::' : '0.0.0.0');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address: bindAddr, port: spec.bindPort ?? 0, exclusive: true }, () => {
      sock.off('error', reject);
      resolve();
    });
  }).catch((err) => fail(err, hostPort(bindAddr, spec.bindPort ?? 0)));
  const fd = dgramFd(sock);
  if (fd !== undefined) {
    // IP_RECVERR: also report soft ICMP errors (host/net unreachable, e.g. when ARP fails) on the
    // connected socket, not only port unreachable -- keepalived's UDP_CHECK relies on them
    try {
      const n = native();
      if (v6) n.setsockopt(fd, n.constants.SOL_IPV6!, IPV6_RECVERR, 1);
      else n.setsockopt(fd, n.constants.SOL_IP!, n.constants.IP_RECVERR!, 1);
    } catch {
      /* without it only hard errors are seen: degraded, not wrong */
    }
  }
  if (needsNative(spec)) {
    if (fd === undefined) fail(new Error('cannot reach the UDP socket fd to set fwmark/bind_if'), hostPort(address, port));
    try {
      applySockOpts(native(), fd!, spec);
    } catch (err) {
      fail(err, hostPort(address, port));
    }
  }
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.connect(port, address, () => {
      sock.off('error', reject);
      resolve();
    });
  }).catch((err) => fail(err, hostPort(address, port)));
  return sock;
}

/**
 * keepalived's hex strings: whitespace-separated groups, each read two digits per byte, a lone
 * last digit of a group being a byte of its own ("Ab12f 3" = AB 12 0F 03). With `allowX`, an X
 * nibble matches anything (mask bits set = ignore).
 */
export function parseHex(text: string, allowX = false): { data: Buffer; mask: Buffer } {
  const data: number[] = [];
  const mask: number[] = [];
  for (const group of text.trim().split(/\s+/).filter((g) => g !== '')) {
    for (let i = 0; i < group.length; i += 2) {
      const pair = group.slice(i, i + 2);
      let v = 0;
      let m = 0;
      for (const ch of pair) {
        v <<= 4;
        m <<= 4;
        if (allowX && (ch === 'x' || ch === 'X')) m |= 0xf;
        else {
          const d = parseInt(ch, 16);
          if (Number.isNaN(d)) throw new Error(`invalid hex digit '${ch}' in "${text}"`);
          v |= d;
        }
      }
      data.push(v);
      mask.push(m);
    }
  }
  return { data: Buffer.from(data), mask: Buffer.from(mask) };
}
