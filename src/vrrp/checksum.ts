// Internet checksum (RFC 1071) and the pseudo-headers VRRP needs.
//
// VRRPv2 (RFC 3768 §5.3.8) sums the VRRP message only. VRRPv3 (RFC 5798 §5.2.8) prepends the
// IPv4 or IPv6 pseudo-header; keepalived ≥ 1.3.6 does that for IPv4 too (the lab README's
// `42fd` vs `2dfa` check), so we do the same.
import { ipBytes } from '../net/sockaddr.js';

/** 16-bit one's-complement sum of `data` added to `acc` (not folded, not inverted). */
export function onesSum(data: Uint8Array, acc = 0): number {
  const n = data.length & ~1;
  for (let i = 0; i < n; i += 2) acc += (data[i]! << 8) | data[i + 1]!;
  if (data.length & 1) acc += data[data.length - 1]! << 8;
  return acc;
}

/** Fold and invert an accumulated sum into the 16-bit checksum field value. */
export function finishChecksum(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return ~acc & 0xffff;
}

export function inetChecksum(...chunks: Uint8Array[]): number {
  let acc = 0;
  for (const c of chunks) acc = onesSum(c, acc);
  return finishChecksum(acc);
}

/** RFC 768-style pseudo-header: IPv4 (12 bytes) or IPv6 (40 bytes, RFC 8200 §8.1). */
export function pseudoHeader(src: string, dst: string, proto: number, length: number): Uint8Array {
  const s = ipBytes(src);
  const d = ipBytes(dst);
  if (s.length !== d.length) throw new Error(`pseudo-header: mixed address families ${src} / ${dst}`);
  if (s.length === 4) {
    const b = new Uint8Array(12);
    b.set(s, 0);
    b.set(d, 4);
    b[9] = proto;
    b[10] = (length >> 8) & 0xff;
    b[11] = length & 0xff;
    return b;
  }
  const b = new Uint8Array(40);
  b.set(s, 0);
  b.set(d, 16);
  new DataView(b.buffer).setUint32(32, length);
  b[39] = proto;
  return b;
}
