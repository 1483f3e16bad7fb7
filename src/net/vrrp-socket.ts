// Raw VRRP sockets: one per (interface, family), shared by every VRRP instance on it (keepalived's
// "sockpool"); packets are demultiplexed by VRID.
//
// Wire choices (kept identical to keepalived 2.2.7, see shared/captures):
// - IPv4 sends with IP_HDRINCL: we write the IP header (TOS 0xc0, TTL 255, DF clear, ID +1 per
//   packet, chosen source). Owning the header is what makes IPsec-AH possible (its ICV covers the
//   header) and lets a VRRPv3 checksum be computed over the exact pseudo-header that goes out.
// - IPv6 cannot include the header: source and interface go in an IPV6_PKTINFO cmsg, hop limit in
//   an IPV6_HOPLIMIT cmsg, traffic class 0xc0 by IPV6_TCLASS.
// - Checksums: IPV6_CHECKSUM is deliberately NOT set. The VRRP codec computes the VRRPv3 checksum
//   over the pseudo-header itself (for both families), so a payload built with the right checksum
//   goes out byte for byte, and a received payload with a bad checksum reaches the codec, which
//   counts it, instead of being dropped silently by the kernel. The payload builder gets the exact
//   src/dst that will be used (see SendContext).
// - IP_MULTICAST_LOOP off, IP(V6)_MULTICAST_ALL off (only the groups this socket joined).
//   SO_BINDTODEVICE: the socket follows the interface index it had when opened; if the interface
//   is deleted and re-created, close and open a new socket.
import { performance } from 'node:perf_hooks';
import { RawSocket } from './socket.js';
import { C } from './native.js';
import { canonicalIp, ipv4Bytes, sockaddrIn, sockaddrIn6 } from './sockaddr.js';
import { buildIpv4Header } from './inet.js';
import { ifIndex } from './interfaces.js';
import {
  IPPROTO_AH,
  IPPROTO_VRRP,
  ipMreqn,
  ipv6Mreq,
  ipv6SendCmsgs,
  parseV4Datagram,
  parseV6Datagram,
  VRRP_GROUP4,
  VRRP_GROUP6,
  VRRP_TOS,
  VRRP_TTL,
  vridOf,
  type IpFamily,
  type ReceivedVrrp,
} from './vrrp-wire.js';

export { IPPROTO_AH, IPPROTO_VRRP, VRRP_GROUP4, VRRP_GROUP6, VRRP_TTL, vridOf, type IpFamily };

const IPV6_TCLASS = 67;
const RECV_MAX = 16384;

export interface VrrpPacket extends ReceivedVrrp {
  /** src is one of this host's addresses (our own packet looped back, or an address conflict) */
  fromSelf: boolean;
  /** clock() when the packet was read (ms; performance.now() unless a clock was given) */
  receivedAt: number;
}

export type VrrpHandler = (pkt: VrrpPacket) => void;

export interface VrrpSocketOptions {
  ifname: string;
  family: IpFamily;
  /** multicast groups to join now (default [224.0.0.18] / [ff02::12]; [] for unicast-only use) */
  groups?: readonly string[];
  /** IPv4: also receive IP protocol 51 (VRRPv2 with IPsec-AH authentication) */
  ah?: boolean;
  /** default source address (mcast_src_ip / unicast_src_ip / primary IPv4 / IPv6 link-local) */
  source?: string | null;
  /** monotonic ms for receivedAt */
  clock?: () => number;
  /** SO_RCVBUF bytes (default 1 MiB: hundreds of instances at 10 ms adverts) */
  rcvbuf?: number;
  /** receive errors and handler exceptions, reported once each (the socket keeps going) */
  onError?: (e: Error) => void;
}

/** What a payload builder gets for each destination: the exact addresses and header values used. */
export interface SendContext {
  family: IpFamily;
  src: string;
  dst: string;
  protocol: number;
  ttl: number;
  /** IPv4: the header that will precede a payload of `payloadLength` bytes (for the AH ICV) */
  ipv4HeaderFor?: (payloadLength: number) => Buffer;
}

export type Payload = Uint8Array | ((ctx: SendContext) => Uint8Array);

