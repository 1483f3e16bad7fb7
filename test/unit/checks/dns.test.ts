import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DnsCheck } from '../../../src/config/model.js';
import { decodeMessage, decodeName, encodeName, encodeQuery, judgeReply } from '../../../checks/dns-codec.js';
import { probeDns } from '../../../checks/dns.js';
import { closedUdpPort, common, ctx, target, udpServer } from './helpers.js';

const dns = (over: Partial<DnsCheck> = {}): DnsCheck => ({ ...common(), type: 'DNS_CHECK', queryType: 'A', name: 'www.example.com', ...over });

/** A reply built by hand from the query bytes: same id and question, the given answers. */
function reply(query: Buffer, opts: { rcode?: number; answers?: { type: number; data: Buffer }[]; id?: number; qr?: boolean } = {}): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(opts.id ?? query.readUInt16BE(0), 0);
  header.writeUInt16BE((opts.qr === false ? 0 : 0x8000) | 0x0180 | (opts.rcode ?? 0), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(opts.answers?.length ?? 0, 6);
  const question = query.subarray(12);
  const rrs = (opts.answers ?? []).map((a) => {
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
    rr.writeUInt16BE(a.type, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(300, 6);
    rr.writeUInt16BE(a.data.length, 10);
    return Buffer.concat([rr, a.data]);
  });
  return Buffer.concat([header, question, ...rrs]);
}

const A = (ip: string) => ({ type: 1, data: Buffer.from(ip.split('.').map(Number)) });

describe('DNS codec', () => {
  it('encodes names and the query exactly', () => {
    expect(encodeName('.')).toEqual(Buffer.from([0]));
    expect(encodeName('a.bc.')).toEqual(Buffer.from([1, 97, 2, 98, 99, 0]));
    expect(() => encodeName('a..b')).toThrow(/empty label/);
    expect(() => encodeName(`${'x'.repeat(64)}.com`)).toThrow(/63/);
    const q = encodeQuery(0x1234, 'ab.c', 28);
    expect(q.toString('hex')).toBe('123401000001000000000000' + '026162016300' + '001c0001');
  });

  it('decodes compressed names and rejects pointer loops and overruns', () => {
    const msg = Buffer.from([0, 0, 3, 102, 111, 111, 0, 3, 98, 97, 114, 0xc0, 2]);
    expect(decodeName(msg, 2)).toEqual({ name: 'foo', next: 7 });
    expect(decodeName(msg, 7)).toEqual({ name: 'bar.foo', next: 13 });
    expect(() => decodeName(Buffer.from([0xc0, 0]), 0)).toThrow(/loop/);
    expect(() => decodeName(Buffer.from([5, 97]), 0)).toThrow(/past the end/);
  });

  it('round-trips random queries', () => {
    const label = fc.stringMatching(/^[a-z0-9-]{1,20}$/);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.array(label, { minLength: 1, maxLength: 5 }), fc.constantFrom(1, 2, 5, 6, 15, 16, 28), (id, labels, t) => {
        const name = labels.join('.');
        const m = decodeMessage(encodeQuery(id, name, t));
        expect(m).toMatchObject({ id, qr: false, rcode: 0, questions: [{ name, type: t, cls: 1 }], answers: [] });
      }),
    );
  });

  it('never throws on random bytes (judgeReply is total)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const b = Buffer.from(bytes);
        if (b.length >= 2) b.writeUInt16BE(7, 0);
        const v = judgeReply(b, 7, 'x.y', 1);
        expect(['ignore', 'down', 'up']).toContain(v.kind);
      }),
    );
  });

  it('judges replies: ours, NOERROR, echoed question, an answer of the asked type', () => {
    const q = encodeQuery(42, 'www.example.com', 1);
    expect(judgeReply(reply(q, { answers: [A('192.0.2.1')] }), 42, 'www.example.com', 1)).toMatchObject({ kind: 'up' });
    expect(judgeReply(reply(q, { answers: [A('192.0.2.1')] }), 42, 'WWW.Example.COM.', 1).kind).toBe('up');
    expect(judgeReply(reply(q, { id: 43 }), 42, 'www.example.com', 1)).toEqual({ kind: 'ignore', why: 'wrong id' });
    expect(judgeReply(reply(q, { qr: false }), 42, 'www.example.com', 1).kind).toBe('ignore');
    expect(judgeReply(reply(q, { rcode: 3 }), 42, 'www.example.com', 1)).toEqual({ kind: 'down', reason: 'DNS reply rcode NXDOMAIN (3)' });
    expect(judgeReply(reply(q), 42, 'www.example.com', 1)).toEqual({ kind: 'down', reason: 'DNS reply has no answer of type A for www.example.com' });
    const cnameOnly = judgeReply(reply(q, { answers: [{ type: 5, data: Buffer.from([0]) }] }), 42, 'www.example.com', 1);
    expect(cnameOnly).toEqual({ kind: 'down', reason: 'DNS reply has no answer of type A for www.example.com (answers: CNAME)' });
    expect(judgeReply(reply(q, { answers: [A('192.0.2.1')] }), 42, 'other.example.com', 1).kind).toBe('down');
    const truncated = reply(q, { answers: [A('192.0.2.1')] }).subarray(0, 40);
    expect(judgeReply(truncated, 42, 'www.example.com', 1)).toMatchObject({ kind: 'down', reason: expect.stringContaining('malformed DNS reply') });
  });
});

