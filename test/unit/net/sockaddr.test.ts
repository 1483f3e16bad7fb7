import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import net from 'node:net';
import {
  buildCmsg,
  canonicalIp,
  decodeSockaddr,
  ipv4Bytes,
  ipv6Bytes,
  ipv6String,
  parseCmsgs,
  sockaddrIn,
  sockaddrIn6,
  sockaddrLl,
  sockaddrNl,
} from '../../../src/net/sockaddr.js';
import { ipv6MulticastMac, macBytes, macString } from '../../../src/net/mac.js';

describe('address text', () => {
  it('IPv6 canonical form (RFC 5952)', () => {
    expect(canonicalIp('fd99:0:0:0:0:0:0:100')).toBe('fd99::100');
    expect(canonicalIp('FE80::99:FF:FE00:11')).toBe('fe80::99:ff:fe00:11');
    expect(canonicalIp('::ffff:10.0.0.1')).toBe('::ffff:a00:1');
    expect(canonicalIp('1:0:0:1:0:0:0:1')).toBe('1:0:0:1::1');
    expect(ipv6Bytes('fe80::1%eth0').toString('hex')).toBe('fe800000000000000000000000000001');
    expect(() => ipv4Bytes('10.0.0.256')).toThrow();
  });

  it('IPv6 bytes -> text -> bytes is the identity and agrees with node:net', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        const t = ipv6String(b);
        expect(net.isIPv6(t)).toBe(true);
        expect(ipv6Bytes(t).equals(Buffer.from(b))).toBe(true);
      }),
    );
  });
});

describe('sockaddr', () => {
  it('encode/decode', () => {
    expect(decodeSockaddr(sockaddrIn('10.1.2.3', 80))).toEqual({ family: 2, address: '10.1.2.3', port: 80 });
    expect(decodeSockaddr(sockaddrIn6('fe80::1', 0, 4))).toEqual({ family: 10, address: 'fe80::1', port: 0, scopeId: 4 });
    expect(decodeSockaddr(sockaddrNl(77, 0))).toEqual({ family: 16, pid: 77 });
    const ll = sockaddrLl(3, 0x0806, macBytes('ff:ff:ff:ff:ff:ff'));
    expect(decodeSockaddr(ll)).toEqual({ family: 17, ifindex: 3 });
    expect(ll.readUInt16BE(2)).toBe(0x0806);
    expect(ll[11]).toBe(6);
    expect(decodeSockaddr(Buffer.alloc(1))).toEqual({ family: 0 });
  });
});

describe('cmsg', () => {
  it('build/parse round trip with 8-byte alignment', () => {
    const a = buildCmsg(41, 50, Buffer.alloc(20, 1));
    const b = buildCmsg(0, 8, Buffer.alloc(12, 2));
    expect(a.length).toBe(40);
    expect(a.readBigUInt64LE(0)).toBe(36n);
    const parsed = parseCmsgs(Buffer.concat([a, b]));
    expect(parsed.map((c) => [c.level, c.type, c.data.length])).toEqual([
      [41, 50, 20],
      [0, 8, 12],
    ]);
  });

  it('parse stops at a corrupt length and never throws', () => {
    const a = buildCmsg(41, 50, Buffer.alloc(20));
    a.writeBigUInt64LE(1000n, 0);
    expect(parseCmsgs(a)).toEqual([]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        parseCmsgs(Buffer.from(b));
      }),
    );
  });
});

describe('MAC helpers', () => {
  it('text and bytes', () => {
    expect(macString(macBytes('02-99-00-00-00-1A'))).toBe('02:99:00:00:00:1a');
    expect(() => macBytes('02:99:00:00:00')).toThrow();
    expect(() => macBytes('02:99:00:00:00:zz')).toThrow();
    expect(ipv6MulticastMac(ipv6Bytes('ff02::12')).toString('hex')).toBe('333300000012');
  });
});
