// rtnetlink codec (pure): links (ifinfomsg) and addresses (ifaddrmsg), requests and decoders.
// Decoders check every length before reading: bad input yields NetlinkDecodeError, nothing else.
import net from 'node:net';
import { AttrWriter, attrMap, decodeAttrs, NetlinkDecodeError, type NlMsg } from '../netlink/codec.js';
import { AF_INET, AF_INET6, ipBytes, ipv4Bytes, ipv4String, ipv6String } from '../sockaddr.js';
import { macString } from '../mac.js';
import type { Family } from '../../config/model.js';

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;

// multicast groups (enum rtnetlink_groups), joined with NETLINK_ADD_MEMBERSHIP
export const RTNLGRP_LINK = 1;
export const RTNLGRP_IPV4_IFADDR = 5;
export const RTNLGRP_IPV6_IFADDR = 9;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_BROADCAST = 4;
export const IFA_CACHEINFO = 6;
export const IFA_FLAGS = 8;

export const IFA_F_SECONDARY = 0x01;
export const IFA_F_NODAD = 0x02;
export const IFA_F_OPTIMISTIC = 0x04;
export const IFA_F_DADFAILED = 0x08;
export const IFA_F_HOMEADDRESS = 0x10;
export const IFA_F_DEPRECATED = 0x20;
export const IFA_F_TENTATIVE = 0x40;
export const IFA_F_PERMANENT = 0x80;
export const IFA_F_MANAGETEMPADDR = 0x100;
export const IFA_F_NOPREFIXROUTE = 0x200;
export const IFA_F_MCAUTOJOIN = 0x400;

export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_SITE = 200;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RT_SCOPE_NOWHERE = 255;

export const IFLA_ADDRESS = 1;
export const IFLA_BROADCAST = 2;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_MASTER = 10;
export const IFLA_OPERSTATE = 16;
export const IFLA_LINKINFO = 18;
export const IFLA_EXT_MASK = 29;
export const IFLA_CARRIER = 33;
export const IFLA_INFO_KIND = 1;
export const RTEXT_FILTER_SKIP_STATS = 1 << 3;

export const IFF_UP = 0x1;
export const IFF_BROADCAST = 0x2;
export const IFF_LOOPBACK = 0x8;
export const IFF_RUNNING = 0x40;
export const IFF_MULTICAST = 0x1000;
export const IFF_LOWER_UP = 0x10000;

/** infinite lifetime in IFA_CACHEINFO */
export const INFINITY_LIFE_TIME = 0xffffffff;

const IFADDRMSG_LEN = 8;
const IFINFOMSG_LEN = 16;

/** 'inet' | 'inet6', as everywhere in the project (config/model.ts) */
export type IpFamily = Family;

export const OPERSTATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;
export type OperState = (typeof OPERSTATES)[number];

export interface LinkInfo {
  ifindex: number;
  name: string;
  /** link-layer address, lower-case colon text; null when the kernel gave none */
  mac: string | null;
  /** ARPHRD_* (1 = Ethernet, 772 = loopback) */
  type: number;
  /** raw IFF_* flags */
  flags: number;
  /** administratively up (IFF_UP) */
  up: boolean;
  /** IFF_RUNNING: up and carrier, as the kernel reports it to userspace */
  running: boolean;
  /** IFF_LOWER_UP: carrier on the physical/peer side */
  lowerUp: boolean;
  operstate: OperState;
  mtu: number | null;
  /** rtnl link kind ("veth", "bridge", "macvlan", ...) when the link has one */
  kind: string | null;
  /** ifindex of the bridge/bond master, if enslaved */
  master: number | null;
}

export interface AddrInfo {
  family: IpFamily;
  ifindex: number;
  /** the local address (IFA_LOCAL, or IFA_ADDRESS when there is no separate local) */
  address: string;
  prefixLen: number;
  /** point-to-point peer, when IFA_ADDRESS differs from IFA_LOCAL */
  peer: string | null;
  broadcast: string | null;
  label: string | null;
  scope: number;
  /** IFA_F_* (from IFA_FLAGS when present: that carries the bits above 0xff) */
  flags: number;
  /** seconds; INFINITY_LIFE_TIME for forever; null when no IFA_CACHEINFO */
  preferredLft: number | null;
  validLft: number | null;
}

export type RtnlEvent =
  | { kind: 'link'; action: 'new' | 'del'; link: LinkInfo }
  | { kind: 'addr'; action: 'new' | 'del'; addr: AddrInfo };

