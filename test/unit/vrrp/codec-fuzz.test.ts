// Hostile bytes never make the decoders throw; valid fields survive encode → decode.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeVrrp, encodeVrrp } from '../../../src/vrrp/codec.js';
import { ipv6Bytes } from '../../../src/net/sockaddr.js';
import { decodeIpv4Vrrp, encodeIpv4Vrrp } from '../../../src/vrrp/ipv4.js';
import { DROP_REASONS } from '../../../src/vrrp/packet.js';
import { rxFromIpv4, rxFromIpv6 } from '../../../src/vrrp/receive.js';
import { VrrpNode } from '../../../src/vrrp/node.js';
import { instance, nodeConfig, readPcap, stripEthernet } from './helpers.js';

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
const ipv6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':'));

const captured = [
  ...readPcap('vrrp2-authah.pcap'),
  ...readPcap('vrrp3-ipv4.pcap'),
  ...readPcap('vrrp2-authpass.pcap'),
]
  .map(stripEthernet)
  .filter((l) => l.ethertype === 0x0800 && (l.payload[9] === 112 || l.payload[9] === 51))
  .map((l) => l.payload);

function isTyped(r: { ok: boolean; reason?: string }): boolean {
  return r.ok || (DROP_REASONS as readonly string[]).includes(r.reason!);
}

