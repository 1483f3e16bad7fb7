// Netlink message and attribute codec (pure). Shared by rtnetlink and generic netlink (IPVS).
// Decoders never trust lengths: a hostile or truncated buffer yields a NetlinkDecodeError.

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_ECHO = 0x8;
export const NLM_F_DUMP_INTR = 0x10;
// GET modifiers
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
// NEW modifiers
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
// ACK flags
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;

export const NLMSG_HDRLEN = 16;

export class NetlinkDecodeError extends Error {
  constructor(message: string) {
    super(`netlink decode: ${message}`);
    this.name = 'NetlinkDecodeError';
  }
}

export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** bytes after the 16-byte header */
  payload: Buffer;
}

const align4 = (n: number): number => (n + 3) & ~3;

export function encodeMessage(m: { type: number; flags: number; seq: number; pid?: number; payload: Uint8Array }): Buffer {
  const len = NLMSG_HDRLEN + m.payload.length;
  const b = Buffer.alloc(align4(len));
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(m.type, 4);
  b.writeUInt16LE(m.flags, 6);
  b.writeUInt32LE(m.seq >>> 0, 8);
  b.writeUInt32LE((m.pid ?? 0) >>> 0, 12);
  Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength).copy(b, NLMSG_HDRLEN);
  return b;
}

/** Split a datagram into messages. */
export function decodeMessages(buf: Buffer): NlMsg[] {
  const out: NlMsg[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) throw new NetlinkDecodeError(`bad message length ${len} at ${off}`);
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

export interface NlError {
  /** positive errno; 0 means ACK */
  errno: number;
  /** extended ack message from the kernel, when it sent one */
  extMessage?: string;
  /** the header of the request that failed */
  requestSeq?: number;
}

export function decodeError(m: NlMsg): NlError {
  if (m.payload.length < 4) throw new NetlinkDecodeError('short NLMSG_ERROR');
  const err = -m.payload.readInt32LE(0);
  const res: NlError = { errno: err };
  if (m.payload.length >= 4 + NLMSG_HDRLEN) res.requestSeq = m.payload.readUInt32LE(4 + 8);
  if (m.flags & NLM_F_ACK_TLVS && m.payload.length >= 4 + NLMSG_HDRLEN) {
    const origLen = m.payload.readUInt32LE(4);
    const tlvStart = 4 + (m.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : align4(origLen));
    if (tlvStart <= m.payload.length) {
      for (const a of decodeAttrs(m.payload.subarray(tlvStart))) {
        if (a.type === NLMSGERR_ATTR_MSG) res.extMessage = a.data.toString('utf8').replace(/\0+$/, '');
      }
    }
  }
  return res;
}

export interface Attr {
  type: number;
  nested: boolean;
  data: Buffer;
}

export function decodeAttrs(buf: Buffer): Attr[] {
  const out: Attr[] = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    const rawType = buf.readUInt16LE(off + 2);
    if (len < 4 || off + len > buf.length) throw new NetlinkDecodeError(`bad attribute length ${len} at ${off}`);
    out.push({ type: rawType & NLA_TYPE_MASK, nested: (rawType & NLA_F_NESTED) !== 0, data: buf.subarray(off + 4, off + len) });
    off += align4(len);
  }
  return out;
}

/** Attributes by type (last one wins, as the kernel's nla_parse does). */
export function attrMap(buf: Buffer): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  for (const a of decodeAttrs(buf)) m.set(a.type, a.data);
  return m;
}

function need(b: Buffer | undefined, n: number, what: string): Buffer {
  if (!b) throw new NetlinkDecodeError(`missing ${what}`);
  if (b.length < n) throw new NetlinkDecodeError(`short ${what}: ${b.length} < ${n}`);
  return b;
}

export const attr = {
  u8: (b: Buffer | undefined, what = 'u8'): number => need(b, 1, what).readUInt8(0),
  u16: (b: Buffer | undefined, what = 'u16'): number => need(b, 2, what).readUInt16LE(0),
  be16: (b: Buffer | undefined, what = 'be16'): number => need(b, 2, what).readUInt16BE(0),
  u32: (b: Buffer | undefined, what = 'u32'): number => need(b, 4, what).readUInt32LE(0),
  u64: (b: Buffer | undefined, what = 'u64'): bigint => need(b, 8, what).readBigUInt64LE(0),
  str: (b: Buffer | undefined, what = 'string'): string => {
    const s = need(b, 0, what);
    const nul = s.indexOf(0);
    return s.subarray(0, nul < 0 ? s.length : nul).toString('utf8');
  },
};

/** Attribute writer: builds a TLV stream, with nesting. */
export class AttrWriter {
  private parts: Buffer[] = [];
  private size = 0;

  private push(type: number, data: Uint8Array): this {
    const len = 4 + data.length;
    const b = Buffer.alloc(align4(len));
    b.writeUInt16LE(len, 0);
    b.writeUInt16LE(type, 2);
    Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(b, 4);
    this.parts.push(b);
    this.size += b.length;
    return this;
  }

  bytes(type: number, data: Uint8Array): this {
    return this.push(type, data);
  }
  u8(type: number, v: number): this {
    return this.push(type, Buffer.from([v & 0xff]));
  }
  u16(type: number, v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v, 0);
    return this.push(type, b);
  }
  be16(type: number, v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v, 0);
    return this.push(type, b);
  }
  u32(type: number, v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0, 0);
    return this.push(type, b);
  }
  u64(type: number, v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v, 0);
    return this.push(type, b);
  }
  /** NUL-terminated string */
  str(type: number, s: string): this {
    return this.push(type, Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]));
  }
  nested(type: number, build: (w: AttrWriter) => void): this {
    const w = new AttrWriter();
    build(w);
    return this.push(type | NLA_F_NESTED, w.toBuffer());
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}

// ---- generic netlink ---------------------------------------------------------------

export const GENL_HDRLEN = 4;
export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_CMD_NEWFAMILY = 1;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;
export const CTRL_ATTR_VERSION = 3;
export const CTRL_ATTR_MAXATTR = 5;

export function genlHeader(cmd: number, version: number): Buffer {
  return Buffer.from([cmd, version, 0, 0]);
}

export interface GenlMsg {
  cmd: number;
  version: number;
  attrs: Buffer;
}

export function decodeGenl(payload: Buffer): GenlMsg {
  if (payload.length < GENL_HDRLEN) throw new NetlinkDecodeError('short genl header');
  return { cmd: payload[0]!, version: payload[1]!, attrs: payload.subarray(GENL_HDRLEN) };
}

/** The nlctrl request that resolves a family name to its id. */
export function getFamilyPayload(name: string): Buffer {
  return Buffer.concat([genlHeader(CTRL_CMD_GETFAMILY, 1), new AttrWriter().str(CTRL_ATTR_FAMILY_NAME, name).toBuffer()]);
}

export function decodeFamilyId(payload: Buffer): number {
  const g = decodeGenl(payload);
  return attr.u16(attrMap(g.attrs).get(CTRL_ATTR_FAMILY_ID), 'CTRL_ATTR_FAMILY_ID');
}
