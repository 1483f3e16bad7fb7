// DNS message codec (RFC 1035) for DNS_CHECK: build one query, parse a reply, judge it. Pure.
import type { DnsType } from '../src/config/model.js';

export const DNS_TYPE_CODES: Record<DnsType, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, MX: 15, TXT: 16, AAAA: 28 };
const TYPE_NAMES = new Map<number, string>(Object.entries(DNS_TYPE_CODES).map(([k, v]) => [v, k]));
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];

export function typeName(t: number): string {
  return TYPE_NAMES.get(t) ?? `TYPE${t}`;
}

export function rcodeName(r: number): string {
  return `${RCODES[r] ?? 'RCODE'} (${r})`;
}

export class DnsFormatError extends Error {}

/** Wire form of a domain name; "." (or "") is the root. Throws on empty or oversized labels. */
export function encodeName(name: string): Buffer {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  if (trimmed === '') return Buffer.from([0]);
  const parts: Buffer[] = [];
  for (const label of trimmed.split('.')) {
    const b = Buffer.from(label, 'utf8');
    if (b.length === 0) throw new DnsFormatError(`empty label in DNS name "${name}"`);
    if (b.length > 63) throw new DnsFormatError(`label longer than 63 bytes in DNS name "${name}"`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new DnsFormatError(`DNS name "${name}" longer than 255 bytes`);
  return out;
}

/** A standard query (RD set, as keepalived sends) for one name/type in class IN. */
export function encodeQuery(id: number, name: string, qtype: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id & 0xffff, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4); // QDCOUNT
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(qtype, 0);
  tail.writeUInt16BE(1, 2); // IN
  return Buffer.concat([header, encodeName(name), tail]);
}

export interface DnsQuestion {
  name: string;
  type: number;
  cls: number;
}

export interface DnsRecord extends DnsQuestion {
  ttl: number;
  data: Buffer;
}

export interface DnsMessage {
  id: number;
  qr: boolean;
  opcode: number;
  tc: boolean;
  rcode: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
}

/** Read a (possibly compressed) name at `off`; returns the name and the offset after it. */
export function decodeName(buf: Buffer, off: number): { name: string; next: number } {
  const labels: string[] = [];
  let next = -1;
  let pos = off;
  let jumps = 0;
  for (;;) {
    if (pos >= buf.length) throw new DnsFormatError('name runs past the end of the message');
    const len = buf[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new DnsFormatError('truncated compression pointer');
      if (++jumps > 64) throw new DnsFormatError('compression pointer loop');
      if (next < 0) next = pos + 2;
      pos = ((len & 0x3f) << 8) | buf[pos + 1]!;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsFormatError(`unsupported label type 0x${len.toString(16)}`);
    if (pos + 1 + len > buf.length) throw new DnsFormatError('label runs past the end of the message');
    labels.push(buf.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
    if (labels.length > 128) throw new DnsFormatError('name has too many labels');
  }
  return { name: labels.length ? labels.join('.') : '.', next };
}

export function decodeMessage(buf: Buffer): DnsMessage {
  if (buf.length < 12) throw new DnsFormatError(`message of ${buf.length} bytes is shorter than a DNS header`);
  const flags = buf.readUInt16BE(2);
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const msg: DnsMessage = {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    tc: (flags & 0x0200) !== 0,
    rcode: flags & 0xf,
    questions: [],
    answers: [],
  };
  let off = 12;
  for (let i = 0; i < qd; i++) {
    const n = decodeName(buf, off);
    if (n.next + 4 > buf.length) throw new DnsFormatError('question runs past the end of the message');
    msg.questions.push({ name: n.name, type: buf.readUInt16BE(n.next), cls: buf.readUInt16BE(n.next + 2) });
    off = n.next + 4;
  }
  for (let i = 0; i < an; i++) {
    const n = decodeName(buf, off);
    if (n.next + 10 > buf.length) throw new DnsFormatError('answer record runs past the end of the message');
    const rdlen = buf.readUInt16BE(n.next + 8);
    const start = n.next + 10;
    if (start + rdlen > buf.length) throw new DnsFormatError('answer data runs past the end of the message');
    msg.answers.push({
      name: n.name,
      type: buf.readUInt16BE(n.next),
      cls: buf.readUInt16BE(n.next + 2),
      ttl: buf.readUInt32BE(n.next + 4),
      data: buf.subarray(start, start + rdlen),
    });
    off = start + rdlen;
  }
  return msg;
}

function sameName(a: string, b: string): boolean {
  const norm = (s: string): string => (s === '.' || s === '' ? '.' : s.replace(/\.$/, '').toLowerCase());
  return norm(a) === norm(b);
}

export type DnsVerdict =
  | { kind: 'ignore'; why: string } // not a reply to our query: keep waiting (as keepalived)
  | { kind: 'down'; reason: string }
  | { kind: 'up'; reason: string };

/**
 * keepalived accepts any reply with our id, QR set and RCODE 0. lvsd also requires the question
 * to be echoed and at least one answer of the asked type: a server answering NOERROR with no
 * data for the configured name is not serving it.
 */
export function judgeReply(buf: Buffer, id: number, name: string, qtype: number): DnsVerdict {
  if (buf.length < 12) return { kind: 'ignore', why: 'shorter than a DNS header' };
  if (buf.readUInt16BE(0) !== id) return { kind: 'ignore', why: 'wrong id' };
  if ((buf.readUInt16BE(2) & 0x8000) === 0) return { kind: 'ignore', why: 'not a response' };
  let msg: DnsMessage;
  try {
    msg = decodeMessage(buf);
  } catch (err) {
    return { kind: 'down', reason: `malformed DNS reply: ${(err as Error).message}` };
  }
  if (msg.rcode !== 0) return { kind: 'down', reason: `DNS reply rcode ${rcodeName(msg.rcode)}` };
  const q = msg.questions[0];
  if (msg.questions.length !== 1 || !q || q.type !== qtype || q.cls !== 1 || !sameName(q.name, name))
    return {
      kind: 'down',
      reason: `DNS reply question ${q ? `${q.name} ${typeName(q.type)}` : '(none)'} does not match the query ${name} ${typeName(qtype)}`,
    };
  const matching = msg.answers.filter((a) => a.type === qtype && a.cls === 1);
  if (matching.length === 0) {
    const other = msg.answers.length ? ` (answers: ${[...new Set(msg.answers.map((a) => typeName(a.type)))].join(', ')})` : '';
    return { kind: 'down', reason: `DNS reply has no answer of type ${typeName(qtype)} for ${name}${other}` };
  }
  return { kind: 'up', reason: `DNS ${typeName(qtype)} ${name}: ${matching.length} answer${matching.length > 1 ? 's' : ''}` };
}
