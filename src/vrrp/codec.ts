// VRRP message codec: VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798), IPv4 and IPv6.
//
// Layout (both versions):  ver|type  VRID  priority  count
//                          v2: auth_type  adver_int(s)   v3: rsvd(4)|max_adver_int(12, cs)
//                          checksum(16)  addresses...   v2 only: 8 bytes auth data
// decode never throws: hostile bytes produce a typed drop reason.
import { ipBytes, ipv4String, ipv6String } from '../net/sockaddr.js';
import { inetChecksum, pseudoHeader } from './checksum.js';
import {
  AUTH_DATA_LEN,
  IPPROTO_VRRP,
  VRRP_ADVERT_TYPE,
  drop,
  type AddrContext,
  type AdvertFields,
  type Decoded,
  type VrrpAdvert,
} from './packet.js';

export const VRRP_HEADER_LEN = 8;

export function addrLen(family: 'inet' | 'inet6'): number {
  return family === 'inet' ? 4 : 16;
}

/** Length of a VRRP message with `count` addresses. */
export function vrrpMessageLength(version: 2 | 3, family: 'inet' | 'inet6', count: number): number {
  return VRRP_HEADER_LEN + count * addrLen(family) + (version === 2 ? AUTH_DATA_LEN : 0);
}

function checksumOf(msg: Uint8Array, version: 2 | 3, ctx: AddrContext): number {
  if (version === 2) return inetChecksum(msg);
  return inetChecksum(pseudoHeader(ctx.src, ctx.dst, IPPROTO_VRRP, msg.length), msg);
}

/**
 * Encode an advertisement. Throws RangeError on fields we would never send (our own bug,
 * not peer input): VRID 0, priority > 255, an interval the version cannot carry, v2 on IPv6.
 */
export function encodeVrrp(f: AdvertFields, ctx: AddrContext): Uint8Array {
  if (f.version !== 2 && f.version !== 3) throw new RangeError(`VRRP version ${String(f.version)}`);
  if (f.version === 2 && ctx.family !== 'inet') throw new RangeError('VRRPv2 is IPv4 only');
  if (!Number.isInteger(f.vrid) || f.vrid < 1 || f.vrid > 255) throw new RangeError(`VRID ${f.vrid}`);
  if (!Number.isInteger(f.priority) || f.priority < 0 || f.priority > 255) throw new RangeError(`priority ${f.priority}`);
  if (f.addresses.length > 255) throw new RangeError(`${f.addresses.length} addresses (max 255)`);
  let intField: number;
  if (f.version === 2) {
    intField = f.advertIntMs / 1000;
    if (!Number.isInteger(intField) || intField < 1 || intField > 255)
      throw new RangeError(`VRRPv2 advert interval ${f.advertIntMs} ms is not 1..255 whole seconds`);
  } else {
    intField = f.advertIntMs / 10;
    if (!Number.isInteger(intField) || intField < 1 || intField > 0xfff)
      throw new RangeError(`VRRPv3 advert interval ${f.advertIntMs} ms is not 10..40950 ms in 10 ms steps`);
  }
  const alen = addrLen(ctx.family);
  const msg = new Uint8Array(vrrpMessageLength(f.version, ctx.family, f.addresses.length));
  msg[0] = (f.version << 4) | VRRP_ADVERT_TYPE;
  msg[1] = f.vrid;
  msg[2] = f.priority;
  msg[3] = f.addresses.length;
  if (f.version === 2) {
    msg[4] = f.authType ?? 0;
    msg[5] = intField;
  } else {
    msg[4] = (intField >> 8) & 0x0f; // reserved bits zero
    msg[5] = intField & 0xff;
  }
  f.addresses.forEach((a, i) => {
    const b = ipBytes(a);
    if (b.length !== alen) throw new RangeError(`address ${a} is not ${ctx.family}`);
    msg.set(b, VRRP_HEADER_LEN + i * alen);
  });
  if (f.version === 2 && f.authData) {
    if (f.authData.length > AUTH_DATA_LEN) throw new RangeError('auth data longer than 8 bytes');
    msg.set(f.authData, VRRP_HEADER_LEN + f.addresses.length * alen);
  }
  const sum = checksumOf(msg, f.version, ctx);
  msg[6] = sum >> 8;
  msg[7] = sum & 0xff;
  return msg;
}

/**
 * Decode and verify one VRRP message (exactly the bytes after the IP/AH header).
 * Checks: header present, version 2/3 (v2 IPv4 only), type advertisement, count_ip consistent
 * with the length, checksum (v3 with the pseudo-header built from ctx).
 */
export function decodeVrrp(bytes: Uint8Array, ctx: AddrContext): Decoded<VrrpAdvert> {
  if (bytes.length < VRRP_HEADER_LEN) return drop('too-short', `${bytes.length} bytes, VRRP header is 8`);
  const version = bytes[0]! >> 4;
  const type = bytes[0]! & 0x0f;
  if (version !== 2 && version !== 3) return drop('bad-version', `version ${version}`);
  if (version === 2 && ctx.family !== 'inet') return drop('bad-version', 'VRRPv2 over IPv6');
  if (type !== VRRP_ADVERT_TYPE) return drop('bad-type', `type ${type}`);
  const count = bytes[3]!;
  const expected = vrrpMessageLength(version, ctx.family, count);
  if (bytes.length !== expected)
    return drop('length-mismatch', `count_ip ${count} needs ${expected} bytes, got ${bytes.length}`);
  let sum: number;
  try {
    sum = checksumOf(bytes, version, ctx);
  } catch (e) {
    return drop('bad-ip-header', `cannot build pseudo-header: ${(e as Error).message}`);
  }
  if (sum !== 0) return drop('bad-checksum', `checksum 0x${((bytes[6]! << 8) | bytes[7]!).toString(16)} does not verify`);
  const alen = addrLen(ctx.family);
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) {
    const off = VRRP_HEADER_LEN + i * alen;
    addresses.push(alen === 4 ? ipv4String(bytes, off) : ipv6String(bytes, off));
  }
  const authOff = VRRP_HEADER_LEN + count * alen;
  return {
    ok: true,
    value: {
      version,
      vrid: bytes[1]!,
      priority: bytes[2]!,
      advertIntMs: version === 2 ? bytes[5]! * 1000 : (((bytes[4]! & 0x0f) << 8) | bytes[5]!) * 10,
      addresses,
      authType: version === 2 ? bytes[4]! : 0,
      authData: version === 2 ? bytes.slice(authOff, authOff + AUTH_DATA_LEN) : new Uint8Array(0),
      checksum: (bytes[6]! << 8) | bytes[7]!,
    },
  };
}
