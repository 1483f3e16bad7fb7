import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildGarp, buildUnsolicitedNa, icmpv6Checksum, parseArpFrame, ARP_REQUEST } from '../../../src/net/arp.js';
import { internetChecksum } from '../../../src/net/inet.js';
import { ipv6Bytes } from '../../../src/net/sockaddr.js';

// Frames from shared/captures/VECTORS.md (keepalived 2.2.7 on the lab bridge).
const GARP_D1 = 'ffffffffffff029900000011080600010800060400010299000000110a630064ffffffffffff0a630064';
const GARP_D2 = 'ffffffffffff029900000012080600010800060400010299000000120a630064ffffffffffff0a630064';
const NA_D1 =
  '33330000000102990000001186dd6000000000203afffd990000000000000000000000000100ff020000000000000000000000000001880056c220000000fd9900000000000000000000000001000201029900000011';

describe('gratuitous ARP', () => {
  it('matches the keepalived capture byte for byte', () => {
    expect(buildGarp({ mac: '02:99:00:00:00:11', ip: '10.99.0.100' }).toString('hex')).toBe(GARP_D1);
    expect(buildGarp({ mac: Buffer.from('029900000012', 'hex'), ip: '10.99.0.100' }).toString('hex')).toBe(GARP_D2);
  });

  it('is 42 bytes and parses back', () => {
    const f = buildGarp({ mac: '02:99:00:00:00:11', ip: '10.99.0.100' });
    expect(f.length).toBe(42);
    expect(parseArpFrame(f)).toEqual({
      ethDst: 'ff:ff:ff:ff:ff:ff',
      ethSrc: '02:99:00:00:00:11',
      op: ARP_REQUEST,
      senderMac: '02:99:00:00:00:11',
      senderIp: '10.99.0.100',
      targetMac: 'ff:ff:ff:ff:ff:ff',
      targetIp: '10.99.0.100',
    });
  });

  it('separates the Ethernet source from the ARP sender (vmac) and supports replies', () => {
    const f = buildGarp({ mac: '02:99:00:00:00:11', ethSrc: '00:00:5e:00:01:33', ip: '10.99.0.100', op: 2 });
    const p = parseArpFrame(f)!;
    expect(p.ethSrc).toBe('00:00:5e:00:01:33');
    expect(p.senderMac).toBe('02:99:00:00:00:11');
    expect(p.op).toBe(2);
  });

  it('rejects bad input clearly', () => {
    expect(() => buildGarp({ mac: '02:99:00:00:00', ip: '10.99.0.100' })).toThrow(/MAC/);
    expect(() => buildGarp({ mac: '02:99:00:00:00:11', ip: 'fd99::1' })).toThrow(/IPv4/);
    expect(parseArpFrame(Buffer.from(GARP_D1, 'hex').subarray(0, 41))).toBeNull();
    expect(parseArpFrame(Buffer.from(NA_D1, 'hex'))).toBeNull();
  });

  it('parseArpFrame never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        parseArpFrame(b);
      }),
    );
  });
});

describe('unsolicited neighbour advertisement', () => {
  it('matches the keepalived capture byte for byte (checksum 0x56c2)', () => {
    const f = buildUnsolicitedNa({ mac: '02:99:00:00:00:11', ip: 'fd99::100' });
    expect(f.toString('hex')).toBe(NA_D1);
    expect(f.length).toBe(86);
    expect(f.readUInt16BE(14 + 40 + 2)).toBe(0x56c2);
  });

  it('the checksum verifies over pseudo-header + message (sum of all = 0)', () => {
    const f = buildUnsolicitedNa({ mac: '02:99:00:00:00:11', ip: 'fd99:0:0::100', router: true });
    const icmp = f.subarray(54);
    expect(icmp[4]).toBe(0xa0); // router + override
    expect(icmpv6Checksum(ipv6Bytes('fd99::100'), ipv6Bytes('ff02::1'), icmp)).toBe(0);
  });

  it('unicast destination and no override', () => {
    const f = buildUnsolicitedNa({ mac: '02:99:00:00:00:11', ip: 'fd99::100', dst: 'fd99::12', override: false });
    expect(f.subarray(54)[4]).toBe(0);
    expect(f.subarray(38, 54).toString('hex')).toBe(ipv6Bytes('fd99::12').toString('hex'));
  });

  it('rejects an IPv4 VIP', () => {
    expect(() => buildUnsolicitedNa({ mac: '02:99:00:00:00:11', ip: '10.0.0.1' })).toThrow(/IPv6/);
  });
});

describe('internetChecksum', () => {
  it('is independent of how the bytes are split into parts', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(200), { maxLength: 5 }), (b, cuts) => {
        const points = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
        const parts: Uint8Array[] = [];
        let last = 0;
        for (const p of points) {
          parts.push(b.subarray(last, p));
          last = p;
        }
        parts.push(b.subarray(last));
        expect(internetChecksum(...parts)).toBe(internetChecksum(b));
      }),
    );
  });
});
