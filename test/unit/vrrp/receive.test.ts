// Strict receive validation: one typed reason and one counter per reason.
import { describe, expect, it } from 'vitest';
import type { VrrpInstance } from '../../../src/config/model.js';
import { VrrpFsm } from '../../../src/vrrp/fsm.js';
import { instanceConfigFromModel } from '../../../src/vrrp/instance-config.js';
import { VrrpNode } from '../../../src/vrrp/node.js';
import { DROP_REASONS, type DropReason } from '../../../src/vrrp/packet.js';
import { advertBytes, instance, nodeConfig, rx, vip, type AdvertOpts } from './helpers.js';

function backup(o: Partial<VrrpInstance> = {}): VrrpFsm {
  const f = new VrrpFsm(instanceConfigFromModel(instance(o), { primaryAddress: '10.99.0.12' }));
  f.handle({ type: 'startup' }, 0);
  return f;
}

const cases: { name: string; cfg?: Partial<VrrpInstance>; pkt: AdvertOpts; reason: DropReason }[] = [
  { name: 'TTL 254 on a multicast instance', pkt: { ttl: 254 }, reason: 'bad-ttl' },
  { name: 'VRRPv3 advert on a v2 instance', pkt: { version: 3 }, reason: 'version-mismatch' },
  { name: 'VRRPv2 advert on a v3 instance', cfg: { version: 3 }, pkt: { version: 2 }, reason: 'version-mismatch' },
  { name: 'auth type 3', pkt: { authType: 3 }, reason: 'auth-type-invalid' },
  { name: 'PASS advert on a no-auth instance', pkt: { password: 'labpass1' }, reason: 'auth-type-mismatch' },
  { name: 'no-auth advert on a PASS instance', cfg: { auth: { type: 'PASS', password: 'labpass1' } }, pkt: {}, reason: 'auth-type-mismatch' },
  { name: 'wrong password', cfg: { auth: { type: 'PASS', password: 'labpass1' } }, pkt: { password: 'labpass2' }, reason: 'auth-failure' },
  { name: 'AH with the wrong key', cfg: { auth: { type: 'AH', password: 'labpass1' } }, pkt: { ah: { seq: 5, password: 'nope' } }, reason: 'auth-failure' },
  { name: 'AH with an SPI that is not the source', cfg: { auth: { type: 'AH', password: 'labpass1' } }, pkt: { ah: { seq: 5, spi: 7 } }, reason: 'auth-failure' },
  { name: 'auth type 2 without an AH header', cfg: { auth: { type: 'AH', password: 'labpass1' } }, pkt: { authType: 2 }, reason: 'auth-failure' },
  { name: 'v2 advert interval 2 s vs our 1 s', pkt: { advertIntMs: 2000 }, reason: 'interval-mismatch' },
  { name: 'two addresses, we have one', pkt: { addresses: ['10.99.0.100', '10.99.0.101'] }, reason: 'address-count-mismatch' },
  { name: 'other VIP', pkt: { addresses: ['10.99.0.101'] }, reason: 'address-list-mismatch' },
  {
    name: 'source not a unicast peer (check_unicast_src)',
    cfg: { unicastPeers: [{ address: '10.99.0.13', loc: { file: '', line: 0, col: 0 } }], checkUnicastSrc: true },
    pkt: { dst: '10.99.0.12' },
    reason: 'unicast-src-not-peer',
  },
  {
    name: 'unicast peer TTL below min_ttl',
    cfg: { unicastPeers: [{ address: '10.99.0.11', minTtl: 250, loc: { file: '', line: 0, col: 0 } }] },
    pkt: { dst: '10.99.0.12', ttl: 249 },
    reason: 'bad-ttl',
  },
];

