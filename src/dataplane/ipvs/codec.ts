// IPVS generic-netlink codec (pure): wire structs, request encoders, reply decoders, and the
// mapping between wire structs and the engine contract (ServiceSpec / DestSpec).
// Layout facts (include/uapi/linux/ip_vs.h, checked against ipvsadm captures on 6.1):
// - ports are be16, addresses 16 bytes (IPv4 in the first 4), SCHED_NAME/PE_NAME NUL strings;
// - NETMASK is a u32 holding the IPv4 mask in network byte order, or the IPv6 prefix length;
// - FLAGS is {u32 flags; u32 mask}; the kernel reports HASHED (0x2), which is not ours to set.
// Decoders never trust the kernel: anything short or malformed is an IpvsDecodeError.
import { AttrWriter, NetlinkDecodeError, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, genlHeader } from '../../net/netlink/codec.js';
import { ipBytes, ipv4Bytes, ipv4String, ipv6String } from '../../net/sockaddr.js';
import type { Family, LbKind, Protocol, Scheduler, TunnelSpec } from '../../config/model.js';
import { destKey, serviceKey, type DestSpec, type DestStats, type ServiceFlags, type ServiceSpec } from '../types.js';

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

export const IPVS_CMD = {
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  NEW_DAEMON: 9,
  DEL_DAEMON: 10,
  GET_DAEMON: 11,
  SET_CONFIG: 12,
  GET_CONFIG: 13,
  SET_INFO: 14,
  GET_INFO: 15,
  ZERO: 16,
  FLUSH: 17,
} as const;

const CMD_ATTR = { SERVICE: 1, DEST: 2, DAEMON: 3, TIMEOUT_TCP: 4, TIMEOUT_TCP_FIN: 5, TIMEOUT_UDP: 6 } as const;
const SVC = { AF: 1, PROTOCOL: 2, ADDR: 3, PORT: 4, FWMARK: 5, SCHED_NAME: 6, FLAGS: 7, TIMEOUT: 8, NETMASK: 9, STATS: 10, PE_NAME: 11, STATS64: 12 } as const;
const DEST = {
  ADDR: 1, PORT: 2, FWD_METHOD: 3, WEIGHT: 4, U_THRESH: 5, L_THRESH: 6, ACTIVE_CONNS: 7, INACT_CONNS: 8,
  PERSIST_CONNS: 9, STATS: 10, ADDR_FAMILY: 11, STATS64: 12, TUN_TYPE: 13, TUN_PORT: 14, TUN_FLAGS: 15,
} as const;
const DAEMON = { STATE: 1, MCAST_IFN: 2, SYNC_ID: 3, SYNC_MAXLEN: 4, MCAST_GROUP: 5, MCAST_GROUP6: 6, MCAST_PORT: 7, MCAST_TTL: 8 } as const;
const STATS = { CONNS: 1, INPKTS: 2, OUTPKTS: 3, INBYTES: 4, OUTBYTES: 5, CPS: 6, INPPS: 7, OUTPPS: 8, INBPS: 9, OUTBPS: 10 } as const;
const INFO = { VERSION: 1, CONN_TAB_SIZE: 2 } as const;

export const SVC_F = { PERSISTENT: 0x1, HASHED: 0x2, ONEPACKET: 0x4, SCHED1: 0x8, SCHED2: 0x10, SCHED3: 0x20 } as const;
/** IP_VS_CONN_F_* forwarding methods (conn_flags & 7) */
export const FWD = { MASQ: 0, LOCALNODE: 1, TUNNEL: 2, DROUTE: 3, BYPASS: 4 } as const;
export const TUN_TYPE = { IPIP: 0, GUE: 1, GRE: 2 } as const;
export const TUN_F = { CSUM: 0x1, REMCSUM: 0x2 } as const;
export const DAEMON_STATE = { MASTER: 1, BACKUP: 2 } as const;

export const AF_INET = 2;
export const AF_INET6 = 10;
const PROTO: Record<Protocol, number> = { TCP: 6, UDP: 17, SCTP: 132 };

/** A reply the codec cannot make sense of (truncated, hostile, or from an unknown kernel). */
export class IpvsDecodeError extends NetlinkDecodeError {
  constructor(what: string, message: string) {
    super(`IPVS ${what}: ${message}`);
    this.name = 'IpvsDecodeError';
  }
}

/** Input the codec refuses to put on the wire (bad address text, impossible netmask...). */
export class IpvsEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IpvsEncodeError';
  }
}

// ---- wire structs ---------------------------------------------------------------------

/** struct ip_vs_service_user_kern, as it travels. */
export interface WireService {
  af: number;
  /** address services; 0 for fwmark services */
  protocol: number;
  /** 16 bytes (IPv4 in the first 4) */
  addr: Buffer;
  port: number;
  fwmark: number;
  schedName: string;
  peName?: string;
  flags: number;
  flagsMask: number;
  /** persistence timeout, seconds */
  timeout: number;
  /** host-order u32 as the kernel sees it: IPv6 prefix length, or the IPv4 mask's network-order bytes read little-endian */
  netmask: number;
}

