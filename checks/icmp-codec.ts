// ICMP / ICMPv6 echo messages for PING_CHECK (pure).
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP6_DEST_UNREACH = 1;
export const ICMP6_TIME_EXCEEDED = 3;
export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;

/** RFC 1071 Internet checksum. */
export function inetChecksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (b.length & 1) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * An echo request. IPv4 carries its checksum; for ICMPv6 the kernel fills it (it needs the
 * pseudo-header), and ping sockets rewrite the id and checksum anyway.
 */
export function buildEcho(v6: boolean, id: number, seq: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(8 + payload.length);
  b[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO_REQUEST;
  b.writeUInt16BE(id & 0xffff, 4);
  b.writeUInt16BE(seq & 0xffff, 6);
  Buffer.from(payload).copy(b, 8);
  if (!v6) b.writeUInt16BE(inetChecksum(b), 2);
  return b;
}

export type IcmpEvent =
  | { kind: 'reply'; id: number; seq: number; payload: Buffer }
  | { kind: 'error'; type: number; code: number; id: number; seq: number; dst: string }
  | { kind: 'other' };

function v4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

function v6(b: Uint8Array, o: number): string {
  const g: string[] = [];
  for (let i = 0; i < 8; i++) g.push((((b[o + 2 * i]! << 8) | b[o + 2 * i + 1]!) >>> 0).toString(16));
  return g.join(':');
}

/**
 * Parse what a socket returned. `ipHeader`: raw IPv4 sockets deliver the IP header first.
 * Errors (unreachable, time exceeded) quote our request: its id/seq/destination are returned.
 */
export function parseIcmp(data: Buffer, isV6: boolean, ipHeader: boolean): IcmpEvent {
  let off = 0;
  if (ipHeader) {
    if (data.length < 20) return { kind: 'other' };
    off = (data[0]! & 0x0f) * 4;
  }
  if (data.length < off + 8) return { kind: 'other' };
  const type = data[off]!;
  const code = data[off + 1]!;
  if (type === (isV6 ? ICMP6_ECHO_REPLY : ICMP_ECHO_REPLY))
    return { kind: 'reply', id: data.readUInt16BE(off + 4), seq: data.readUInt16BE(off + 6), payload: data.subarray(off + 8) };
  const isErr = isV6 ? type === ICMP6_DEST_UNREACH || type === ICMP6_TIME_EXCEEDED : type === ICMP_DEST_UNREACH || type === ICMP_TIME_EXCEEDED;
  if (!isErr) return { kind: 'other' };
  const inner = off + 8;
  if (isV6) {
    // quoted IPv6 header (40 bytes, next header must be ICMPv6) then our echo request
    if (data.length < inner + 48 || data[inner + 6] !== 58 || data[inner + 40] !== ICMP6_ECHO_REQUEST) return { kind: 'other' };
    return { kind: 'error', type, code, id: data.readUInt16BE(inner + 44), seq: data.readUInt16BE(inner + 46), dst: v6(data, inner + 24) };
  }
  if (data.length < inner + 20) return { kind: 'other' };
  const ihl = (data[inner]! & 0x0f) * 4;
  if (data[inner + 9] !== 1 || data.length < inner + ihl + 8 || data[inner + ihl] !== ICMP_ECHO_REQUEST) return { kind: 'other' };
  return { kind: 'error', type, code, id: data.readUInt16BE(inner + ihl + 4), seq: data.readUInt16BE(inner + ihl + 6), dst: v4(data, inner + 16) };
}

const V4_UNREACH = ['net unreachable', 'host unreachable', 'protocol unreachable', 'port unreachable', 'fragmentation needed', 'source route failed', 'net unknown', 'host unknown', 'source host isolated', 'net prohibited', 'host prohibited', 'net unreachable for TOS', 'host unreachable for TOS', 'administratively prohibited'];
const V6_UNREACH = ['no route', 'administratively prohibited', 'beyond scope', 'address unreachable', 'port unreachable', 'source policy failed', 'reject route'];

export function describeIcmpError(isV6: boolean, type: number, code: number): string {
  if (isV6) {
    if (type === ICMP6_DEST_UNREACH) return `ICMPv6 destination unreachable (${V6_UNREACH[code] ?? `code ${code}`})`;
    return `ICMPv6 time exceeded (code ${code})`;
  }
  if (type === ICMP_DEST_UNREACH) return `ICMP destination unreachable (${V4_UNREACH[code] ?? `code ${code}`})`;
  return `ICMP time exceeded (code ${code})`;
}