export interface VrrpSendOptions {
  /** unicast peers; when absent the packet goes to `group` or the socket's first joined group */
  to?: readonly string[];
  group?: string;
  /** source for this send; default: the socket's source */
  src?: string;
  /** TTL / hop limit; default 255 (unicast_ttl may lower it) */
  ttl?: number;
  /** IPv4 protocol field: 112, or 51 when the payload is AH + VRRP */
  protocol?: number;
  /**
   * IPv4: the payload is a complete datagram with its IP header (src/vrrp/ipv4.ts encodeIpv4Vrrp
   * builds those, with its own per-instance IP ID); it goes out as is, except that the kernel
   * rewrites total length and header checksum. Default false: this socket writes the header.
   */
  ipHeaderIncluded?: boolean;
}

export interface SendReport {
  sent: number;
  failed: { dst: string; error: Error }[];
}

export interface VrrpSocketStats {
  received: number;
  delivered: number;
  /** no listener for the packet's VRID */
  unmatched: number;
  fromSelf: number;
  malformed: number;
  truncated: number;
  recvErrors: number;
  handlerErrors: number;
  sent: number;
  sendErrors: number;
}

const key = (ip: string): string => canonicalIp(ip);

export class VrrpSocket {
  readonly ifname: string;
  readonly family: IpFamily;
  readonly ifindex: number;
  readonly stats: VrrpSocketStats = {
    received: 0,
    delivered: 0,
    unmatched: 0,
    fromSelf: 0,
    malformed: 0,
    truncated: 0,
    recvErrors: 0,
    handlerErrors: 0,
    sent: 0,
    sendErrors: 0,
  };

  private readonly sock: RawSocket;
  private ahSock: RawSocket | null = null;
  private readonly groups = new Map<string, number>(); // canonical group -> join count
  private readonly listeners = new Map<number | '*', Set<VrrpHandler>>();
  private localAddrs = new Set<string>();
  private src: string | null = null;
  private ipId = (Math.random() * 0xffff) >>> 0;
  private readonly clock: () => number;
  private readonly rcvbuf: number;
  private readonly onError: ((e: Error) => void) | undefined;
  private closed = false;
  /** canonical forms and sockaddrs of the few addresses we send to/from (an advert every 10 ms per instance must not re-parse them) */
  private readonly canonical = new Map<string, string>();
  private readonly sockaddrs = new Map<string, Buffer>();

  private get v4(): boolean {
    return this.family === 'inet';
  }

  private get ipv(): string {
    return this.v4 ? 'IPv4' : 'IPv6';
  }

  private get defaultGroup(): string {
    return this.v4 ? VRRP_GROUP4 : VRRP_GROUP6;
  }