export interface WireDest {
  addrFamily: number;
  addr: Buffer;
  port: number;
  fwdMethod: number;
  weight: number;
  uThresh: number;
  lThresh: number;
  tunType: number;
  tunPort: number;
  tunFlags: number;
}

/** What GET_DEST dumps add to a destination. */
export interface WireDestCounters {
  activeConns: number;
  inactConns: number;
  persistConns: number;
}

export interface IpvsStats {
  conns: bigint;
  inPkts: bigint;
  outPkts: bigint;
  inBytes: bigint;
  outBytes: bigint;
  cps: bigint;
  inPps: bigint;
  outPps: bigint;
  inBps: bigint;
  outBps: bigint;
}

export type IpvsDestStats = DestStats & Pick<IpvsStats, 'cps' | 'inPps' | 'outPps' | 'inBps' | 'outBps'>;

export interface SyncDaemonSpec {
  state: 'master' | 'backup';
  /** multicast interface */
  interface: string;
  syncId: number;
  /** optional knobs: absent = kernel default (maxlen from MTU, 224.0.0.81 / ff02::81, port 8848, ttl 1) */
  maxlen?: number;
  group?: string;
  port?: number;
  ttl?: number;
}

export interface IpvsTimeoutsS {
  tcp: number;
  tcpFin: number;
  udp: number;
}

export interface IpvsInfo {
  /** "1.2.1" */
  version: string;
  versionCode: number;
  connTableSize: number;
}

/** One request: full nlmsg flags and the generic-netlink payload (genl header + attributes). */
export interface IpvsRequest {
  cmd: number;
  flags: number;
  payload: Buffer;
}

const DO = NLM_F_REQUEST | NLM_F_ACK;
const DUMP = NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP;

function request(cmd: number, flags: number, build?: (w: AttrWriter) => void): IpvsRequest {
  const w = new AttrWriter();
  build?.(w);
  return { cmd, flags, payload: Buffer.concat([genlHeader(cmd, IPVS_GENL_VERSION), w.toBuffer()]) };
}

// ---- encoders ---------------------------------------------------------------------------
// Service and destination nests are written straight into one buffer per message: they are
// the hot path (10,000 destinations in one apply) and AttrWriter's many small buffers showed
// up first in profiles. The golden tests pin these bytes to ipvsadm's.

const NLA_F_NESTED = 0x8000;
const align4 = (n: number): number => (n + 3) & ~3;
const strAttrLen = (v: string): number => align4(4 + Buffer.byteLength(v) + 1);

function hdr(b: Buffer, off: number, len: number, type: number): number {
  b.writeUInt16LE(len, off);
  b.writeUInt16LE(type, off + 2);
  return off + 4;
}
function u16At(b: Buffer, off: number, type: number, v: number): number {
  hdr(b, off, 6, type);
  b.writeUInt16LE(v, off + 4);
  return off + 8;
}
function be16At(b: Buffer, off: number, type: number, v: number): number {
  hdr(b, off, 6, type);
  b.writeUInt16BE(v, off + 4);
  return off + 8;
}
function u32At(b: Buffer, off: number, type: number, v: number): number {
  hdr(b, off, 8, type);
  b.writeUInt32LE(v >>> 0, off + 4);
  return off + 8;
}
function strAt(b: Buffer, off: number, type: number, v: string): number {
  const n = Buffer.byteLength(v);
  hdr(b, off, 4 + n + 1, type);
  b.write(v, off + 4, 'utf8');
  return off + align4(4 + n + 1);
}

/** `full`: everything NEW/SET need; `id`: just what identifies the service (DEST commands, GET). */
function serviceNestLen(s: WireService, mode: 'full' | 'id'): number {
  let n = 4 + 8 + (s.fwmark ? 8 : 8 + 20 + 8);
  if (mode === 'full') n += strAttrLen(s.schedName) + (s.peName ? strAttrLen(s.peName) : 0) + 12 + 8 + 8;
  return n;
}

function writeServiceNest(b: Buffer, off: number, s: WireService, mode: 'full' | 'id'): number {
  const start = off;
  off = hdr(b, off, serviceNestLen(s, mode), CMD_ATTR.SERVICE | NLA_F_NESTED);
  off = u16At(b, off, SVC.AF, s.af);
  if (s.fwmark) off = u32At(b, off, SVC.FWMARK, s.fwmark);
  else {
    off = u16At(b, off, SVC.PROTOCOL, s.protocol);
    hdr(b, off, 20, SVC.ADDR);
    s.addr.copy(b, off + 4, 0, 16);
    off = be16At(b, off + 20, SVC.PORT, s.port);
  }
  if (mode === 'full') {
    off = strAt(b, off, SVC.SCHED_NAME, s.schedName);
    if (s.peName) off = strAt(b, off, SVC.PE_NAME, s.peName);
    hdr(b, off, 12, SVC.FLAGS);
    b.writeUInt32LE(s.flags >>> 0, off + 4);
    b.writeUInt32LE(s.flagsMask >>> 0, off + 8);
    off = u32At(b, off + 12, SVC.TIMEOUT, s.timeout);
    off = u32At(b, off, SVC.NETMASK, s.netmask);
  }
  if (off - start !== serviceNestLen(s, mode)) throw new Error('IPVS service nest length mismatch');
  return off;
}

