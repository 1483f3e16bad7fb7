// Scheduler slot tables, metadata comments, object names and limitations of the nftables engine.
import { describe, expect, it } from 'vitest';
import { canonicalOrder, reducedWeights, slotTable, wrrSequence } from '../../../src/dataplane/nftables/sched.js';
import { decodeDestMeta, decodeServiceMeta, encodeDestMeta, encodeServiceMeta } from '../../../src/dataplane/nftables/meta.js';
import { baseName, serviceBaseOf } from '../../../src/dataplane/nftables/names.js';
import { nftablesLimitations } from '../../../src/dataplane/nftables/limitations.js';
import { destKey, serviceKey, type DestSpec, type ServiceSpec } from '../../../src/dataplane/types.js';
import type { LbKind, Scheduler } from '../../../src/config/model.js';

const NOFLAGS = { persistent: false, onePacket: false, sched1: false, sched2: false, sched3: false };
function svc(p: Partial<ServiceSpec> = {}): ServiceSpec {
  const s: ServiceSpec = { key: '', family: 'inet', protocol: 'TCP', address: '10.0.0.1', port: 80, scheduler: 'rr', flags: { ...NOFLAGS }, timeoutS: 0, netmask: '255.255.255.255', ...p };
  if (s.fwmark) {
    delete s.protocol;
    delete s.address;
    delete s.port;
  }
  s.key = serviceKey(s);
  return s;
}
function dest(address: string, weight = 1, fwd: LbKind = 'NAT', port = 80): DestSpec {
  return { key: destKey({ address, port }), family: address.includes(':') ? 'inet6' : 'inet', address, port, fwd, weight, uThreshold: 0, lThreshold: 0 };
}
const O = { mhTableSize: 251, hashSeed: 0x1234, maxSlots: 1024 };