  /** Open and bind to the interface. Throws (ENODEV, EPERM, ...) with a clear message. */
  constructor(opts: VrrpSocketOptions) {
    if (opts.family !== 'inet' && opts.family !== 'inet6') throw new Error(`VRRP socket family must be 'inet' or 'inet6', not ${String(opts.family)}`);
    this.ifname = opts.ifname;
    this.family = opts.family;
    this.ifindex = ifIndex(opts.ifname);
    this.clock = opts.clock ?? (() => performance.now());
    this.rcvbuf = opts.rcvbuf ?? 1 << 20;
    this.onError = opts.onError;
    this.sock = this.openRaw(IPPROTO_VRRP, true);
    try {
      if (opts.source) this.setSource(opts.source);
      for (const g of opts.groups ?? [this.defaultGroup]) this.joinGroup(g);
      if (opts.ah) this.enableAh();
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private openRaw(protocol: number, sending: boolean): RawSocket {
    const v4 = this.v4;
    let s: RawSocket;
    try {
      s = new RawSocket(v4 ? C('AF_INET') : C('AF_INET6'), C('SOCK_RAW'), protocol);
    } catch (e) {
      const err = e as Error;
      err.message = `VRRP socket on ${this.ifname}: raw IP protocol ${protocol} socket (needs CAP_NET_RAW): ${err.message}`;
      throw err;
    }
    try {
      const opt = (level: string, name: string, value: number | Uint8Array): void => {
        try {
          s.setOption(C(level), name === 'IPV6_TCLASS' ? IPV6_TCLASS : C(name), value);
        } catch (e) {
          const err = e as Error;
          err.message = `VRRP socket on ${this.ifname}: ${name}: ${err.message}`;
          throw err;
        }
      };
      opt('SOL_SOCKET', 'SO_BINDTODEVICE', Buffer.from(`${this.ifname}\0`));
      try {
        s.setOption(C('SOL_SOCKET'), C('SO_RCVBUFFORCE'), this.rcvbuf);
      } catch {
        opt('SOL_SOCKET', 'SO_RCVBUF', this.rcvbuf);
      }
      if (v4) {
        if (sending) opt('SOL_IP', 'IP_HDRINCL', 1);
        opt('SOL_IP', 'IP_MULTICAST_LOOP', 0);
        opt('SOL_IP', 'IP_MULTICAST_ALL', 0);
        opt('SOL_IP', 'IP_PKTINFO', 1);
        opt('SOL_IP', 'IP_MULTICAST_IF', ipMreqn('0.0.0.0', this.ifindex));
      } else {
        opt('SOL_IPV6', 'IPV6_MULTICAST_LOOP', 0);
        opt('SOL_IPV6', 'IPV6_MULTICAST_ALL', 0);
        opt('SOL_IPV6', 'IPV6_RECVPKTINFO', 1);
        opt('SOL_IPV6', 'IPV6_RECVHOPLIMIT', 1);
        opt('SOL_IPV6', 'IPV6_MULTICAST_IF', this.ifindex);
        opt('SOL_IPV6', 'IPV6_MULTICAST_HOPS', VRRP_TTL);
        opt('SOL_IPV6', 'IPV6_UNICAST_HOPS', VRRP_TTL);
        opt('SOL_IPV6', 'IPV6_TCLASS', VRRP_TOS);
      }
      s.startReading(
        (pkt) => this.onDatagram(pkt.data, pkt.addr, pkt.cmsg, pkt.flags, protocol),
        (err) => this.onRecvError(err),
        RECV_MAX,
      );
      return s;
    } catch (e) {
      s.close();
      throw e;
    }
  }

  /** IPv4 only: also receive protocol 51 (AH-wrapped VRRPv2). Idempotent. */
  enableAh(): void {
    if (this.ahSock || this.closed) return;
    if (!this.v4) throw new Error('VRRP AH authentication exists only for IPv4');
    this.ahSock = this.openRaw(IPPROTO_AH, false);
    for (const g of this.groups.keys()) this.membership(this.ahSock, g, true);
  }

  private membership(s: RawSocket, group: string, add: boolean): void {
    if (this.v4) s.setOption(C('SOL_IP'), C(add ? 'IP_ADD_MEMBERSHIP' : 'IP_DROP_MEMBERSHIP'), ipMreqn(group, this.ifindex));
    else s.setOption(C('SOL_IPV6'), C(add ? 'IPV6_ADD_MEMBERSHIP' : 'IPV6_DROP_MEMBERSHIP'), ipv6Mreq(group, this.ifindex));
  }

  /** Join a multicast group (reference-counted: instances sharing the socket join and leave freely). */
  joinGroup(group: string): void {
    if (this.closed) throw new Error(`VRRP socket on ${this.ifname} is closed`);
    const g = key(group);
    if (this.v4 === g.includes(':')) throw new Error(`group ${group} is not an ${this.ipv} address`);
    const n = this.groups.get(g) ?? 0;
    if (n === 0) {
      try {
        this.membership(this.sock, g, true);
        if (this.ahSock) this.membership(this.ahSock, g, true);
      } catch (e) {
        const err = e as Error;
        err.message = `join ${g} on ${this.ifname}: ${err.message}`;
        throw err;
      }
    }
    this.groups.set(g, n + 1);
  }

  leaveGroup(group: string): void {
    const g = key(group);
    const n = this.groups.get(g) ?? 0;
    if (n === 0) return;
    if (n > 1) {
      this.groups.set(g, n - 1);
      return;
    }
    this.groups.delete(g);
    for (const s of [this.sock, this.ahSock]) {
      try {
        if (s && !s.isClosed) this.membership(s, g, false);
      } catch {
        // the interface may be gone, and the membership with it
      }
    }
  }

  get joinedGroups(): string[] {
    return [...this.groups.keys()];
  }

  /** Default source address for sends (null: sends fail with "no source address" until set). */
  get source(): string | null {
    return this.src;
  }

  setSource(addr: string | null): void {
    if (addr !== null) {
      const c = key(addr);
      if (this.v4 === c.includes(':')) throw new Error(`source ${addr} is not an ${this.ipv} address`);
      this.src = c;
    } else this.src = null;
  }

  /** This host's addresses (all interfaces), to flag packets we sent ourselves. */
  setLocalAddresses(addrs: Iterable<string>): void {
    const s = new Set<string>();
    for (const a of addrs) {
      try {
        s.add(key(a));
      } catch {
        // not an address: ignore
      }
    }
    this.localAddrs = s;
  }

  /**
   * Receive packets for one VRID ('*': every packet, for taps and stats). Returns the unsubscribe.
   * Handlers run synchronously from the reader; an exception is counted and reported, never thrown.
   */
  listen(vrid: number | '*', handler: VrrpHandler): () => void {
    let set = this.listeners.get(vrid);
    if (!set) this.listeners.set(vrid, (set = new Set()));
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size === 0 && this.listeners.get(vrid) === set) this.listeners.delete(vrid);
    };
  }

