// IPv4 header build/parse and the Internet checksum (pure).

/** RFC 1071 one's-complement sum of `parts` (concatenated), folded and inverted. */
export function internetChecksum(...parts: Uint8Array[]): number {
  let sum = 0;
  let odd = -1; // a pending high byte when a part ends on an odd boundary
  for (const p of parts) {
    let i = 0;
    if (odd >= 0 && p.length > 0) {
      sum += (odd << 8) | p[0]!;
      odd = -1;
      i = 1;
    }
    for (; i + 1 < p.length; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
    if (i < p.length) odd = p[i]!;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  if (odd >= 0) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface Ipv4HeaderFields {
  src: Uint8Array; // 4 bytes
  dst: Uint8Array; // 4 bytes
  protocol: number;
  payloadLength: number;
  ttl: number;
  tos: number;
  id: number;
  /** don't-fragment; keepalived leaves it clear */
  df?: boolean;
}

export const IPV4_HEADER_LEN = 20;

/** A 20-byte IPv4 header (no options) with its checksum. */
export function buildIpv4Header(f: Ipv4HeaderFields): Buffer {
  const total = IPV4_HEADER_LEN + f.payloadLength;
  if (total > 0xffff) throw new Error(`IPv4 packet too long: ${total}`);
  const h = Buffer.alloc(IPV4_HEADER_LEN);
  h[0] = 0x45;
  h[1] = f.tos & 0xff;
  h.writeUInt16BE(total, 2);
  h.writeUInt16BE(f.id & 0xffff, 4);
  h.writeUInt16BE(f.df ? 0x4000 : 0, 6);
  h[8] = f.ttl & 0xff;
  h[9] = f.protocol & 0xff;
  Buffer.from(f.src).copy(h, 12, 0, 4);
  Buffer.from(f.dst).copy(h, 16, 0, 4);
  h.writeUInt16BE(internetChecksum(h), 10);
  return h;
}

export interface ParsedIpv4 {
  headerLength: number;
  totalLength: number;
  tos: number;
  id: number;
  ttl: number;
  protocol: number;
  src: Buffer;
  dst: Buffer;
  /** the header bytes (with options) */
  header: Buffer;
  /** bytes after the header, cut at the total length */
  payload: Buffer;
  /** the buffer held fewer bytes than the total length says */
  truncated: boolean;
}

/** Parse an IPv4 packet as a raw socket hands it over; null when it is not a sane IPv4 packet. */
export function parseIpv4(pkt: Buffer): ParsedIpv4 | null {
  if (pkt.length < IPV4_HEADER_LEN || pkt[0]! >> 4 !== 4) return null;
  const headerLength = (pkt[0]! & 0x0f) * 4;
  const totalLength = pkt.readUInt16BE(2);
  if (headerLength < IPV4_HEADER_LEN || headerLength > pkt.length || totalLength < headerLength) return null;
  const end = Math.min(totalLength, pkt.length);
  return {
    headerLength,
    totalLength,
    tos: pkt[1]!,
    id: pkt.readUInt16BE(4),
    ttl: pkt[8]!,
    protocol: pkt[9]!,
    src: pkt.subarray(12, 16),
    dst: pkt.subarray(16, 20),
    header: pkt.subarray(0, headerLength),
    payload: pkt.subarray(headerLength, end),
    truncated: pkt.length < totalLength,
  };
}
