// AdvertWriter encodes an advert once per priority and only patches the IPv4 ID and header
// checksum afterwards: the bytes must be exactly what a fresh encode gives, round after round
// (IP ID wrap-around included), for every kind of instance; AH adverts are encoded each time.
import { describe, expect, it } from 'vitest';
import { AdvertWriter, encodeIpv4Vrrp, encodeVrrp, type InstanceConfig } from '../../../src/vrrp/index.js';

const base = {
  name: 'VI_1',
  vrid: 7,
  version: 3,
  family: 'inet',
  basePriority: 100,
  src: '10.0.0.1',
  destinations: ['224.0.0.18'],
  advertIntMs: 100,
  vipAddresses: ['10.0.0.100', '10.0.0.101'],
  auth: { type: 'none' },
  unicastPeers: [],
} as unknown as InstanceConfig;

const cases: [string, InstanceConfig][] = [
  ['v3 multicast', base],
  ['v2 PASS', { ...base, version: 2, advertIntMs: 1000, auth: { type: 'PASS', key: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) } }],
  ['v3 unicast, unicast_ttl', { ...base, unicastPeers: [{ address: '10.0.0.2' }, { address: '10.0.0.3' }], destinations: ['10.0.0.2', '10.0.0.3'], unicastTtl: 64 } as unknown as InstanceConfig],
  ['v2 AH', { ...base, version: 2, advertIntMs: 1000, auth: { type: 'AH', key: new Uint8Array(16).fill(9) } }],
  ['v3 IPv6', { ...base, family: 'inet6', src: 'fe80::1', destinations: ['ff02::12'], vipAddresses: ['fd99::100'] }],
];

describe('AdvertWriter template cache', () => {
  it.each(cases)('%s: every advert equals a fresh encode (66,000 rounds, priority changes, ID wrap)', (_name, cfg) => {
    const w = new AdvertWriter(cfg);
    const unicast = cfg.unicastPeers.length > 0;
    const ttl = unicast && cfg.unicastTtl !== undefined ? cfg.unicastTtl : 255;
    let id = 0;
    let mismatches = 0;
    for (let i = 0; i < 66_000; i++) {
      const prio = [100, 100, 0, 150, 100, 254][i % 6]!;
      const out = w.write(prio, i);
      if (cfg.family === 'inet') id = (id + 1) & 0xffff || 1;
      if (out.length !== cfg.destinations.length) mismatches++;
      out.forEach((p, k) => {
        const dst = cfg.destinations[k]!;
        const want =
          cfg.family === 'inet6'
            ? encodeVrrp(w.fields(prio), { family: 'inet6', src: cfg.src, dst })
            : encodeIpv4Vrrp(w.fields(prio), { src: cfg.src, dst, id, ttl, ...(cfg.auth.type === 'AH' ? { ah: { key: cfg.auth.key, seq: i, zeroTtl: unicast } } : {}) });
        if (Buffer.compare(Buffer.from(want), Buffer.from(p.bytes)) !== 0 || p.dst !== dst || p.ttl !== ttl) {
          if (mismatches++ === 0) expect({ i, dst: p.dst, ttl: p.ttl, bytes: Buffer.from(p.bytes).toString('hex') }).toEqual({ i, dst, ttl, bytes: Buffer.from(want).toString('hex') });
        }
      });
    }
    expect(mismatches).toBe(0);
  });

  it('hands out copies: changing returned bytes does not change the next advert', () => {
    const w = new AdvertWriter(base);
    const a = w.write(100)[0]!.bytes;
    a.fill(0);
    const b = w.write(100)[0]!.bytes;
    expect(b[0]).toBe(0x45);
    expect(b[5]).toBe(2); // IP ID 2
  });

  it('an advert that cannot be encoded still throws at write()', () => {
    const w = new AdvertWriter({ ...base, advertIntMs: 15 } as InstanceConfig); // not a 10 ms step
    expect(() => w.write(100)).toThrow(RangeError);
  });
});