export interface AddressSpec {
  ifindex: number;
  /** canonical or any valid text form; the family follows from it */
  address: string;
  prefixLen: number;
  /** point-to-point peer (ip addr add A peer P) */
  peer?: string;
  /** IPv4 broadcast ("brd"); see ipv4BroadcastFor */
  broadcast?: string;
  /** IPv4 label, must start with the interface name (kernel rule) */
  label?: string;
  /** RT_SCOPE_* or name; default: host for 127/8, else global (as iproute2 does) */
  scope?: number | 'global' | 'site' | 'link' | 'host';
  nodad?: boolean;
  noprefixroute?: boolean;
  homeaddress?: boolean;
  mngtmpaddr?: boolean;
  autojoin?: boolean;
  /** seconds; 0 makes an IPv6 address deprecated at once (keepalived "preferred_lft 0") */
  preferredLft?: number;
  validLft?: number;
}

const SCOPES: Record<string, number> = { global: RT_SCOPE_UNIVERSE, site: RT_SCOPE_SITE, link: RT_SCOPE_LINK, host: RT_SCOPE_HOST };

export function familyOf(address: string): IpFamily {
  if (net.isIPv4(address)) return 'inet';
  if (net.isIPv6(address.split('%')[0]!)) return 'inet6';
  throw new Error(`not an IP address: ${address}`);
}

const afOf = (f: IpFamily): number => (f === 'inet' ? AF_INET : AF_INET6);

/** The conventional IPv4 broadcast for a prefix (none for /31 and /32, RFC 3021). */
export function ipv4BroadcastFor(address: string, prefixLen: number): string | null {
  if (prefixLen >= 31) return null;
  const a = ipv4Bytes(address).readUInt32BE(0);
  const host = 2 ** (32 - prefixLen) - 1;
  const b = Buffer.alloc(4);
  b.writeUInt32BE((a | host) >>> 0, 0);
  return ipv4String(b);
}

function ifaddrmsg(family: number, prefixLen: number, flags: number, scope: number, ifindex: number): Buffer {
  const b = Buffer.alloc(IFADDRMSG_LEN);
  b.writeUInt8(family, 0);
  b.writeUInt8(prefixLen, 1);
  b.writeUInt8(flags & 0xff, 2);
  b.writeUInt8(scope, 3);
  b.writeUInt32LE(ifindex >>> 0, 4);
  return b;
}

function validateSpec(s: AddressSpec): IpFamily {
  const fam = familyOf(s.address);
  const max = fam === 'inet' ? 32 : 128;
  if (!Number.isInteger(s.prefixLen) || s.prefixLen < 0 || s.prefixLen > max)
    throw new Error(`bad prefix length /${s.prefixLen} for ${s.address}`);
  if (!Number.isInteger(s.ifindex) || s.ifindex <= 0) throw new Error(`bad interface index ${s.ifindex}`);
  if (s.peer !== undefined && familyOf(s.peer) !== fam) throw new Error(`peer ${s.peer} is not the family of ${s.address}`);
  if (s.broadcast !== undefined && (fam !== 'inet' || !net.isIPv4(s.broadcast))) throw new Error(`broadcast ${s.broadcast} needs IPv4`);
  if (s.label !== undefined && (fam !== 'inet' || s.label.length === 0 || s.label.length > 15))
    throw new Error(`label "${s.label}": IPv4 only, 1..15 characters`);
  return fam;
}

function specFlags(s: AddressSpec): number {
  return (
    (s.nodad ? IFA_F_NODAD : 0) |
    (s.homeaddress ? IFA_F_HOMEADDRESS : 0) |
    (s.mngtmpaddr ? IFA_F_MANAGETEMPADDR : 0) |
    (s.noprefixroute ? IFA_F_NOPREFIXROUTE : 0) |
    (s.autojoin ? IFA_F_MCAUTOJOIN : 0)
  );
}

function specScope(s: AddressSpec, fam: IpFamily): number {
  if (typeof s.scope === 'number') return s.scope;
  if (s.scope !== undefined) return SCOPES[s.scope]!;
  return fam === 'inet' && s.address.startsWith('127.') ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
}

