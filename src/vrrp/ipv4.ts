// IPv4 datagrams carrying VRRP, directly (protocol 112) or inside AH (protocol 51).
//
// A raw IPv4 socket delivers the whole datagram, and keepalived sends with IP_HDRINCL (it needs
// the header to compute the AH ICV and to set TOS 0xc0 / TTL 255 / its own IP ID). This module
// builds and parses exactly those datagrams.
import { ipBytes, ipv4String } from '../net/sockaddr.js';
import { AH_HEADER_LEN, AH_PAYLOAD_LEN, computeAhIcv, parseAh, writeAh, type AhHeader } from './ah.js';
import { inetChecksum } from './checksum.js';
import { decodeVrrp, encodeVrrp } from './codec.js';
import {
  IPPROTO_AH,
  IPPROTO_VRRP,
  VRRP_TOS,
  VRRP_TTL,
  drop,
  type AdvertFields,
  type Decoded,
  type VrrpAdvert,
} from './packet.js';

export const IPV4_HEADER_LEN = 20;

export interface Ipv4Header {
  headerLength: number;
  tos: number;
  totalLength: number;
  id: number;
  /** flags (3 bits) + fragment offset (13 bits) */
  fragment: number;
  ttl: number;
  protocol: number;
  checksum: number;
  src: string;
  dst: string;
}

export interface Ipv4Vrrp {
  ip: Ipv4Header;
  /** present when the datagram is AH-wrapped (protocol 51) */
  ah?: AhHeader;
  vrrp: VrrpAdvert;
  /** the whole datagram (the AH ICV covers it) */
  raw: Uint8Array;
}

export interface Ipv4EncodeOptions {
  src: string;
  dst: string;
  /** IP identification; keepalived counts from 1 per instance and skips 0 */
  id: number;
  ttl?: number;
  tos?: number;
  ah?: {
    key: Uint8Array;
    seq: number;
    /** default: the source address as a 32-bit number, as keepalived does */
    spi?: number;
    /** zero the TTL in the ICV computation (keepalived does for unicast peers) */
    zeroTtl?: boolean;
  };
}

function u32(ip: string): number {
  const b = ipBytes(ip);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

export function encodeIpv4Vrrp(f: AdvertFields, o: Ipv4EncodeOptions): Uint8Array {
  const vrrp = encodeVrrp(f, { family: 'inet', src: o.src, dst: o.dst });
  const ahLen = o.ah ? AH_HEADER_LEN : 0;
  const total = IPV4_HEADER_LEN + ahLen + vrrp.length;
  const p = new Uint8Array(total);
  const v = new DataView(p.buffer);
  v.setUint8(0, 0x45);
  v.setUint8(1, o.tos ?? VRRP_TOS);
  v.setUint16(2, total);
  v.setUint16(4, o.id & 0xffff);
  v.setUint16(6, 0);
  v.setUint8(8, o.ttl ?? VRRP_TTL);
  v.setUint8(9, o.ah ? IPPROTO_AH : IPPROTO_VRRP);
  p.set(ipBytes(o.src), 12);
  p.set(ipBytes(o.dst), 16);
  p.set(vrrp, IPV4_HEADER_LEN + ahLen);
  if (o.ah) {
    writeAh(p, IPV4_HEADER_LEN, o.ah.spi ?? u32(o.src), o.ah.seq);
    p.set(computeAhIcv(p, IPV4_HEADER_LEN, o.ah.key, o.ah.zeroTtl ?? false), IPV4_HEADER_LEN + 12);
  }
  v.setUint16(10, inetChecksum(p.subarray(0, IPV4_HEADER_LEN)));
  return p;
}

/**
 * Parse a received IPv4 datagram holding a VRRP advert, plain or AH-wrapped. Verifies the IPv4
 * framing (version, IHL, total length == datagram length as keepalived requires), the AH layout
 * and the VRRP message itself (see decodeVrrp). The AH ICV and anti-replay need the instance's
 * key and counter, so they are checked later (receive.ts).
 */
export function decodeIpv4Vrrp(b: Uint8Array): Decoded<Ipv4Vrrp> {
  if (b.length < IPV4_HEADER_LEN) return drop('too-short', `${b.length} bytes, IPv4 header is 20`);
  if (b[0]! >> 4 !== 4) return drop('bad-ip-header', `IP version ${b[0]! >> 4}`);
  const ihl = (b[0]! & 0x0f) * 4;
  if (ihl < IPV4_HEADER_LEN) return drop('bad-ip-header', `IHL ${ihl}`);
  if (b.length < ihl) return drop('too-short', `${b.length} bytes, IHL says ${ihl}`);
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const ip: Ipv4Header = {
    headerLength: ihl,
    tos: b[1]!,
    totalLength: v.getUint16(2),
    id: v.getUint16(4),
    fragment: v.getUint16(6),
    ttl: b[8]!,
    protocol: b[9]!,
    checksum: v.getUint16(10),
    src: ipv4String(b, 12),
    dst: ipv4String(b, 16),
  };
  if (ip.totalLength !== b.length)
    return drop('bad-ip-header', `total length ${ip.totalLength} but datagram is ${b.length} bytes`);
  if (ip.fragment & 0x3fff) return drop('bad-ip-header', 'fragment');
  let off = ihl;
  let ah: AhHeader | undefined;
  if (ip.protocol === IPPROTO_AH) {
    if (b.length < off + AH_HEADER_LEN) return drop('too-short', 'truncated AH header');
    ah = parseAh(b, off);
    if (ah.nextHeader !== IPPROTO_VRRP) return drop('not-vrrp', `AH next header ${ah.nextHeader}`);
    if (ah.payloadLen !== AH_PAYLOAD_LEN) return drop('bad-ah-header', `AH payload length ${ah.payloadLen}`);
    off += AH_HEADER_LEN;
  } else if (ip.protocol !== IPPROTO_VRRP) {
    return drop('not-vrrp', `IP protocol ${ip.protocol}`);
  }
  const r = decodeVrrp(b.subarray(off), { family: 'inet', src: ip.src, dst: ip.dst });
  if (!r.ok) return r;
  return { ok: true, value: { ip, ...(ah ? { ah } : {}), vrrp: r.value, raw: b } };
}