describe('per-instance checks (keepalived vrrp_in_chk)', () => {
  it.each(cases)('$name → $reason', ({ cfg, pkt, reason }) => {
    const f = backup(cfg);
    const before = f.deadlines.masterDown;
    const r = f.handle({ type: 'advert', packet: rx({ priority: 200, ...pkt }) }, 100);
    expect(r.drop?.reason).toBe(reason);
    expect(r.actions).toEqual([]); // a dropped advert never resets the timer
    expect(f.deadlines.masterDown).toBe(before);
    expect(f.drops[reason]).toBe(1);
    const others = Object.entries(f.drops).filter(([k, v]) => k !== reason && v !== 0);
    expect(others).toEqual([]);
  });

  it('the same adverts pass on a matching instance (the negative cases are not vacuous)', () => {
    const ok: [Partial<VrrpInstance>, AdvertOpts][] = [
      [{}, {}],
      [{ auth: { type: 'PASS', password: 'labpass1' } }, { password: 'labpass1' }],
      [{ auth: { type: 'AH', password: 'labpass1' } }, { ah: { seq: 5 } }],
      [{ version: 3 }, { version: 3, advertIntMs: 2000 }], // v3 does not drop other intervals
      [{ unicastPeers: [{ address: '10.99.0.11', minTtl: 250, loc: { file: '', line: 0, col: 0 } }] }, { dst: '10.99.0.12', ttl: 250 }],
      [{ unicastPeers: [{ address: '10.99.0.11', loc: { file: '', line: 0, col: 0 } }] }, { dst: '10.99.0.12', ttl: 64 }],
    ];
    for (const [cfg, pkt] of ok) {
      const f = backup(cfg);
      const r = f.handle({ type: 'advert', packet: rx({ priority: 200, ...pkt }) }, 100);
      expect(r.drop, JSON.stringify(cfg)).toBeUndefined();
      expect(f.stats.advertsReceived).toBe(1);
    }
  });

  it('AH anti-replay: sequence numbers must go up', () => {
    const f = backup({ auth: { type: 'AH', password: 'labpass1' } });
    expect(f.handle({ type: 'advert', packet: rx({ priority: 200, ah: { seq: 10 } }) }, 100).drop).toBeUndefined();
    expect(f.handle({ type: 'advert', packet: rx({ priority: 200, ah: { seq: 10 } }) }, 200).drop?.reason).toBe('ah-replay');
    expect(f.handle({ type: 'advert', packet: rx({ priority: 200, ah: { seq: 9 } }) }, 300).drop?.reason).toBe('ah-replay');
    expect(f.handle({ type: 'advert', packet: rx({ priority: 200, ah: { seq: 11 } }) }, 400).drop).toBeUndefined();
    expect(f.drops['ah-replay']).toBe(2);
  });

  it('a rejected AH advert does not move the sequence counter', () => {
    const f = backup({ auth: { type: 'AH', password: 'labpass1' } });
    f.handle({ type: 'advert', packet: rx({ priority: 200, ah: { seq: 10 }, advertIntMs: 2000 }) }, 100);
    expect(f.ah.seq).toBe(0);
  });

  it('skip_check_adv_addr: addresses are only checked when the advert comes from a new master', () => {
    const f = backup({ skipCheckAdvAddr: true });
    expect(f.handle({ type: 'advert', packet: rx({ priority: 200 }) }, 100).drop).toBeUndefined();
    // same master, different list: not checked (only the count is)
    expect(f.handle({ type: 'advert', packet: rx({ priority: 200, addresses: ['10.99.0.101'] }) }, 200).drop).toBeUndefined();
    // another router: checked
    const r = f.handle({ type: 'advert', packet: rx({ priority: 200, addresses: ['10.99.0.101'], src: '10.99.0.13' }) }, 300);
    expect(r.drop?.reason).toBe('address-list-mismatch');
    // without the option every advert is checked
    const g = backup();
    g.handle({ type: 'advert', packet: rx({ priority: 200 }) }, 100);
    expect(g.handle({ type: 'advert', packet: rx({ priority: 200, addresses: ['10.99.0.101'] }) }, 200).drop?.reason).toBe('address-list-mismatch');
  });

  it('VIP list compared as a set (keepalived: each configured VIP must appear)', () => {
    const f = backup({ virtualIps: [vip('10.99.0.100'), vip('10.99.0.101')] });
    expect(f.handle({ type: 'advert', packet: rx({ priority: 200, addresses: ['10.99.0.101', '10.99.0.100'] }) }, 100).drop).toBeUndefined();
  });
});

describe('node-level drops (before an instance is found)', () => {
  const node = new VrrpNode(nodeConfig([instance()]), () => ({ primaryAddress: '10.99.0.12' }));
  node.start(0);
  const good = advertBytes({ priority: 200 });
  const mutate = (fn: (b: Uint8Array) => void): Uint8Array => {
    const b = Uint8Array.from(good);
    fn(b);
    return b;
  };
  const frames: [string, Uint8Array, DropReason][] = [
    ['5 bytes', good.subarray(0, 5), 'too-short'],
    ['IPv6 version nibble', mutate((b) => (b[0] = 0x65)), 'bad-ip-header'],
    ['total length larger than the datagram', mutate((b) => (b[3] = b[3]! + 4)), 'bad-ip-header'],
    ['TCP', mutate((b) => (b[9] = 6)), 'not-vrrp'],
    ['VRRP version 4', mutate((b) => (b[20] = 0x41)), 'bad-version'],
    ['VRRP type 2', mutate((b) => (b[20] = 0x22)), 'bad-type'],
    ['count_ip 2 with one address', mutate((b) => (b[23] = 2)), 'length-mismatch'],
    ['flipped checksum', mutate((b) => (b[27] = b[27]! ^ 0xff)), 'bad-checksum'],
    ['flipped priority', mutate((b) => (b[22] = 1)), 'bad-checksum'],
    ['VRID 7 (no instance)', advertBytes({ vrid: 7 }), 'unknown-vrid'],
  ];
  it.each(frames)('%s → %s', (_n, bytes, reason) => {
    const before = node.drops[reason];
    const r = node.receiveIpv4('eth0', bytes, 10);
    expect(r.drop?.reason).toBe(reason);
    expect(r.actions).toEqual([]);
    expect(node.drops[reason]).toBe(before + 1);
  });

  it('a VRID known on another interface is unknown here', () => {
    expect(node.receiveIpv4('eth1', good, 10).drop?.reason).toBe('unknown-vrid');
  });

  it('AH header with a wrong payload length', () => {
    const ah = advertBytes({ ah: { seq: 1 } });
    ah[21] = 5;
    expect(node.receiveIpv4('eth0', ah, 10).drop?.reason).toBe('bad-ah-header');
  });

  it('every drop reason has a counter', () => {
    expect(Object.keys(node.drops).sort()).toEqual([...DROP_REASONS].sort());
  });
});