const DEST_NEST_LEN = 4 + 8 + 20 + 8 + 8 + 8 + 8 + 8 + 8 + 8 + 8;

function writeDestNest(b: Buffer, off: number, d: WireDest): number {
  off = hdr(b, off, DEST_NEST_LEN, CMD_ATTR.DEST | NLA_F_NESTED);
  off = u16At(b, off, DEST.ADDR_FAMILY, d.addrFamily);
  hdr(b, off, 20, DEST.ADDR);
  d.addr.copy(b, off + 4, 0, 16);
  off = be16At(b, off + 20, DEST.PORT, d.port);
  off = u32At(b, off, DEST.FWD_METHOD, d.fwdMethod);
  off = u32At(b, off, DEST.WEIGHT, d.weight);
  hdr(b, off, 5, DEST.TUN_TYPE);
  b.writeUInt8(d.tunType, off + 4);
  off = be16At(b, off + 8, DEST.TUN_PORT, d.tunPort);
  off = u16At(b, off, DEST.TUN_FLAGS, d.tunFlags);
  off = u32At(b, off, DEST.U_THRESH, d.uThresh);
  return u32At(b, off, DEST.L_THRESH, d.lThresh);
}

/** genl header + service nest (+ dest nest), in one allocation. */
function svcRequest(cmd: number, flags: number, s: WireService, mode: 'full' | 'id', d?: WireDest): IpvsRequest {
  const b = Buffer.alloc(4 + serviceNestLen(s, mode) + (d ? DEST_NEST_LEN : 0));
  b[0] = cmd;
  b[1] = IPVS_GENL_VERSION;
  const off = writeServiceNest(b, 4, s, mode);
  if (d) writeDestNest(b, off, d);
  return { cmd, flags, payload: b };
}

export const enc = {
  newService: (s: WireService) => svcRequest(IPVS_CMD.NEW_SERVICE, DO, s, 'full'),
  setService: (s: WireService) => svcRequest(IPVS_CMD.SET_SERVICE, DO, s, 'full'),
  delService: (s: WireService, mode: 'full' | 'id' = 'id') => svcRequest(IPVS_CMD.DEL_SERVICE, DO, s, mode),
  /** one service (doit); ipvsadm sends the full nest, the kernel reads only the identity */
  getService: (s: WireService, mode: 'full' | 'id' = 'id') => svcRequest(IPVS_CMD.GET_SERVICE, DO, s, mode),
  dumpServices: () => request(IPVS_CMD.GET_SERVICE, DUMP),
  newDest: (s: WireService, d: WireDest, mode: 'full' | 'id' = 'id') => svcRequest(IPVS_CMD.NEW_DEST, DO, s, mode, d),
  setDest: (s: WireService, d: WireDest, mode: 'full' | 'id' = 'id') => svcRequest(IPVS_CMD.SET_DEST, DO, s, mode, d),
  delDest: (s: WireService, d: WireDest, mode: 'full' | 'id' = 'id') => svcRequest(IPVS_CMD.DEL_DEST, DO, s, mode, d),
  dumpDests: (s: WireService) => svcRequest(IPVS_CMD.GET_DEST, DUMP, s, 'id'),
  newDaemon: (d: SyncDaemonSpec) => request(IPVS_CMD.NEW_DAEMON, DO, (w) => putDaemon(w, d)),
  /** the kernel needs only STATE; ipvsadm also sends an empty interface and sync id 0 */
  delDaemon: (state: SyncDaemonSpec['state']) =>
    request(IPVS_CMD.DEL_DAEMON, DO, (w) =>
      w.nested(CMD_ATTR.DAEMON, (n) => n.u32(DAEMON.STATE, daemonState(state)).str(DAEMON.MCAST_IFN, '').u32(DAEMON.SYNC_ID, 0)),
    ),
  dumpDaemons: () => request(IPVS_CMD.GET_DAEMON, DUMP),
  /** 0 = leave that timeout unchanged (kernel semantics) */
  setConfig: (t: IpvsTimeoutsS) =>
    request(IPVS_CMD.SET_CONFIG, DO, (w) =>
      w.u32(CMD_ATTR.TIMEOUT_TCP, t.tcp).u32(CMD_ATTR.TIMEOUT_TCP_FIN, t.tcpFin).u32(CMD_ATTR.TIMEOUT_UDP, t.udp),
    ),
  getConfig: () => request(IPVS_CMD.GET_CONFIG, DO),
  getInfo: () => request(IPVS_CMD.GET_INFO, DO),
  flush: () => request(IPVS_CMD.FLUSH, DO),
  /** zero counters: of one service, or of everything */
  zero: (s?: WireService) => (s ? svcRequest(IPVS_CMD.ZERO, DO, s, 'id') : request(IPVS_CMD.ZERO, DO)),
};

function daemonState(s: SyncDaemonSpec['state']): number {
  return s === 'master' ? DAEMON_STATE.MASTER : DAEMON_STATE.BACKUP;
}

