import { describe, expect, it } from 'vitest';
import type { PingCheck } from '../../../src/config/model.js';
import { buildEcho, describeIcmpError, inetChecksum, parseIcmp } from '../../../checks/icmp-codec.js';
import { closePingers, probePing } from '../../../checks/ping.js';
import { common, ctx, target } from './helpers.js';

const isRoot = process.getuid?.() === 0;

describe('ICMP codec', () => {
  it('computes RFC 1071 checksums (a message with its checksum sums to zero)', () => {
    const e = buildEcho(false, 0x1234, 7, Buffer.from('abcdefgh'));
    expect(e[0]).toBe(8);
    expect(inetChecksum(e)).toBe(0);
    expect(inetChecksum(Buffer.from([0x45, 0x00, 0x00, 0x1c]))).toBe(~(0x4500 + 0x001c) & 0xffff);
    expect(buildEcho(true, 1, 2, Buffer.alloc(0))[0]).toBe(128);
  });

  it('parses replies with and without an IPv4 header', () => {
    const reply = buildEcho(false, 0x1234, 9, Buffer.from('xy'));
    reply[0] = 0;
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    expect(parseIcmp(Buffer.concat([ip, reply]), false, true)).toMatchObject({ kind: 'reply', id: 0x1234, seq: 9 });
    expect(parseIcmp(reply, false, false)).toMatchObject({ kind: 'reply', id: 0x1234, seq: 9 });
    expect(parseIcmp(buildEcho(false, 1, 1, Buffer.alloc(0)), false, false).kind).toBe('other');
    expect(parseIcmp(Buffer.alloc(3), false, false).kind).toBe('other');
  });

  it('extracts our id/seq/destination from a quoted request in an ICMP error', () => {
    const inner = Buffer.alloc(20);
    inner[0] = 0x45;
    inner[9] = 1;
    Buffer.from([192, 0, 2, 5]).copy(inner, 16);
    const err = Buffer.concat([Buffer.from([3, 13, 0, 0, 0, 0, 0, 0]), inner, buildEcho(false, 0x4242, 77, Buffer.alloc(0))]);
    expect(parseIcmp(err, false, false)).toEqual({ kind: 'error', type: 3, code: 13, id: 0x4242, seq: 77, dst: '192.0.2.5' });
    expect(describeIcmpError(false, 3, 1)).toBe('ICMP destination unreachable (host unreachable)');
    expect(describeIcmpError(true, 1, 3)).toBe('ICMPv6 destination unreachable (address unreachable)');
  });
});

describe.skipIf(!isRoot)('PING_CHECK on loopback (root)', () => {
  const ping = (over: Partial<PingCheck> = {}): PingCheck => ({ ...common({ connectTimeoutMs: 1000 }), type: 'PING_CHECK', ...over });
  it('gets echo replies from 127.0.0.1 and ::1', async () => {
    try {
      expect((await probePing(ping(), target(0, '127.0.0.1'), ctx())).up).toBe(true);
      expect((await probePing(ping(), target(0, '::1'), ctx())).up).toBe(true);
      // many at once share one socket and are matched by sequence number
      const rs = await Promise.all(Array.from({ length: 50 }, () => probePing(ping(), target(0, '127.0.0.1'), ctx())));
      expect(rs.every((r) => r.up)).toBe(true);
    } finally {
      closePingers();
    }
  });
});