  private report(e: Error): void {
    try {
      this.onError?.(e);
    } catch {
      // nowhere left to report
    }
  }

  /**
   * Read whatever is queued right now and deliver it as the reader would (synchronously, up to
   * `max` datagrams per socket). Before a master-down timer expires, the daemon polls: after an
   * event-loop stall (GC, CPU starvation) the timer phase runs before the poll phase, and an
   * advert that arrived in time, still queued here, must count. Returns the datagrams read.
   */
  poll(max = 256): number {
    let n = 0;
    for (const [s, protocol] of [[this.sock, IPPROTO_VRRP], [this.ahSock, IPPROTO_AH]] as const) {
      for (let i = 0; s && !s.isClosed && i < max; i++) {
        let pkt;
        try {
          pkt = s.recv(RECV_MAX);
        } catch (e) {
          this.onRecvError(e as NodeJS.ErrnoException);
          break;
        }
        if (!pkt) break;
        n++;
        this.onDatagram(pkt.data, pkt.addr, pkt.cmsg, pkt.flags, protocol);
      }
    }
    return n;
  }

  private onRecvError(err: NodeJS.ErrnoException): void {
    this.stats.recvErrors++;
    this.report(new Error(`VRRP socket on ${this.ifname} (${this.ipv}): receive: ${err.message}`));
  }

  private onDatagram(data: Buffer, addr: Buffer, cmsg: Buffer, flags: number, protocol: number): void {
    try {
      this.stats.received++;
      if (flags & C('MSG_TRUNC')) {
        this.stats.truncated++;
        return;
      }
      const r = this.v4 ? parseV4Datagram(data, cmsg, this.ifindex) : parseV6Datagram(data, addr, cmsg, this.ifindex, protocol);
      if (!r.ok) {
        this.stats[r.reason]++;
        return;
      }
      const fromSelf = this.localAddrs.has(r.pkt.src) || r.pkt.src === this.src;
      if (fromSelf) this.stats.fromSelf++;
      const pkt: VrrpPacket = { ...r.pkt, fromSelf, receivedAt: this.clock() };
      const vrid = vridOf(pkt.protocol, pkt.payload);
      const exact = vrid === null ? undefined : this.listeners.get(vrid);
      const all = this.listeners.get('*');
      if (!exact?.size) this.stats.unmatched++;
      for (const set of [exact, all]) {
        if (!set) continue;
        for (const h of [...set]) {
          try {
            h(pkt);
            this.stats.delivered++;
          } catch (e) {
            this.stats.handlerErrors++;
            this.report(e as Error);
          }
        }
      }
    } catch (e) {
      // defensive: nothing above should throw, and nothing may escape into the native reader
      this.stats.malformed++;
      this.report(e as Error);
    }
  }

  /**
   * Send one VRRP payload to each destination (the group, or every unicast peer). Never throws:
   * failures (ENETDOWN, no source address, ...) are returned per destination and counted.
   */
  send(payload: Payload, opts: VrrpSendOptions = {}): SendReport {
    const report: SendReport = { sent: 0, failed: [] };
    const dests = opts.to ?? [opts.group ?? this.joinedGroups[0] ?? (this.defaultGroup)];
    for (const d of dests) {
      try {
        if (this.closed) throw new Error('socket closed');
        this.sendOne(payload, d, opts);
        report.sent++;
        this.stats.sent++;
      } catch (e) {
        const err = e as Error;
        report.failed.push({ dst: d, error: err });
        this.stats.sendErrors++;
      }
    }
    return report;
  }

  private canon(ip: string): string {
    let c = this.canonical.get(ip);
    if (c === undefined) {
      c = key(ip); // throws on a bad address: not cached
      if (this.canonical.size >= 256) this.canonical.clear();
      this.canonical.set(ip, c);
    }
    return c;
  }

  /** sockaddr for a canonical destination (the native send copies it; never mutated) */
  private sockaddr(dst: string): Buffer {
    let b = this.sockaddrs.get(dst);
    if (!b) {
      b = this.v4 ? sockaddrIn(dst) : sockaddrIn6(dst, 0, this.ifindex);
      if (this.sockaddrs.size >= 256) this.sockaddrs.clear();
      this.sockaddrs.set(dst, b);
    }
    return b;
  }