function putDaemon(w: AttrWriter, d: SyncDaemonSpec): void {
  if (!d.interface || Buffer.byteLength(d.interface) > 15) throw new IpvsEncodeError(`sync daemon interface "${d.interface}" must be 1..15 bytes`);
  w.nested(CMD_ATTR.DAEMON, (n) => {
    n.u32(DAEMON.STATE, daemonState(d.state)).str(DAEMON.MCAST_IFN, d.interface).u32(DAEMON.SYNC_ID, d.syncId);
    if (d.maxlen) n.u16(DAEMON.SYNC_MAXLEN, d.maxlen);
    if (d.group) {
      if (d.group.includes(':')) n.bytes(DAEMON.MCAST_GROUP6, addrBytes(d.group, 'inet6'));
      else n.bytes(DAEMON.MCAST_GROUP, addrBytes(d.group, 'inet').subarray(0, 4));
    }
    if (d.port) n.u16(DAEMON.MCAST_PORT, d.port);
    if (d.ttl) n.u8(DAEMON.MCAST_TTL, d.ttl);
  });
}

// ---- spec <-> wire ------------------------------------------------------------------------

export function afOf(f: Family): number {
  return f === 'inet6' ? AF_INET6 : AF_INET;
}

function familyOf(af: number, what: string): Family {
  if (af === AF_INET) return 'inet';
  if (af === AF_INET6) return 'inet6';
  throw new IpvsDecodeError(what, `unknown address family ${af}`);
}

// Parsed addresses, reused: a big apply names the same few thousand addresses over and over.
// The buffers are never handed out (they are copied into messages), so sharing is safe.
const addrCache = new Map<string, Buffer>();
const ADDR_CACHE_MAX = 1 << 16;

/** 16-byte nf_inet_addr for an address of the given family. */
function addrBytes(ip: string | undefined, family: Family): Buffer {
  const key = `${family}/${ip}`;
  const hit = addrCache.get(key);
  if (hit) return hit;
  const b = parseAddr(ip, family);
  if (addrCache.size >= ADDR_CACHE_MAX) addrCache.clear();
  addrCache.set(key, b);
  return b;
}

function parseAddr(ip: string | undefined, family: Family): Buffer {
  let raw: Buffer;
  try {
    raw = ipBytes(ip ?? '');
  } catch {
    throw new IpvsEncodeError(`"${ip}" is not an IP address`);
  }
  if ((raw.length === 4) !== (family === 'inet')) throw new IpvsEncodeError(`address ${ip} is not ${family === 'inet' ? 'IPv4' : 'IPv6'}`);
  const b = Buffer.alloc(16);
  raw.copy(b);
  return b;
}

function checkPort(p: number | undefined, what: string): number {
  if (p === undefined || !Number.isInteger(p) || p < 0 || p > 65535) throw new IpvsEncodeError(`${what} port ${p} is not 0..65535`);
  return p;
}

function checkU32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new IpvsEncodeError(`${what} ${v} is not 0..4294967295`);
  return v;
}

/** The netmask text used when a service does not say (no persistence grouping). */
export function defaultNetmask(family: Family): string {
  return family === 'inet6' ? '128' : '255.255.255.255';
}

/** Canonical netmask text: dotted for IPv4 (a prefix length is accepted too), prefix length for IPv6. */
export function canonicalNetmask(family: Family, text: string | undefined): string {
  return netmaskFromWire(family, netmaskToWire(family, text));
}

const netmaskCache = new Map<string, number>();

export function netmaskToWire(family: Family, text: string | undefined): number {
  const key = `${family}/${text}`;
  let n = netmaskCache.get(key);
  if (n === undefined) {
    n = parseNetmask(family, text);
    if (netmaskCache.size >= 1024) netmaskCache.clear();
    netmaskCache.set(key, n);
  }
  return n;
}

function parseNetmask(family: Family, text: string | undefined): number {
  const t = (text ?? '').trim() || defaultNetmask(family);
  if (family === 'inet6') {
    const n = /^\/?\d{1,3}$/.test(t) ? Number(t.replace('/', '')) : NaN;
    if (!(n >= 1 && n <= 128)) throw new IpvsEncodeError(`IPv6 persistence netmask "${t}" must be a prefix length 1..128`);
    return n;
  }
  let bytes: Buffer;
  if (/^\/?\d{1,2}$/.test(t)) {
    const n = Number(t.replace('/', ''));
    if (n > 32) throw new IpvsEncodeError(`IPv4 persistence netmask "${t}" is longer than 32 bits`);
    bytes = Buffer.alloc(4);
    bytes.writeUInt32BE(n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0, 0);
  } else {
    try {
      bytes = ipv4Bytes(t);
    } catch {
      throw new IpvsEncodeError(`IPv4 persistence netmask "${t}" is not a dotted mask`);
    }
    const v = bytes.readUInt32BE(0);
    if (((~v >>> 0) & ((~v >>> 0) + 1)) !== 0) throw new IpvsEncodeError(`IPv4 persistence netmask "${t}" is not contiguous`);
  }
  return bytes.readUInt32LE(0);
}

export function netmaskFromWire(family: Family, n: number): string {
  if (family === 'inet6') return String(n);
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return ipv4String(b);
}