/** Payload of RTM_NEWADDR (send with NLM_F_CREATE|NLM_F_EXCL, or NLM_F_CREATE|NLM_F_REPLACE). */
export function encodeNewAddr(s: AddressSpec): Buffer {
  const fam = validateSpec(s);
  const flags = specFlags(s);
  const local = ipBytes(s.address.split('%')[0]!);
  const w = new AttrWriter().bytes(IFA_LOCAL, local).bytes(IFA_ADDRESS, s.peer ? ipBytes(s.peer) : local);
  if (s.broadcast) w.bytes(IFA_BROADCAST, ipv4Bytes(s.broadcast));
  if (s.label) w.str(IFA_LABEL, s.label);
  if (flags) w.u32(IFA_FLAGS, flags);
  if (s.preferredLft !== undefined || s.validLft !== undefined) {
    const valid = s.validLft ?? INFINITY_LIFE_TIME;
    const pref = s.preferredLft ?? valid;
    if (pref > valid) throw new Error(`preferred lifetime ${pref} exceeds valid lifetime ${valid}`);
    const ci = Buffer.alloc(16);
    ci.writeUInt32LE(pref >>> 0, 0);
    ci.writeUInt32LE(valid >>> 0, 4);
    w.bytes(IFA_CACHEINFO, ci);
  }
  return Buffer.concat([ifaddrmsg(afOf(fam), s.prefixLen, flags, specScope(s, fam), s.ifindex), w.toBuffer()]);
}

/** Payload of RTM_DELADDR: matched by the kernel on address, prefix length and (IPv4) label. */
export function encodeDelAddr(s: Pick<AddressSpec, 'ifindex' | 'address' | 'prefixLen' | 'peer' | 'label'>): Buffer {
  const fam = validateSpec(s);
  const local = ipBytes(s.address.split('%')[0]!);
  const w = new AttrWriter().bytes(IFA_LOCAL, local).bytes(IFA_ADDRESS, s.peer ? ipBytes(s.peer) : local);
  if (s.label) w.str(IFA_LABEL, s.label);
  return Buffer.concat([ifaddrmsg(afOf(fam), s.prefixLen, 0, 0, s.ifindex), w.toBuffer()]);
}

/** Payload of an RTM_GETADDR dump; family undefined = both. */
export function encodeGetAddrDump(family?: IpFamily): Buffer {
  return ifaddrmsg(family ? afOf(family) : 0, 0, 0, 0, 0);
}

function ifinfomsg(ifindex: number): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN);
  b.writeInt32LE(ifindex, 4);
  return b;
}

/**
 * Payload of RTM_NEWLINK creating a link of an rtnl kind with default parameters, like
 * `ip link add NAME type KIND` (send with NLM_F_CREATE|NLM_F_EXCL). The kernel loads the kind's
 * module on demand; an unknown kind is EOPNOTSUPP ("Unknown device type").
 */
export function encodeNewLink(name: string, kind: string): Buffer {
  if (name.length === 0 || name.length > 15 || /[\s/]/.test(name)) throw new Error(`bad interface name "${name}"`);
  const w = new AttrWriter().str(IFLA_IFNAME, name).nested(IFLA_LINKINFO, (li) => li.str(IFLA_INFO_KIND, kind));
  return Buffer.concat([ifinfomsg(0), w.toBuffer()]);
}

/** Payload of RTM_NEWLINK setting or clearing IFF_UP on an existing link (`ip link set DEV up|down`). */
export function encodeSetLinkUp(ifindex: number, up: boolean): Buffer {
  if (!Number.isInteger(ifindex) || ifindex <= 0) throw new Error(`bad interface index ${ifindex}`);
  const b = ifinfomsg(ifindex);
  b.writeUInt32LE(up ? IFF_UP : 0, 8); // ifi_flags
  b.writeUInt32LE(IFF_UP, 12); // ifi_change: only this bit
  return b;
}

/** Payload of RTM_DELLINK. */
export function encodeDelLink(ifindex: number): Buffer {
  if (!Number.isInteger(ifindex) || ifindex <= 0) throw new Error(`bad interface index ${ifindex}`);
  return ifinfomsg(ifindex);
}

/** Payload of an RTM_GETLINK dump (statistics skipped: they are most of the bytes). */
export function encodeGetLinkDump(): Buffer {
  return Buffer.concat([ifinfomsg(0), new AttrWriter().u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS).toBuffer()]);
}

/** Payload of a single RTM_GETLINK by index or by name. */
export function encodeGetLink(which: number | string): Buffer {
  const w = new AttrWriter().u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  if (typeof which === 'string') {
    if (which.length === 0 || which.length > 15) throw new Error(`bad interface name "${which}"`);
    w.str(IFLA_IFNAME, which);
    return Buffer.concat([ifinfomsg(0), w.toBuffer()]);
  }
  if (!Number.isInteger(which) || which <= 0) throw new Error(`bad interface index ${which}`);
  return Buffer.concat([ifinfomsg(which), w.toBuffer()]);
}

function addrText(b: Buffer | undefined, fam: IpFamily, what: string): string | null {
  if (!b) return null;
  const need = fam === 'inet' ? 4 : 16;
  if (b.length < need) throw new NetlinkDecodeError(`short ${what}: ${b.length} < ${need}`);
  return fam === 'inet' ? ipv4String(b) : ipv6String(b);
}

