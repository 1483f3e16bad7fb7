// sockaddr encoders/decoders (pure; Linux x86_64/aarch64 layouts) and cmsg walking.
import net from 'node:net';

export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;

/** IPv4 dotted quad -> 4 bytes. Throws on anything that is not a valid IPv4 address. */
export function ipv4Bytes(ip: string): Buffer {
  if (!net.isIPv4(ip)) throw new Error(`not an IPv4 address: ${ip}`);
  return Buffer.from(ip.split('.').map((o) => Number(o)));
}

/** IPv6 text -> 16 bytes (handles ::, embedded IPv4, and %zone which is dropped). */
export function ipv6Bytes(ip: string): Buffer {
  const bare = ip.split('%')[0]!;
  if (!net.isIPv6(bare)) throw new Error(`not an IPv6 address: ${ip}`);
  let text = bare;
  const out = Buffer.alloc(16);
  // embedded IPv4 tail
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (v4) {
    const b = ipv4Bytes(v4[1]!);
    tail = [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!];
    text = text.slice(0, -v4[1]!.length);
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (s: string | undefined): number[] => (s ? s.split(':').filter((x) => x !== '').map((h) => parseInt(h, 16)) : []);
  const h = parse(head);
  const r = rest === undefined ? [] : parse(rest);
  const groups = rest === undefined ? [...h, ...tail] : [...h, ...new Array(8 - h.length - r.length - tail.length).fill(0), ...r, ...tail];
  if (groups.length !== 8) throw new Error(`not an IPv6 address: ${ip}`);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

export function ipBytes(ip: string): Buffer {
  return net.isIPv4(ip) ? ipv4Bytes(ip) : ipv6Bytes(ip);
}

export function ipv4String(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** 16 bytes -> canonical (RFC 5952) IPv6 text. */
export function ipv6String(b: Uint8Array, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!);
  // longest run of zeros (length >= 2) becomes ::
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] === 0) {
      let j = i;
      while (j < 8 && g[j] === 0) j++;
      if (j - i > bestLen && j - i >= 2) {
        best = i;
        bestLen = j - i;
      }
      i = j;
    } else i++;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Canonical text form of any address (so that "fd99:0::1" and "fd99::1" compare equal). */
export function canonicalIp(ip: string): string {
  if (net.isIPv4(ip)) return ipv4String(ipv4Bytes(ip));
  return ipv6String(ipv6Bytes(ip));
}

export function sockaddrIn(ip: string, port = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  b.writeUInt16BE(port, 2);
  ipv4Bytes(ip).copy(b, 4);
  return b;
}

export function sockaddrIn6(ip: string, port = 0, scopeId = 0): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  ipv6Bytes(ip).copy(b, 8);
  b.writeUInt32LE(scopeId, 24);
  return b;
}

export function sockaddrFor(ip: string, port = 0, scopeId = 0): Buffer {
  return net.isIPv4(ip) ? sockaddrIn(ip, port) : sockaddrIn6(ip, port, scopeId);
}

/** struct sockaddr_ll for sending on AF_PACKET: protocol (host order in, stored big-endian). */
export function sockaddrLl(ifindex: number, protocol: number, dstMac?: Uint8Array): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16LE(AF_PACKET, 0);
  b.writeUInt16BE(protocol, 2);
  b.writeInt32LE(ifindex, 4);
  if (dstMac) {
    b.writeUInt8(6, 11); // sll_halen
    Buffer.from(dstMac).copy(b, 12, 0, 6);
  }
  return b;
}

export function sockaddrNl(pid = 0, groups = 0): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16LE(AF_NETLINK, 0);
  b.writeUInt32LE(pid >>> 0, 4);
  b.writeUInt32LE(groups >>> 0, 8);
  return b;
}

export interface DecodedSockaddr {
  family: number;
  address?: string;
  port?: number;
  scopeId?: number;
  /** AF_PACKET: interface index */
  ifindex?: number;
  /** AF_NETLINK: sender port id */
  pid?: number;
}

export function decodeSockaddr(b: Buffer): DecodedSockaddr {
  if (b.length < 2) return { family: 0 };
  const family = b.readUInt16LE(0);
  if (family === AF_INET && b.length >= 8) return { family, port: b.readUInt16BE(2), address: ipv4String(b, 4) };
  if (family === AF_INET6 && b.length >= 28)
    return { family, port: b.readUInt16BE(2), address: ipv6String(b, 8), scopeId: b.readUInt32LE(24) };
  if (family === AF_PACKET && b.length >= 8) return { family, ifindex: b.readInt32LE(4) };
  if (family === AF_NETLINK && b.length >= 12) return { family, pid: b.readUInt32LE(4) };
  return { family };
}

export interface Cmsg {
  level: number;
  type: number;
  data: Buffer;
}

/** Walk a raw control buffer (64-bit layout: size_t len, int level, int type, data aligned to 8). */
export function parseCmsgs(buf: Buffer): Cmsg[] {
  const out: Cmsg[] = [];
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = Number(buf.readBigUInt64LE(off));
    if (len < 16 || off + len > buf.length) break;
    out.push({ level: buf.readInt32LE(off + 8), type: buf.readInt32LE(off + 12), data: buf.subarray(off + 16, off + len) });
    off += (len + 7) & ~7;
  }
  return out;
}

/** Build one control message (for sendmsg, e.g. IPV6_PKTINFO to choose the source). */
export function buildCmsg(level: number, type: number, data: Uint8Array): Buffer {
  const len = 16 + data.length;
  const b = Buffer.alloc((len + 7) & ~7);
  b.writeBigUInt64LE(BigInt(len), 0);
  b.writeInt32LE(level, 8);
  b.writeInt32LE(type, 12);
  Buffer.from(data).copy(b, 16);
  return b;
}