export function flagsToWire(f: ServiceFlags): number {
  return (
    (f.persistent ? SVC_F.PERSISTENT : 0) |
    (f.onePacket ? SVC_F.ONEPACKET : 0) |
    (f.sched1 ? SVC_F.SCHED1 : 0) |
    (f.sched2 ? SVC_F.SCHED2 : 0) |
    (f.sched3 ? SVC_F.SCHED3 : 0)
  );
}

export function flagsFromWire(n: number): ServiceFlags {
  return {
    persistent: (n & SVC_F.PERSISTENT) !== 0,
    onePacket: (n & SVC_F.ONEPACKET) !== 0,
    sched1: (n & SVC_F.SCHED1) !== 0,
    sched2: (n & SVC_F.SCHED2) !== 0,
    sched3: (n & SVC_F.SCHED3) !== 0,
  };
}

export function serviceToWire(s: ServiceSpec): WireService {
  const fwm = s.fwmark !== undefined && s.fwmark > 0;
  if (!s.scheduler || Buffer.byteLength(s.scheduler) > 15) throw new IpvsEncodeError(`scheduler name "${s.scheduler}" must be 1..15 bytes`);
  if (s.peName !== undefined && Buffer.byteLength(s.peName) > 15) throw new IpvsEncodeError(`persistence engine name "${s.peName}" is longer than 15 bytes`);
  return {
    af: afOf(s.family),
    protocol: fwm ? 0 : protoNumber(s.protocol),
    addr: fwm ? Buffer.alloc(16) : addrBytes(s.address, s.family),
    port: fwm ? 0 : checkPort(s.port, 'service'),
    fwmark: fwm ? checkU32(s.fwmark!, 'fwmark') : 0,
    schedName: s.scheduler,
    ...(s.peName ? { peName: s.peName } : {}),
    flags: flagsToWire(s.flags),
    flagsMask: 0xffffffff,
    timeout: checkU32(s.timeoutS, 'persistence timeout'),
    netmask: netmaskToWire(s.family, s.netmask),
  };
}

function protoNumber(p: Protocol | undefined): number {
  const n = p ? PROTO[p] : undefined;
  if (n === undefined) throw new IpvsEncodeError(`protocol "${p}" is not TCP, UDP or SCTP`);
  return n;
}

function protoName(n: number): Protocol {
  const p = (Object.keys(PROTO) as Protocol[]).find((k) => PROTO[k] === n);
  if (!p) throw new IpvsDecodeError('service', `unsupported protocol ${n}`);
  return p;
}

const FWD_OF: Record<LbKind, number> = { NAT: FWD.MASQ, DR: FWD.DROUTE, TUN: FWD.TUNNEL };
const TUN_OF: Record<TunnelSpec['type'], number> = { ipip: TUN_TYPE.IPIP, gue: TUN_TYPE.GUE, gre: TUN_TYPE.GRE };
const CSUM_OF: Record<NonNullable<TunnelSpec['csum']>, number> = { nocsum: 0, csum: TUN_F.CSUM, remcsum: TUN_F.REMCSUM };

/**
 * The one form a tunnel takes in observed state, so desired and observed compare equal:
 * undefined unless forwarding is TUN; `port` only for GUE; `csum` only when not 'nocsum'.
 */
export function canonicalTunnel(fwd: LbKind, t: TunnelSpec | undefined): TunnelSpec | undefined {
  if (fwd !== 'TUN') return undefined;
  const type = t?.type ?? 'ipip';
  const out: TunnelSpec = { type };
  if (type === 'gue') out.port = t?.port ?? 0;
  if (t?.csum && t.csum !== 'nocsum' && type !== 'ipip') out.csum = t.csum;
  return out;
}

export function destToWire(d: DestSpec): WireDest {
  const fwd = FWD_OF[d.fwd];
  if (fwd === undefined) throw new IpvsEncodeError(`forwarding method "${d.fwd}" is not NAT, DR or TUN`);
  const t = canonicalTunnel(d.fwd, d.tunnel);
  return {
    addrFamily: afOf(d.family),
    addr: addrBytes(d.address, d.family),
    port: checkPort(d.port, 'destination'),
    fwdMethod: fwd,
    weight: checkU32(d.weight, 'weight'),
    uThresh: checkU32(d.uThreshold, 'upper threshold'),
    lThresh: checkU32(d.lThreshold, 'lower threshold'),
    tunType: t ? TUN_OF[t.type] : 0,
    tunPort: t?.port !== undefined ? checkPort(t.port, 'tunnel') : 0,
    tunFlags: t?.csum ? CSUM_OF[t.csum] : 0,
  };
}

// ---- decoders ------------------------------------------------------------------------------
// Attributes are indexed by offset rather than copied out: a 1,000-service table is ~11,000
// nests of ~15 attributes each, and per-attribute buffers dominated observe() in profiles.

const NLA_TYPE_MASK = 0x3fff;