  private sendOne(payload: Payload, dstText: string, opts: VrrpSendOptions): void {
    const dst = this.canon(dstText);
    const srcText = opts.src ?? this.src;
    if (!srcText) throw new Error(`VRRP send on ${this.ifname}: no source address (interface without ${this.ipv} address?)`);
    const src = this.canon(srcText);
    if (this.v4 === dst.includes(':') || this.v4 === src.includes(':'))
      throw new Error(`VRRP send on ${this.ifname}: ${src} -> ${dst} is not ${this.ipv}`);
    const ttl = opts.ttl ?? VRRP_TTL;
    const protocol = opts.protocol ?? IPPROTO_VRRP;
    if (this.v4) {
      if (this.ipId === 0) this.ipId = 1; // 0 would let the kernel pick one
      const id = this.ipId;
      this.ipId = (this.ipId + 1) & 0xffff;
      const header = (payloadLength: number): Buffer =>
        buildIpv4Header({ src: ipv4Bytes(src), dst: ipv4Bytes(dst), protocol, payloadLength, ttl, tos: VRRP_TOS, id });
      const body = typeof payload === 'function' ? payload({ family: 'inet', src, dst, protocol, ttl, ipv4HeaderFor: header }) : payload;
      if (opts.ipHeaderIncluded) {
        if (body.length < 20 || body[0]! >> 4 !== 4) throw new Error(`VRRP send on ${this.ifname}: not an IPv4 datagram`);
        this.sock.send(body, this.sockaddr(dst));
        return;
      }
      this.sock.send(Buffer.concat([header(body.length), body]), this.sockaddr(dst));
    } else {
      if (protocol !== IPPROTO_VRRP) throw new Error('IPv6 VRRP sockets send protocol 112 only');
      const body = typeof payload === 'function' ? payload({ family: 'inet6', src, dst, protocol, ttl }) : payload;
      this.sock.send(body, this.sockaddr(dst), ipv6SendCmsgs(src, this.ifindex, ttl));
    }
  }

  /** Do not keep the process alive for this socket alone (tests, one-shot tools). */
  unref(): void {
    this.sock.unref();
    this.ahSock?.unref();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
    this.ahSock?.close();
    this.ahSock = null;
    this.listeners.clear();
    this.groups.clear();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

/** A shared socket handed to one VRRP instance; release() when the instance stops. */
export interface VrrpSocketLease {
  readonly socket: VrrpSocket;
  release(): void;
}

/**
 * keepalived's sockpool: one socket per (interface, family), reference-counted. Each acquire
 * joins its groups (counted per lease) and may turn on AH; release leaves them and closes the
 * socket with the last lease.
 */
export class VrrpSocketPool {
  private readonly sockets = new Map<string, { socket: VrrpSocket; leases: number }>();

  constructor(private readonly defaults: Pick<VrrpSocketOptions, 'clock' | 'rcvbuf' | 'onError'> = {}) {}

  acquire(opts: Omit<VrrpSocketOptions, 'clock' | 'rcvbuf' | 'onError'>): VrrpSocketLease {
    const k = `${opts.ifname}/${opts.family}`;
    let entry = this.sockets.get(k);
    const groups = opts.groups ?? [opts.family === 'inet' ? VRRP_GROUP4 : VRRP_GROUP6];
    if (!entry) {
      const socket = new VrrpSocket({ ...this.defaults, ...opts, groups });
      entry = { socket, leases: 0 };
      this.sockets.set(k, entry);
    } else {
      const joined: string[] = [];
      try {
        for (const g of groups) {
          entry.socket.joinGroup(g);
          joined.push(g);
        }
        if (opts.ah) entry.socket.enableAh();
      } catch (e) {
        for (const g of joined) entry.socket.leaveGroup(g);
        throw e;
      }
      if (opts.source && !entry.socket.source) entry.socket.setSource(opts.source);
    }
    entry.leases++;
    const e = entry;
    let released = false;
    return {
      socket: e.socket,
      release: () => {
        if (released) return;
        released = true;
        for (const g of groups) e.socket.leaveGroup(g);
        if (--e.leases === 0) {
          e.socket.close();
          if (this.sockets.get(k) === e) this.sockets.delete(k);
        }
      },
    };
  }

  /** Every open socket (for stats and for re-sourcing after address events). */
  get all(): VrrpSocket[] {
    return [...this.sockets.values()].map((e) => e.socket);
  }

  closeAll(): void {
    for (const e of this.sockets.values()) e.socket.close();
    this.sockets.clear();
  }
}
