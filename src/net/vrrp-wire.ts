// Pure pieces of the VRRP socket edge: membership/pktinfo structs, received-datagram parsing,
// VRID extraction for demultiplexing. Linux ABI constants are fixed, so this needs no native code.
import { buildCmsg, decodeSockaddr, ipv4Bytes, ipv4String, ipv6Bytes, ipv6String, parseCmsgs, AF_INET6 } from './sockaddr.js';
import { parseIpv4 } from './inet.js';
import type { Family } from '../config/model.js';

export const IPPROTO_VRRP = 112;
export const IPPROTO_AH = 51;
export const VRRP_GROUP4 = '224.0.0.18';
export const VRRP_GROUP6 = 'ff02::12';
/** TTL / hop limit every VRRP packet carries and every receiver checks (RFC 5798 5.1.1.3) */
export const VRRP_TTL = 255;
/** IPv4 TOS / IPv6 traffic class keepalived uses (network control) */
export const VRRP_TOS = 0xc0;

const SOL_IP = 0;
const IP_PKTINFO = 8;
const SOL_IPV6 = 41;
const IPV6_PKTINFO = 50;
const IPV6_HOPLIMIT = 52;

export type IpFamily = Family;

/** struct ip_mreqn { imr_multiaddr, imr_address (0: any), imr_ifindex } for IP_ADD_MEMBERSHIP. */
export function ipMreqn(group: string, ifindex: number, local = '0.0.0.0'): Buffer {
  const b = Buffer.alloc(12);
  ipv4Bytes(group).copy(b, 0);
  ipv4Bytes(local).copy(b, 4);
  b.writeInt32LE(ifindex, 8);
  return b;
}

/** struct ipv6_mreq { ipv6mr_multiaddr, ipv6mr_interface } for IPV6_ADD_MEMBERSHIP. */
export function ipv6Mreq(group: string, ifindex: number): Buffer {
  const b = Buffer.alloc(20);
  ipv6Bytes(group).copy(b, 0);
  b.writeUInt32LE(ifindex >>> 0, 16);
  return b;
}

/** Control messages choosing the IPv6 source address/interface (IPV6_PKTINFO) and hop limit. */
export function ipv6SendCmsgs(src: string, ifindex: number, hopLimit: number): Buffer {
  const pi = Buffer.alloc(20);
  ipv6Bytes(src).copy(pi, 0);
  pi.writeUInt32LE(ifindex >>> 0, 16);
  const hl = Buffer.alloc(4);
  hl.writeInt32LE(hopLimit, 0);
  return Buffer.concat([buildCmsg(SOL_IPV6, IPV6_PKTINFO, pi), buildCmsg(SOL_IPV6, IPV6_HOPLIMIT, hl)]);
}

export interface ReceivedVrrp {
  family: IpFamily;
  /** IP protocol of the payload: 112, or 51 when VRRPv2 is wrapped in IPsec-AH (IPv4) */
  protocol: number;
  src: string;
  dst: string;
  /** IPv4 TTL / IPv6 hop limit; -1 when the kernel gave no hop-limit cmsg */
  ttl: number;
  ifindex: number;
  /** the bytes after the IP header (VRRP, or AH + VRRP when protocol is 51) */
  payload: Buffer;
  /** IPv4 only: the IP header as received (AH ICV verification covers it) */
  ipHeader?: Buffer;
  /** IPv4 only: the whole datagram (header + payload), for codecs that parse from the IP header */
  datagram?: Buffer;
}

export type ParseResult = { ok: true; pkt: ReceivedVrrp } | { ok: false; reason: 'malformed' | 'truncated' };

/** A datagram from a raw IPv4 socket: the kernel includes the IP header. */
export function parseV4Datagram(data: Buffer, cmsg: Buffer, fallbackIfindex: number): ParseResult {
  const ip = parseIpv4(data);
  if (!ip) return { ok: false, reason: 'malformed' };
  if (ip.truncated) return { ok: false, reason: 'truncated' };
  let ifindex = fallbackIfindex;
  for (const c of parseCmsgs(cmsg)) {
    if (c.level === SOL_IP && c.type === IP_PKTINFO && c.data.length >= 12) ifindex = c.data.readInt32LE(0);
  }
  return {
    ok: true,
    pkt: {
      family: 'inet',
      protocol: ip.protocol,
      src: ipv4String(ip.src),
      dst: ipv4String(ip.dst),
      ttl: ip.ttl,
      ifindex,
      payload: ip.payload,
      ipHeader: ip.header,
      datagram: data.subarray(0, ip.headerLength + ip.payload.length),
    },
  };
}

/** A datagram from a raw IPv6 socket: payload only; source from the sockaddr, the rest from cmsgs. */
export function parseV6Datagram(data: Buffer, addr: Buffer, cmsg: Buffer, fallbackIfindex: number, protocol = IPPROTO_VRRP): ParseResult {
  const sa = decodeSockaddr(addr);
  if (sa.family !== AF_INET6 || !sa.address) return { ok: false, reason: 'malformed' };
  let dst = '::';
  let ttl = -1;
  let ifindex = fallbackIfindex;
  for (const c of parseCmsgs(cmsg)) {
    if (c.level !== SOL_IPV6) continue;
    if (c.type === IPV6_PKTINFO && c.data.length >= 20) {
      dst = ipv6String(c.data, 0);
      ifindex = c.data.readInt32LE(16);
    } else if (c.type === IPV6_HOPLIMIT && c.data.length >= 4) ttl = c.data.readInt32LE(0);
  }
  return { ok: true, pkt: { family: 'inet6', protocol, src: sa.address, dst, ttl, ifindex, payload: data } };
}

/**
 * The VRID a packet is for, for demultiplexing among instances sharing one socket; null when the
 * bytes are too short to tell (the codec will reject them). AH: skip the AH header (RFC 4302:
 * length field = 32-bit words - 2) when it wraps VRRP.
 */
export function vridOf(protocol: number, payload: Uint8Array): number | null {
  if (protocol === IPPROTO_VRRP) return payload.length >= 2 ? payload[1]! : null;
  if (protocol === IPPROTO_AH) {
    if (payload.length < 2 || payload[0] !== IPPROTO_VRRP) return null;
    const ahLen = (payload[1]! + 2) * 4;
    return payload.length >= ahLen + 2 ? payload[ahLen + 1]! : null;
  }
  return null;
}