/** The attributes of one nest, by type (the last one wins, as in the kernel's nla_parse). */
class Nest {
  private readonly at: Int32Array;
  constructor(
    readonly buf: Buffer,
    start: number,
    end: number,
    readonly what: string,
    maxType: number,
  ) {
    this.at = new Int32Array((maxType + 1) * 2).fill(-1);
    let off = start;
    while (off + 4 <= end) {
      const len = buf.readUInt16LE(off);
      const type = buf.readUInt16LE(off + 2) & NLA_TYPE_MASK;
      if (len < 4 || off + len > end) throw new IpvsDecodeError(what, `bad attribute length ${len} at offset ${off - start}`);
      if (type <= maxType) {
        this.at[type * 2] = off + 4;
        this.at[type * 2 + 1] = len - 4;
      }
      off += (len + 3) & ~3;
    }
  }

  has(t: number): boolean {
    return this.at[t * 2]! >= 0;
  }

  /** offset of attribute t's data, which must be at least n bytes */
  need(t: number, n: number, name: string): number {
    const off = this.at[t * 2]!;
    if (off < 0) throw new IpvsDecodeError(this.what, `missing ${name}`);
    const len = this.at[t * 2 + 1]!;
    if (len < n) throw new IpvsDecodeError(this.what, `${name} is ${len} bytes, need ${n}`);
    return off;
  }

  len(t: number): number {
    return this.at[t * 2 + 1]!;
  }

  u8 = (t: number, name: string): number => this.buf.readUInt8(this.need(t, 1, name));
  u16 = (t: number, name: string): number => this.buf.readUInt16LE(this.need(t, 2, name));
  be16 = (t: number, name: string): number => this.buf.readUInt16BE(this.need(t, 2, name));
  u32 = (t: number, name: string): number => this.buf.readUInt32LE(this.need(t, 4, name));
  u64 = (t: number, name: string): bigint => this.buf.readBigUInt64LE(this.need(t, 8, name));
  opt16 = (t: number, name: string): number => (this.has(t) ? this.u16(t, name) : 0);
  opt32 = (t: number, name: string): number => (this.has(t) ? this.u32(t, name) : 0);

  str(t: number, name: string): string {
    const off = this.need(t, 0, name);
    const end = off + this.len(t);
    const nul = this.buf.indexOf(0, off);
    return this.buf.toString('utf8', off, nul < 0 || nul > end ? end : nul);
  }

  /** the nested attribute t */
  nest(t: number, name: string, maxType: number, what = this.what): Nest {
    const off = this.need(t, 0, name);
    return new Nest(this.buf, off, off + this.len(t), what, maxType);
  }

  bytes(t: number, n: number, name: string): Buffer {
    const off = this.need(t, n, name);
    return this.buf.subarray(off, off + this.len(t));
  }
}

function genlNest(payload: Buffer, what: string, cmd: number, maxType: number): Nest {
  if (payload.length < 4) throw new IpvsDecodeError(what, 'short generic netlink header');
  if (payload[0] !== cmd) throw new IpvsDecodeError(what, `unexpected command ${payload[0]} (want ${cmd})`);
  return new Nest(payload, 4, payload.length, what, maxType);
}

function serviceWire(m: Nest): WireService {
  const af = m.u16(SVC.AF, 'AF');
  const fwmark = m.has(SVC.FWMARK) ? m.u32(SVC.FWMARK, 'FWMARK') : 0;
  const f = m.need(SVC.FLAGS, 8, 'FLAGS');
  const w: WireService = {
    af,
    protocol: fwmark ? 0 : m.u16(SVC.PROTOCOL, 'PROTOCOL'),
    addr: fwmark ? Buffer.alloc(16) : Buffer.from(m.bytes(SVC.ADDR, af === AF_INET6 ? 16 : 4, 'ADDR')),
    port: fwmark ? 0 : m.be16(SVC.PORT, 'PORT'),
    fwmark,
    schedName: m.str(SVC.SCHED_NAME, 'SCHED_NAME'),
    flags: m.buf.readUInt32LE(f),
    flagsMask: m.buf.readUInt32LE(f + 4),
    timeout: m.u32(SVC.TIMEOUT, 'TIMEOUT'),
    netmask: m.u32(SVC.NETMASK, 'NETMASK'),
  };
  if (m.has(SVC.PE_NAME)) {
    const pe = m.str(SVC.PE_NAME, 'PE_NAME');
    if (pe) w.peName = pe;
  }
  return w;
}

function destWire(m: Nest): WireDest & WireDestCounters {
  return {
    // ADDR_FAMILY appeared in 4.x for mixed-family tunnels; absent means "same as the service"
    addrFamily: m.opt16(DEST.ADDR_FAMILY, 'ADDR_FAMILY'),
    addr: m.bytes(DEST.ADDR, 4, 'ADDR'),
    port: m.be16(DEST.PORT, 'PORT'),
    fwdMethod: m.u32(DEST.FWD_METHOD, 'FWD_METHOD') & 0x7,
    weight: m.u32(DEST.WEIGHT, 'WEIGHT'),
    uThresh: m.u32(DEST.U_THRESH, 'U_THRESH'),
    lThresh: m.u32(DEST.L_THRESH, 'L_THRESH'),
    tunType: m.has(DEST.TUN_TYPE) ? m.u8(DEST.TUN_TYPE, 'TUN_TYPE') : 0,
    tunPort: m.has(DEST.TUN_PORT) ? m.be16(DEST.TUN_PORT, 'TUN_PORT') : 0,
    tunFlags: m.opt16(DEST.TUN_FLAGS, 'TUN_FLAGS'),
    activeConns: m.opt32(DEST.ACTIVE_CONNS, 'ACTIVE_CONNS'),
    inactConns: m.opt32(DEST.INACT_CONNS, 'INACT_CONNS'),
    persistConns: m.opt32(DEST.PERSIST_CONNS, 'PERSIST_CONNS'),
  };
}