describe('decoders never throw', () => {
  it('random bytes as an IPv4 datagram', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
        expect(isTyped(decodeIpv4Vrrp(b))).toBe(true);
        expect(isTyped(rxFromIpv4(b))).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('random bytes behind a plausible IPv4/VRRP header', () => {
    const hdr = fc.record({
      ihl: fc.integer({ min: 0, max: 15 }),
      proto: fc.constantFrom(112, 51, 6),
      body: fc.uint8Array({ maxLength: 100 }),
      lenDelta: fc.integer({ min: -3, max: 3 }),
    });
    fc.assert(
      fc.property(hdr, ({ ihl, proto, body, lenDelta }) => {
        const b = new Uint8Array(20 + body.length);
        b[0] = 0x40 | ihl;
        const total = Math.max(0, b.length + lenDelta);
        b[2] = total >> 8;
        b[3] = total & 0xff;
        b[8] = 255;
        b[9] = proto;
        b.set(body, 20);
        if (proto === 51 && body.length) b[20] = 112;
        expect(isTyped(decodeIpv4Vrrp(b))).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('captured packets with random bytes flipped', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...captured),
        fc.array(fc.tuple(fc.nat(200), fc.nat(255)), { maxLength: 4 }),
        fc.integer({ min: -8, max: 8 }),
        (p, flips, cut) => {
          const b = Uint8Array.from(p);
          for (const [i, v] of flips) if (i < b.length) b[i] = v;
          const c = cut < 0 ? b.subarray(0, b.length + cut) : b;
          expect(isTyped(decodeIpv4Vrrp(c))).toBe(true);
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('random bytes as an IPv6 VRRP message, with random metadata', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.string(), fc.oneof(ipv6, fc.string()), fc.integer(), (b, src, dst, hl) => {
        expect(isTyped(rxFromIpv6(b, { src, dst, hopLimit: hl }))).toBe(true);
        expect(isTyped(decodeVrrp(b, { family: 'inet6', src: 'fe80::1', dst: 'ff02::12' }))).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('a whole node fed random datagrams never throws and only counts typed drops', () => {
    const node = new VrrpNode(
      nodeConfig([instance({ auth: { type: 'AH', password: 'labpass1' } }), instance({ name: 'VI_2', vrid: 52, version: 3 })]),
      () => ({ primaryAddress: '10.99.0.12' }),
    );
    node.start(0);
    fc.assert(
      fc.property(fc.constantFrom(...captured), fc.array(fc.tuple(fc.nat(80), fc.nat(255)), { maxLength: 3 }), (p, flips) => {
        const b = Uint8Array.from(p);
        for (const [i, v] of flips) if (i < b.length) b[i] = v;
        node.receiveIpv4('eth0', b, 1);
      }),
      { numRuns: 5_000 },
    );
    const total = Object.values(node.drops).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(0);
  });
});

describe('round trip', () => {
  const fields = (family: 'inet' | 'inet6') =>
    fc.record({
      version: family === 'inet' ? fc.constantFrom(2 as const, 3 as const) : fc.constant(3 as const),
      vrid: fc.integer({ min: 1, max: 255 }),
      priority: fc.integer({ min: 0, max: 255 }),
      secs: fc.integer({ min: 1, max: 255 }),
      cs: fc.integer({ min: 1, max: 4095 }),
      addresses: fc.array(family === 'inet' ? ipv4 : ipv6, { maxLength: 20 }),
      authType: fc.integer({ min: 0, max: 2 }),
      authData: fc.uint8Array({ minLength: 8, maxLength: 8 }),
    });

  it('IPv4 v2/v3 datagrams', () => {
    fc.assert(
      fc.property(fields('inet'), ipv4, ipv4, fc.nat(0xffff), (f, src, dst, id) => {
        const a = {
          ...f,
          advertIntMs: f.version === 2 ? f.secs * 1000 : f.cs * 10,
          ...(f.version === 2 ? {} : { authType: 0, authData: new Uint8Array(0) }),
        };
        const r = decodeIpv4Vrrp(encodeIpv4Vrrp(a, { src, dst, id }));
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.value.vrrp).toMatchObject({ version: a.version, vrid: a.vrid, priority: a.priority, advertIntMs: a.advertIntMs });
        expect(r.value.vrrp.addresses).toEqual(a.addresses.map((x) => x.split('.').map(Number).join('.')));
        if (a.version === 2) expect(Array.from(r.value.vrrp.authData)).toEqual(Array.from(a.authData));
      }),
      { numRuns: 3_000 },
    );
  });

  it('IPv6 v3 messages (checksum over the IPv6 pseudo-header)', () => {
    fc.assert(
      fc.property(fields('inet6'), ipv6, ipv6, (f, src, dst) => {
        const ctx = { family: 'inet6' as const, src, dst };
        const msg = encodeVrrp({ ...f, advertIntMs: f.cs * 10, authType: 0, authData: undefined }, ctx);
        const r = decodeVrrp(msg, ctx);
        expect(r.ok).toBe(true);
        // the same bytes framed with another destination must fail the checksum; in ones'-
        // complement arithmetic 0x0000 and 0xffff are both zero, so pick a destination whose
        // pseudo-header sum really differs (a random address may sum like ff02::12)
        const other = ['ff02::12', 'ff02::13', 'ff02::14'].find((o) => onesSum(o) !== onesSum(dst))!;
        const r2 = decodeVrrp(msg, { ...ctx, dst: other });
        expect(r2.ok ? 'ok' : r2.reason).toBe('bad-checksum');
      }),
      { numRuns: 3_000 },
    );
  });

  it('encode refuses what VRRP cannot carry', () => {
    const ctx = { family: 'inet' as const, src: '10.0.0.1', dst: '224.0.0.18' };
    const base = { version: 2 as const, vrid: 1, priority: 100, advertIntMs: 1000, addresses: ['10.0.0.9'] };
    expect(() => encodeVrrp({ ...base, vrid: 0 }, ctx)).toThrow(RangeError);
    expect(() => encodeVrrp({ ...base, priority: 256 }, ctx)).toThrow(RangeError);
    expect(() => encodeVrrp({ ...base, advertIntMs: 1500 }, ctx)).toThrow(/whole seconds/);
    expect(() => encodeVrrp({ ...base, version: 3, advertIntMs: 5 }, ctx)).toThrow(/10 ms steps/);
    expect(() => encodeVrrp({ ...base, addresses: ['fd00::1'] }, ctx)).toThrow(/not inet/);
    expect(() => encodeVrrp(base, { ...ctx, family: 'inet6', src: 'fe80::1', dst: 'ff02::12' })).toThrow(/IPv4 only/);
  });
});

/** ones'-complement sum of an IPv6 address's 16-bit words, normalised (0xffff -> 0) */
function onesSum(addr: string): number {
  const b = ipv6Bytes(addr);
  let sum = 0;
  for (let i = 0; i < 16; i += 2) sum += b.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff ? 0 : sum;
}