describe('slot tables', () => {
  it('reduces weights by their gcd and caps the total', () => {
    expect(reducedWeights([100, 200, 300], 1024)).toEqual([1, 2, 3]);
    expect(reducedWeights([0, 4, 6], 1024)).toEqual([0, 2, 3]);
    expect(reducedWeights([1, 1000, 3000], 100).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(100);
    expect(reducedWeights([1, 1000, 3000], 100)[0]).toBe(1); // a live dest keeps a slot
  });

  it('follows IPVS wrr order: 1:2:3 -> c b c a b c', () => {
    expect(wrrSequence([1, 2, 3], 1024)).toEqual([2, 1, 2, 0, 1, 2]);
    expect(wrrSequence([5, 5], 1024)).toEqual([0, 1]);
  });

  it('orders dests by address then port, whatever the insertion order', () => {
    const ds = [dest('10.0.0.10'), dest('10.0.0.9'), dest('10.0.0.9', 1, 'NAT', 8080), dest('10.0.0.100')];
    expect(canonicalOrder(ds).map((d) => d.key)).toEqual(['[10.0.0.9]:80', '[10.0.0.9]:8080', '[10.0.0.10]:80', '[10.0.0.100]:80']);
  });

  it('rr: one slot per live dest, numgen', () => {
    const t = slotTable(svc(), [dest('10.0.0.3'), dest('10.0.0.1'), dest('10.0.0.2', 0)], 'ip', O);
    expect(t.selector).toBe('numgen inc mod 2');
    expect(t.slots.map((d) => d.address)).toEqual(['10.0.0.1', '10.0.0.3']);
  });

  it('wrr: the IPVS sequence', () => {
    const t = slotTable(svc({ scheduler: 'wrr' }), [dest('10.0.0.1', 1), dest('10.0.0.2', 2), dest('10.0.0.3', 3)], 'ip', O);
    expect(t.selector).toBe('numgen inc mod 6');
    expect(t.slots.map((d) => d.address.slice(-1))).toEqual(['3', '2', '3', '1', '2', '3']);
  });

  it('sh/dh/mh hash the source, destination, or source and port, with the seed', () => {
    const ds = [dest('10.0.0.1', 2), dest('10.0.0.2', 1)];
    expect(slotTable(svc({ scheduler: 'sh' }), ds, 'ip', O).selector).toBe('jhash ip saddr mod 3 seed 0x00001234');
    expect(slotTable(svc({ scheduler: 'sh', flags: { ...NOFLAGS, sched2: true } }), ds, 'ip6', O).selector).toBe('jhash ip6 saddr . th sport mod 3 seed 0x00001234');
    expect(slotTable(svc({ scheduler: 'dh' }), ds, 'ip', O).selector).toBe('jhash ip daddr mod 3 seed 0x00001234');
    const mh = slotTable(svc({ scheduler: 'mh' }), ds, 'ip', O);
    expect(mh.selector).toBe('jhash ip saddr mod 251 seed 0x00001234');
    expect(mh.slots).toHaveLength(251);
  });

  it('fo: the live dest with the highest weight', () => {
    const t = slotTable(svc({ scheduler: 'fo' }), [dest('10.0.0.1', 5), dest('10.0.0.2', 9), dest('10.0.0.3', 9)], 'ip', O);
    expect(t.slots.map((d) => d.address)).toEqual(['10.0.0.2']);
  });

  it('no live dest: no slots', () => {
    expect(slotTable(svc({ scheduler: 'wrr' }), [dest('10.0.0.1', 0)], 'ip', O).slots).toEqual([]);
  });

  it('refuses schedulers it cannot build', () => {
    expect(() => slotTable(svc({ scheduler: 'wlc' }), [dest('10.0.0.1')], 'ip', O)).toThrow(/wlc/);
  });
});

describe('metadata comments', () => {
  it('round-trip service and dest settings', () => {
    const m = { scheduler: 'mh' as Scheduler, flags: { persistent: true, onePacket: false, sched1: true, sched2: true, sched3: false }, timeoutS: 300, netmask: '255.255.255.0', fullNatSource: '10.0.2.1' };
    const c = encodeServiceMeta(m);
    expect(c).toBe('lvsd1 s=mh f=P12 t=300 m=255.255.255.0 fn=10.0.2.1');
    expect(decodeServiceMeta(c)).toEqual(m);
    const plain = { scheduler: 'rr' as Scheduler, flags: { ...NOFLAGS }, timeoutS: 0, netmask: '128' };
    expect(decodeServiceMeta(encodeServiceMeta(plain))).toEqual(plain);
    expect(decodeDestMeta(encodeDestMeta({ weight: 2147483647, fwd: 'DR' }))).toEqual({ weight: 2147483647, fwd: 'DR' });
  });

  it('refuses comments that are not lvsd metadata', () => {
    expect(() => decodeServiceMeta('hello')).toThrow(/not an lvsd comment/);
    expect(() => decodeServiceMeta('lvsd1 s=nope f=- t=0 m=1')).toThrow(/scheduler/);
    expect(() => decodeDestMeta('lvsd1 w=x k=NAT')).toThrow(/w=/);
    expect(() => decodeDestMeta('lvsd1 w=1 k=FOO')).toThrow(/k=/);
    expect(() => encodeServiceMeta({ scheduler: 'rr', flags: NOFLAGS, timeoutS: 0, netmask: 'x'.repeat(200) })).toThrow(/128/);
  });
});

describe('names', () => {
  it('are plain identifiers, injective, and map back to their service', () => {
    expect(baseName(svc())).toBe('tcp4_10_0_0_1_80');
    expect(baseName(svc({ family: 'inet6', protocol: 'UDP', address: 'fd00::1', port: 53 }))).toBe('udp6_fd00__1_53');
    expect(baseName(svc({ family: 'inet6', address: '::ffff:1.2.3.4' }))).toBe('tcp6___ffff_1x2x3x4_80');
    expect(baseName(svc({ family: 'inet6', address: '::ffff:1:2:3:4' }))).not.toBe(baseName(svc({ family: 'inet6', address: '::ffff:1.2.3.4' })));
    expect(baseName(svc({ fwmark: 5 }))).toBe('fwm4_5');
    for (const n of ['tcp4_10_0_0_1_80', 'udp6_fd00__be_53', 'fwm6_7']) {
      expect(serviceBaseOf(n)).toBe(n);
      expect(serviceBaseOf(`${n}_p`)).toBe(n);
      expect(serviceBaseOf(`${n}_pa`)).toBe(n);
      expect(serviceBaseOf(`${n}_r`)).toBe(n);
    }
    for (const g of ['svc4', 'be4tcp', 'dm6', 'prerouting', 'fl4', 'tcp4_x']) expect(serviceBaseOf(g)).toBeUndefined();
  });
});

describe('nftablesLimitations', () => {
  const ok = [dest('10.0.0.2'), dest('10.0.0.3')];
  it('accepts what the engine can do', () => {
    for (const s of ['rr', 'wrr', 'sh', 'dh', 'mh', 'fo'] as Scheduler[]) expect(nftablesLimitations(svc({ scheduler: s }), ok)).toEqual([]);
    expect(nftablesLimitations(svc({ flags: { ...NOFLAGS, persistent: true }, timeoutS: 60, netmask: '255.255.0.0' }), ok)).toEqual([]);
    expect(nftablesLimitations(svc({ fullNatSource: '10.0.0.254' }), ok)).toEqual([]);
    expect(nftablesLimitations(svc(), [dest('10.0.0.2', 1, 'DR')], { drDevice: 'eth0' })).toEqual([]);
    expect(nftablesLimitations(svc({ protocol: 'SCTP' }), ok)).toEqual([]);
  });

  it('explains connection-count schedulers', () => {
    for (const s of ['lc', 'wlc', 'sed', 'nq', 'lblc', 'lblcr', 'ovf', 'twos'] as Scheduler[]) {
      const m = nftablesLimitations(svc({ scheduler: s }), ok);
      expect(m).toHaveLength(1);
      expect(m[0]).toMatch(new RegExp(`^scheduler ${s} .*needs connection counts, which nftables does not keep; use rr, wrr, sh, dh, mh, fo, or the IPVS engine$`));
    }
  });

  it('explains TUN, thresholds, persistence engines, mixes and the rest', () => {
    const one = (s: ServiceSpec, ds: DestSpec[], ctx = {}): string => nftablesLimitations(s, ds, ctx).join('\n');
    expect(one(svc(), [dest('10.0.0.2', 1, 'TUN')])).toMatch(/TUN forwarding .* not available with nftables/);
    expect(one(svc(), [{ ...dest('10.0.0.2'), uThreshold: 10 }])).toMatch(/thresholds .* need connection counts/);
    expect(one(svc({ peName: 'sip' }), ok)).toMatch(/persistence engine "sip"/);
    expect(one(svc(), [dest('10.0.0.2'), dest('10.0.0.3', 1, 'DR')])).toMatch(/same forwarding method/);
    expect(one(svc({ fwmark: 3 }), [dest('10.0.0.2', 1, 'DR', 0)])).toMatch(/DR for a fwmark virtual server/);
    expect(one(svc({ fullNatSource: '10.0.0.254' }), [dest('10.0.0.2', 1, 'DR')])).toMatch(/full NAT .* needs NAT forwarding/);
    expect(one(svc(), [dest('10.0.0.2', 1, 'DR')], { drDevice: null })).toMatch(/DR needs the interface/);
    expect(one(svc({ flags: { ...NOFLAGS, onePacket: true } }), ok)).toMatch(/one-packet scheduling/);
    expect(one(svc({ flags: { ...NOFLAGS, onePacket: true } }), [dest('10.0.0.2', 1, 'DR')])).toBe('');
    expect(one(svc(), [dest('fd00::2')])).toMatch(/not of the virtual server's address family/);
    expect(one(svc({ fullNatSource: 'fd00::1' }), ok)).toMatch(/full-NAT source fd00::1/);
    expect(one(svc({ port: 0 }), ok)).toMatch(/port-0/);
    expect(one(svc({ flags: { ...NOFLAGS, persistent: true }, timeoutS: 60, netmask: 'abc' }), ok)).toMatch(/persistence_granularity/);
    expect(one(svc({ fwmark: 3 }), [dest('10.0.0.2', 1, 'NAT', 0), dest('10.0.0.3', 1, 'NAT', 80)])).toMatch(/all have port 0/);
    const v6 = svc({ family: 'inet6', address: 'fd00::1', flags: { ...NOFLAGS, persistent: true }, timeoutS: 60, netmask: '64' });
    expect(one(v6, [dest('fd00::2', 1, 'NAT', 8080)])).toMatch(/IPv6 persistence with NAT cannot change the port/);
    expect(one(v6, [dest('fd00::2', 1, 'NAT', 80)])).toBe('');
  });
});