describe('DNS_CHECK over UDP', () => {
  it('is up when the server answers with a record of the asked type', async () => {
    const s = await udpServer((m, send) => send(reply(m, { answers: [A('192.0.2.7')] })));
    try {
      const r = await probeDns(dns(), target(s.port), ctx());
      expect(r.up).toBe(true);
      expect(r.reason).toContain('DNS A www.example.com: 1 answer');
      // the query the server saw is a standard recursive query for our name and type
      const seen = decodeMessage(s.received[0]!);
      expect(seen.questions).toEqual([{ name: 'www.example.com', type: 1, cls: 1 }]);
      expect(s.received[0]!.readUInt16BE(2) & 0x0100).toBe(0x0100);
    } finally {
      await s.close();
    }
  });

  it('queries the root SOA by default name "."', async () => {
    const s = await udpServer((m, send) => send(reply(m, { answers: [{ type: 6, data: Buffer.alloc(22) }] })));
    try {
      expect((await probeDns(dns({ queryType: 'SOA', name: '.' }), target(s.port), ctx())).up).toBe(true);
      expect(decodeMessage(s.received[0]!).questions[0]).toEqual({ name: '.', type: 6, cls: 1 });
    } finally {
      await s.close();
    }
  });

  it('is down on NXDOMAIN, on an answer of the wrong type, and on a malformed reply', async () => {
    const nx = await udpServer((m, send) => send(reply(m, { rcode: 3 })));
    const wrong = await udpServer((m, send) => send(reply(m, { answers: [{ type: 28, data: Buffer.alloc(16) }] })));
    const bad = await udpServer((m, send) => send(Buffer.concat([m.subarray(0, 2), Buffer.from([0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 9, 9])])));
    try {
      expect((await probeDns(dns(), target(nx.port), ctx())).reason).toContain('rcode NXDOMAIN (3)');
      expect((await probeDns(dns(), target(wrong.port), ctx())).reason).toContain('no answer of type A for www.example.com (answers: AAAA)');
      expect((await probeDns(dns(), target(bad.port), ctx())).reason).toContain('malformed DNS reply');
    } finally {
      await Promise.all([nx.close(), wrong.close(), bad.close()]);
    }
  });

  it('ignores replies that are not ours and keeps waiting', async () => {
    const s = await udpServer((m, send) => {
      send(reply(m, { id: m.readUInt16BE(0) ^ 1, answers: [A('192.0.2.1')] }));
      setTimeout(() => send(reply(m, { answers: [A('192.0.2.1')] })), 20);
    });
    const liar = await udpServer((m, send) => send(reply(m, { id: m.readUInt16BE(0) ^ 1, answers: [A('192.0.2.1')] })));
    try {
      expect((await probeDns(dns(), target(s.port), ctx())).up).toBe(true);
      const r = await probeDns(dns(common({ connectTimeoutMs: 200 }) as DnsCheck), target(liar.port), ctx());
      expect(r.up).toBe(false);
      expect(r.reason).toContain('timeout after 200 ms waiting for a DNS reply (1 unrelated datagram ignored)');
    } finally {
      await Promise.all([s.close(), liar.close()]);
    }
  });

  it('is down at once on ICMP port unreachable (closed port)', async () => {
    const port = await closedUdpPort();
    const t0 = Date.now();
    const r = await probeDns(dns(common({ connectTimeoutMs: 3000 }) as DnsCheck), target(port), ctx());
    expect(r).toMatchObject({ up: false });
    expect(r.reason).toContain(`ECONNREFUSED 127.0.0.1:${port}`);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