/** Counters of a service or destination nest: STATS64 when the kernel sends it, else STATS. */
function statsOf(m: Nest, s64: number, s32: number): IpvsStats {
  const W = `${m.what} stats`;
  if (m.has(s64)) {
    const n = m.nest(s64, 'STATS64', STATS.OUTBPS, W);
    const g = (t: number, name: string): bigint => (n.has(t) ? n.u64(t, name) : 0n);
    return {
      conns: g(STATS.CONNS, 'CONNS'), inPkts: g(STATS.INPKTS, 'INPKTS'), outPkts: g(STATS.OUTPKTS, 'OUTPKTS'),
      inBytes: g(STATS.INBYTES, 'INBYTES'), outBytes: g(STATS.OUTBYTES, 'OUTBYTES'), cps: g(STATS.CPS, 'CPS'),
      inPps: g(STATS.INPPS, 'INPPS'), outPps: g(STATS.OUTPPS, 'OUTPPS'), inBps: g(STATS.INBPS, 'INBPS'), outBps: g(STATS.OUTBPS, 'OUTBPS'),
    };
  }
  if (m.has(s32)) {
    const n = m.nest(s32, 'STATS', STATS.OUTBPS, W);
    const g = (t: number, name: string): bigint => (n.has(t) ? BigInt(n.u32(t, name)) : 0n);
    const g64 = (t: number, name: string): bigint => (n.has(t) ? n.u64(t, name) : 0n);
    return {
      conns: g(STATS.CONNS, 'CONNS'), inPkts: g(STATS.INPKTS, 'INPKTS'), outPkts: g(STATS.OUTPKTS, 'OUTPKTS'),
      inBytes: g64(STATS.INBYTES, 'INBYTES'), outBytes: g64(STATS.OUTBYTES, 'OUTBYTES'), cps: g(STATS.CPS, 'CPS'),
      inPps: g(STATS.INPPS, 'INPPS'), outPps: g(STATS.OUTPPS, 'OUTPPS'), inBps: g(STATS.INBPS, 'INBPS'), outBps: g(STATS.OUTBPS, 'OUTBPS'),
    };
  }
  return zeroStats();
}

export function zeroStats(): IpvsStats {
  return { conns: 0n, inPkts: 0n, outPkts: 0n, inBytes: 0n, outBytes: 0n, cps: 0n, inPps: 0n, outPps: 0n, inBps: 0n, outBps: 0n };
}

function addrText(b: Buffer, family: Family, what: string): string {
  if (b.length < (family === 'inet' ? 4 : 16)) throw new IpvsDecodeError(what, `address is ${b.length} bytes`);
  return family === 'inet' ? ipv4String(b) : ipv6String(b);
}

export function wireToService(w: WireService): ServiceSpec {
  const family = familyOf(w.af, 'service');
  const base = w.fwmark
    ? { family, fwmark: w.fwmark }
    : { family, protocol: protoName(w.protocol), address: addrText(w.addr, family, 'service'), port: w.port };
  const svc: ServiceSpec = {
    key: serviceKey(base),
    ...base,
    scheduler: w.schedName as Scheduler,
    flags: flagsFromWire(w.flags),
    timeoutS: w.timeout,
    netmask: netmaskFromWire(family, w.netmask),
  };
  if (w.peName) svc.peName = w.peName;
  return svc;
}

const FWD_NAME: Record<number, LbKind> = { [FWD.MASQ]: 'NAT', [FWD.DROUTE]: 'DR', [FWD.TUNNEL]: 'TUN' };
const TUN_NAME: Record<number, TunnelSpec['type']> = { [TUN_TYPE.IPIP]: 'ipip', [TUN_TYPE.GUE]: 'gue', [TUN_TYPE.GRE]: 'gre' };

/** `svcFamily` fills in the destination family on kernels that do not report ADDR_FAMILY. */
export function wireToDest(w: WireDest, svcFamily: Family): DestSpec {
  const W = 'destination';
  const family = w.addrFamily ? familyOf(w.addrFamily, W) : svcFamily;
  const fwd = FWD_NAME[w.fwdMethod];
  if (!fwd) throw new IpvsDecodeError(W, `forwarding method ${w.fwdMethod} (${w.fwdMethod === FWD.LOCALNODE ? 'local node' : w.fwdMethod === FWD.BYPASS ? 'bypass' : 'unknown'}) is not NAT, DR or TUN`);
  const address = addrText(w.addr, family, W);
  const d: DestSpec = { key: destKey({ address, port: w.port }), family, address, port: w.port, fwd, weight: w.weight, uThreshold: w.uThresh, lThreshold: w.lThresh };
  if (fwd === 'TUN') {
    const type = TUN_NAME[w.tunType];
    if (!type) throw new IpvsDecodeError(W, `unknown tunnel type ${w.tunType}`);
    const csum: TunnelSpec['csum'] = w.tunFlags & TUN_F.REMCSUM ? 'remcsum' : w.tunFlags & TUN_F.CSUM ? 'csum' : 'nocsum';
    d.tunnel = canonicalTunnel('TUN', { type, port: w.tunPort, csum });
  }
  return d;
}

