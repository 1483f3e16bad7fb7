// IPsec AH as keepalived uses it for VRRPv2 `auth_type AH` (RFC 2402 layout, no SA negotiation):
//   next header 112 | payload len 4 | reserved 0 | SPI = sender's IPv4 address | sequence | ICV(12)
// ICV = HMAC-MD5-96 keyed with the 8-byte zero-padded password, over the whole IPv4 datagram with
// the mutable IP fields zeroed (TOS, fragment offset, header checksum; TTL too when unicast) and the
// ICV itself zeroed. Verified against captures/vrrp2-authah.pcap (password "labpass1").
import { createHmac } from 'node:crypto';
import { AUTH_DATA_LEN, IPPROTO_VRRP } from './packet.js';

export const AH_HEADER_LEN = 24;
export const AH_ICV_LEN = 12;
/** payload length field: (AH length in 32-bit words) - 2 = 24/4 - 2 */
export const AH_PAYLOAD_LEN = 4;

export interface AhHeader {
  nextHeader: number;
  payloadLen: number;
  spi: number;
  seq: number;
  icv: Uint8Array;
}

export function parseAh(b: Uint8Array, off: number): AhHeader {
  const v = new DataView(b.buffer, b.byteOffset + off, AH_HEADER_LEN);
  return {
    nextHeader: v.getUint8(0),
    payloadLen: v.getUint8(1),
    spi: v.getUint32(4),
    seq: v.getUint32(8),
    icv: b.slice(off + 12, off + 12 + AH_ICV_LEN),
  };
}

export function writeAh(b: Uint8Array, off: number, spi: number, seq: number): void {
  const v = new DataView(b.buffer, b.byteOffset + off, AH_HEADER_LEN);
  v.setUint8(0, IPPROTO_VRRP);
  v.setUint8(1, AH_PAYLOAD_LEN);
  v.setUint16(2, 0);
  v.setUint32(4, spi >>> 0);
  v.setUint32(8, seq >>> 0);
  b.fill(0, off + 12, off + AH_HEADER_LEN);
}

/** keepalived's auth_data: the first 8 characters of auth_pass, zero-padded. */
export function authKey(password: string): Uint8Array {
  const k = new Uint8Array(AUTH_DATA_LEN);
  k.set(Buffer.from(password, 'utf8').subarray(0, AUTH_DATA_LEN));
  return k;
}

/**
 * HMAC-MD5-96 over `datagram` (IPv4 header with IHL `ihl` bytes, then AH at ihl) with the mutable
 * fields and the ICV zeroed in a copy. `zeroTtl`: keepalived zeroes the TTL when unicasting.
 */
export function computeAhIcv(datagram: Uint8Array, ihl: number, key: Uint8Array, zeroTtl: boolean): Uint8Array {
  const p = Uint8Array.from(datagram);
  p[1] = 0; // TOS
  p[6] = 0; // flags + fragment offset
  p[7] = 0;
  p[10] = 0; // header checksum
  p[11] = 0;
  if (zeroTtl) p[8] = 0;
  p.fill(0, ihl + 12, ihl + AH_HEADER_LEN);
  return new Uint8Array(createHmac('md5', key).update(p).digest().subarray(0, AH_ICV_LEN));
}

/** Constant-time-enough compare for 12-byte ICVs (timing is not a concern for VRRP, equality is). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/**
 * keepalived keeps ONE sequence counter per instance for both directions: sending increments it,
 * and a received advert with a higher sequence number raises it. That is what lets a backup that
 * takes over continue above the old master's numbers, so peers' anti-replay accepts it.
 */
export class AhCounter {
  seq = 0;

  /** Sequence number for the next advert we send. */
  next(): number {
    // keepalived stops incrementing near 2^32 (136 years at 1 advert/s); so do we.
    if (this.seq < 0xfffffffd) this.seq++;
    return this.seq;
  }

  /** Anti-replay: accept only sequence numbers above the current counter, and remember them. */
  accept(seq: number): boolean {
    if (seq > this.seq) {
      this.seq = seq;
      return true;
    }
    return false;
  }

  /** keepalived: a master receiving a lower-priority AH advert syncs to its sequence + 1. */
  syncFromLower(seq: number): void {
    this.seq = Math.min(seq + 1, 0xfffffffd);
  }
}