function cstr(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
}

function u32(b: Buffer | undefined, what: string): number | null {
  if (!b) return null;
  if (b.length < 4) throw new NetlinkDecodeError(`short ${what}: ${b.length} < 4`);
  return b.readUInt32LE(0);
}

/** Decode an RTM_NEWADDR/RTM_DELADDR payload; null for families other than IPv4/IPv6. */
export function decodeAddr(payload: Buffer): AddrInfo | null {
  if (payload.length < IFADDRMSG_LEN) throw new NetlinkDecodeError(`short ifaddrmsg: ${payload.length}`);
  const af = payload.readUInt8(0);
  if (af !== AF_INET && af !== AF_INET6) return null;
  const family: IpFamily = af === AF_INET ? 'inet' : 'inet6';
  const prefixLen = payload.readUInt8(1);
  if (prefixLen > (family === 'inet' ? 32 : 128)) throw new NetlinkDecodeError(`bad prefix length ${prefixLen}`);
  const m = attrMap(payload.subarray(IFADDRMSG_LEN));
  const addressAttr = addrText(m.get(IFA_ADDRESS), family, 'IFA_ADDRESS');
  const local = addrText(m.get(IFA_LOCAL), family, 'IFA_LOCAL');
  const address = local ?? addressAttr;
  if (address === null) throw new NetlinkDecodeError('address message without IFA_LOCAL or IFA_ADDRESS');
  const label = m.get(IFA_LABEL);
  const ci = m.get(IFA_CACHEINFO);
  if (ci && ci.length < 8) throw new NetlinkDecodeError(`short IFA_CACHEINFO: ${ci.length}`);
  return {
    family,
    ifindex: payload.readUInt32LE(4),
    address,
    prefixLen,
    peer: local !== null && addressAttr !== null && addressAttr !== local ? addressAttr : null,
    broadcast: family === 'inet' ? addrText(m.get(IFA_BROADCAST), 'inet', 'IFA_BROADCAST') : null,
    label: label ? cstr(label) : null,
    scope: payload.readUInt8(3),
    flags: u32(m.get(IFA_FLAGS), 'IFA_FLAGS') ?? payload.readUInt8(2),
    preferredLft: ci ? ci.readUInt32LE(0) : null,
    validLft: ci ? ci.readUInt32LE(4) : null,
  };
}

/** Decode an RTM_NEWLINK/RTM_DELLINK payload. */
export function decodeLink(payload: Buffer): LinkInfo {
  if (payload.length < IFINFOMSG_LEN) throw new NetlinkDecodeError(`short ifinfomsg: ${payload.length}`);
  const flags = payload.readUInt32LE(8);
  const m = attrMap(payload.subarray(IFINFOMSG_LEN));
  const name = m.get(IFLA_IFNAME);
  if (!name) throw new NetlinkDecodeError('link message without IFLA_IFNAME');
  const op = m.get(IFLA_OPERSTATE);
  const opIdx = op && op.length >= 1 ? op.readUInt8(0) : 0;
  const mac = m.get(IFLA_ADDRESS);
  const master = u32(m.get(IFLA_MASTER), 'IFLA_MASTER');
  let kind: string | null = null;
  const li = m.get(IFLA_LINKINFO);
  if (li) {
    for (const a of decodeAttrs(li)) if (a.type === IFLA_INFO_KIND) kind = cstr(a.data);
  }
  return {
    ifindex: payload.readInt32LE(4),
    name: cstr(name),
    mac: mac && mac.length > 0 ? macString(mac) : null,
    type: payload.readUInt16LE(2),
    flags,
    up: (flags & IFF_UP) !== 0,
    running: (flags & IFF_RUNNING) !== 0,
    lowerUp: (flags & IFF_LOWER_UP) !== 0,
    operstate: OPERSTATES[opIdx] ?? 'unknown',
    mtu: u32(m.get(IFLA_MTU), 'IFLA_MTU'),
    kind,
    master: master || null,
  };
}

/** A link/address message as a typed event; null for other message types or families. */
export function decodeRtnlEvent(msg: NlMsg): RtnlEvent | null {
  switch (msg.type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
      return { kind: 'link', action: msg.type === RTM_NEWLINK ? 'new' : 'del', link: decodeLink(msg.payload) };
    case RTM_NEWADDR:
    case RTM_DELADDR: {
      const addr = decodeAddr(msg.payload);
      return addr ? { kind: 'addr', action: msg.type === RTM_NEWADDR ? 'new' : 'del', addr } : null;
    }
    default:
      return null;
  }
}