export interface DecodedService {
  svc: ServiceSpec;
  wire: WireService;
  stats: IpvsStats;
}

export interface DecodedDest {
  dest: DestSpec;
  wire: WireDest & WireDestCounters;
  stats: IpvsDestStats;
}

/** One NEW_SERVICE message of a GET_SERVICE dump (or the GET_SERVICE doit reply). */
export function decodeServiceMsg(payload: Buffer, withStats = true): DecodedService {
  const top = genlNest(payload, 'service', IPVS_CMD.NEW_SERVICE, CMD_ATTR.SERVICE);
  const m = top.nest(CMD_ATTR.SERVICE, 'SERVICE nest', SVC.STATS64);
  const wire = serviceWire(m);
  return { svc: wireToService(wire), wire, stats: withStats ? statsOf(m, SVC.STATS64, SVC.STATS) : zeroStats() };
}

/** One NEW_DEST message of a GET_DEST dump. */
export function decodeDestMsg(payload: Buffer, svcFamily: Family, withStats = true): DecodedDest {
  const top = genlNest(payload, 'destination', IPVS_CMD.NEW_DEST, CMD_ATTR.DEST);
  const m = top.nest(CMD_ATTR.DEST, 'DEST nest', DEST.TUN_FLAGS);
  const wire = destWire(m);
  const s = withStats ? statsOf(m, DEST.STATS64, DEST.STATS) : zeroStats();
  return {
    dest: wireToDest(wire, svcFamily),
    wire,
    stats: {
      activeConns: wire.activeConns, inactConns: wire.inactConns, persistConns: wire.persistConns,
      conns: s.conns, inPkts: s.inPkts, outPkts: s.outPkts, inBytes: s.inBytes, outBytes: s.outBytes,
      cps: s.cps, inPps: s.inPps, outPps: s.outPps, inBps: s.inBps, outBps: s.outBps,
    },
  };
}

/** One NEW_DAEMON message of a GET_DAEMON dump. */
export function decodeDaemonMsg(payload: Buffer): Required<Omit<SyncDaemonSpec, 'group'>> & { group: string } {
  const W = 'sync daemon';
  const m = genlNest(payload, W, IPVS_CMD.NEW_DAEMON, CMD_ATTR.DAEMON).nest(CMD_ATTR.DAEMON, 'DAEMON nest', DAEMON.MCAST_TTL);
  const st = m.u32(DAEMON.STATE, 'STATE');
  if (st !== DAEMON_STATE.MASTER && st !== DAEMON_STATE.BACKUP) throw new IpvsDecodeError(W, `unknown state ${st}`);
  let group = '';
  if (m.has(DAEMON.MCAST_GROUP6)) group = ipv6String(m.buf, m.need(DAEMON.MCAST_GROUP6, 16, 'MCAST_GROUP6'));
  else if (m.has(DAEMON.MCAST_GROUP)) group = ipv4String(m.buf, m.need(DAEMON.MCAST_GROUP, 4, 'MCAST_GROUP'));
  return {
    state: st === DAEMON_STATE.MASTER ? 'master' : 'backup',
    interface: m.str(DAEMON.MCAST_IFN, 'MCAST_IFN'),
    syncId: m.u32(DAEMON.SYNC_ID, 'SYNC_ID'),
    maxlen: m.opt16(DAEMON.SYNC_MAXLEN, 'SYNC_MAXLEN'),
    group,
    port: m.opt16(DAEMON.MCAST_PORT, 'MCAST_PORT'),
    ttl: m.has(DAEMON.MCAST_TTL) ? m.u8(DAEMON.MCAST_TTL, 'MCAST_TTL') : 0,
  };
}

/** The SET_CONFIG reply to GET_CONFIG. */
export function decodeConfigMsg(payload: Buffer): IpvsTimeoutsS {
  const m = genlNest(payload, 'timeouts', IPVS_CMD.SET_CONFIG, CMD_ATTR.TIMEOUT_UDP);
  return { tcp: m.u32(CMD_ATTR.TIMEOUT_TCP, 'TIMEOUT_TCP'), tcpFin: m.u32(CMD_ATTR.TIMEOUT_TCP_FIN, 'TIMEOUT_TCP_FIN'), udp: m.u32(CMD_ATTR.TIMEOUT_UDP, 'TIMEOUT_UDP') };
}

/** The SET_INFO reply to GET_INFO. */
export function decodeInfoMsg(payload: Buffer): IpvsInfo {
  const m = genlNest(payload, 'info', IPVS_CMD.SET_INFO, INFO.CONN_TAB_SIZE);
  const v = m.u32(INFO.VERSION, 'VERSION');
  return { version: `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`, versionCode: v, connTableSize: m.u32(INFO.CONN_TAB_SIZE, 'CONN_TAB_SIZE') };
}
