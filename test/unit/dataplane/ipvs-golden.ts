// Loader for the golden ipvsadm captures (test/fixtures/ipvs-golden).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeMessages, type NlMsg } from '../../../src/net/netlink/codec.js';

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/ipvs-golden');

export interface Golden {
  name: string;
  command: string;
  exitStatus: number;
  output: string;
  familyId: number;
  datagrams: { dir: 'send' | 'recv'; raw: Buffer; msgs: NlMsg[] }[];
}

export function goldenNames(): string[] {
  return fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, '')).sort();
}

export function golden(name: string): Golden {
  const j = JSON.parse(fs.readFileSync(path.join(DIR, `${name}.json`), 'utf8')) as {
    command: string; exitStatus: number; output: string; genlFamilyId: number; datagrams: { dir: 'send' | 'recv'; hex: string }[];
  };
  return {
    name,
    command: j.command,
    exitStatus: j.exitStatus,
    output: j.output,
    familyId: j.genlFamilyId,
    datagrams: j.datagrams.map((d) => {
      const raw = Buffer.from(d.hex, 'hex');
      return { dir: d.dir, raw, msgs: decodeMessages(raw) };
    }),
  };
}

/** The IPVS requests ipvsadm sent (whole datagrams), without the GET_INFO every invocation starts with. */
export function ipvsSends(g: Golden): Buffer[] {
  return g.datagrams
    .filter((d) => d.dir === 'send' && d.msgs[0]?.type === g.familyId && d.msgs[0].payload[0] !== 15)
    .map((d) => d.raw);
}

/** Every IPVS message the kernel sent (dump parts, doit replies), in order. */
export function ipvsReplies(g: Golden): NlMsg[] {
  return g.datagrams.filter((d) => d.dir === 'recv').flatMap((d) => d.msgs).filter((m) => m.type === g.familyId);
}

/** The request/reply pairs: each IPVS request with the IPVS messages that answered it (by seq). */
export function exchanges(g: Golden): { request: NlMsg; replies: NlMsg[] }[] {
  const out: { request: NlMsg; replies: NlMsg[] }[] = [];
  for (const d of g.datagrams) {
    if (d.dir === 'send' && d.msgs[0]?.type === g.familyId) out.push({ request: d.msgs[0], replies: [] });
    if (d.dir === 'recv') {
      for (const m of d.msgs) {
        const x = out.find((e) => e.request.seq === m.seq && e.request.pid === m.pid);
        if (x) x.replies.push(m);
      }
    }
  }
  return out;
}

/** Zero nlmsg_type (the dynamic family id) and seq/pid in every message of a datagram. */
export function masked(b: Buffer): string {
  const c = Buffer.from(b);
  let off = 0;
  while (off + 16 <= c.length) {
    const len = c.readUInt32LE(off);
    c.fill(0, off + 4, off + 6);
    c.fill(0, off + 8, off + 16);
    off += (len + 3) & ~3;
    if (len < 16) break;
  }
  return c.toString('hex');
}
