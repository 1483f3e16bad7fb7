// The nftables engine with DR (MAC rewrite at netdev ingress), real traffic in a namespace lab.
// Real servers hold the VIP on lo with arp_ignore=1/arp_announce=2 and answer the client
// directly; the director resolves their MACs itself.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isRoot } from '../../helpers/netns.js';
import { diffTables } from '../../../src/dataplane/diff.js';
import type { NftablesEngine } from '../../../src/dataplane/nftables/engine.js';
import { counts, dest, names, NftLab, NOFLAGS, program, RS, RS6, svc, table, VIP6 } from './lab.js';

describe.skipIf(!isRoot)('nftables engine: DR with real traffic (root)', () => {
  let L: NftLab;
  let e: NftablesEngine;
  const warnings: string[] = [];

  beforeAll(async () => {
    L = await NftLab.create('dr', { sources: 30, ipv6: true });
  }, 60_000);
  afterAll(async () => {
    await e?.close();
    await L?.destroy();
  });
  afterEach(async () => {
    await e?.destroy();
    await e?.close();
  });
  const engine = (): NftablesEngine => (e = L.engine({ onWarning: (w) => warnings.push(w) }));

  it('rr rotates exactly, real servers answer the client directly', async () => {
    engine();
    await program(e, table([svc({ scheduler: 'rr' }), RS.map((a) => dest(a, 'DR'))]));
    const rs = await L.http({ count: 30 });
    expect(names(rs)).toEqual(Array.from({ length: 30 }, (_, i) => `rs${(i % 3) + 1}`));
    expect(rs[0]!.body).toMatch(/^rs1 (::ffff:)?10\.99\.0\.10$/); // DR: the real server sees the client
    // the director forwarded at ingress: no connection of these flows ever reached its IP stack
    const ct = await L.lab.exec('dir', 'cat', '/proc/net/nf_conntrack');
    expect(ct).not.toMatch(/dst=10\.99\.0\.200 .*dport=80/);
  });

  it('forwards only frames addressed to the director: flooded frames for another MAC are left alone', async () => {
    engine();
    await program(e, table([svc({ scheduler: 'rr' }), RS.map((a) => dest(a, 'DR'))]));
    expect(names(await L.http({ count: 3 }))).toEqual(['rs1', 'rs2', 'rs3']);
    // the client now believes the VIP is at a MAC nobody has (the dead old master during a
    // failover): the bridge floods those frames to every port, the director included
    await L.lab.exec('client', 'ip', 'neigh', 'replace', '10.99.0.200', 'lladdr', '02:99:00:00:00:99', 'dev', 'eth0', 'nud', 'permanent');
    try {
      const rs = await L.http({ count: 3, timeoutMs: 300 });
      for (const r of rs) expect(r.err).toBeDefined();
    } finally {
      await L.lab.exec('client', 'ip', 'neigh', 'del', '10.99.0.200', 'dev', 'eth0');
    }
  });

  it('IPv6 DR rotates too (flows keyed by a hash of the 4-tuple)', async () => {
    engine();
    await program(e, table([svc({ scheduler: 'rr', family: 'inet6', address: VIP6 }), RS6.map((a) => dest(a, 'DR'))]));
    const rs = await L.http({ count: 9, host: VIP6 });
    expect(names(rs)).toEqual(['rs1', 'rs2', 'rs3', 'rs1', 'rs2', 'rs3', 'rs1', 'rs2', 'rs3']);
    expect(rs[0]!.body).toBe('rs1 fd99::10');
  });

  it('wrr splits 600 requests 1:2:3 (within 5 %)', async () => {
    engine();
    await program(e, table([svc({ scheduler: 'wrr' }), [dest(RS[0]!, 'DR', 1), dest(RS[1]!, 'DR', 2), dest(RS[2]!, 'DR', 3)]]));
    const c = counts(names(await L.http({ count: 600 })));
    expect(Math.abs(c.rs1! - 100)).toBeLessThanOrEqual(5);
    expect(Math.abs(c.rs2! - 200)).toBeLessThanOrEqual(10);
    expect(Math.abs(c.rs3! - 300)).toBeLessThanOrEqual(15);
  });

  it('sh keeps every client address on one real server', async () => {
    engine();
    await program(e, table([svc({ scheduler: 'sh' }), RS.map((a) => dest(a, 'DR'))]));
    const rs = await L.http({ count: 90, sources: L.sources });
    const bySrc = new Map<string, Set<string>>();
    for (const r of rs) {
      expect(r.err).toBeUndefined();
      bySrc.set(r.src!, (bySrc.get(r.src!) ?? new Set()).add(r.body!.split(' ')[0]!));
    }
    for (const set of bySrc.values()) expect(set.size).toBe(1);
    expect(new Set([...bySrc.values()].map((x) => [...x][0])).size).toBe(3);
  });

  it('a removed real server gets no new flows, under load and without client errors; restored, it is back', async () => {
    engine();
    const s = svc({ scheduler: 'rr' });
    const all = RS.map((a) => dest(a, 'DR'));
    await program(e, table([s, all]));
    const load = L.http({ count: 300, delayMs: 5 });
    await new Promise((r) => setTimeout(r, 500));
    expect((await e.apply([{ op: 'del-dest', svc: s, dest: all[0]! }])).failed).toEqual([]);
    const got = names(await load);
    expect(got.filter((x) => x.startsWith('ERR'))).toEqual([]);
    expect(got.slice(-100)).not.toContain('rs1');
    expect((await e.apply([{ op: 'add-dest', svc: s, dest: all[0]! }])).failed).toEqual([]);
    expect(counts(names(await L.http({ count: 30 })))).toEqual({ rs1: 10, rs2: 10, rs3: 10 });
  });

  it('persistence keeps a client on its server', async () => {
    engine();
    const s = svc({ scheduler: 'rr', flags: { ...NOFLAGS, persistent: true }, timeoutS: 30, netmask: '255.255.255.255' });
    await program(e, table([s, RS.map((a) => dest(a, 'DR'))]));
    for (const src of L.sources.slice(0, 4)) {
      expect(new Set(names(await L.http({ count: 6, sources: [src] }))).size).toBe(1);
    }
    expect(new Set(names(await L.http({ count: 6, sources: L.sources.slice(4, 10) }))).size).toBeGreaterThan(1);
  });

  it('observe() round-trips, and a fresh engine learns the MACs back from the kernel', async () => {
    engine();
    const want = table(
      [svc({ scheduler: 'mh', flags: { ...NOFLAGS, sched2: true } }), [dest(RS[0]!, 'DR', 2), dest(RS[1]!, 'DR', 0), dest(RS[2]!, 'DR', 1)]],
      [svc({ scheduler: 'rr', port: 81, flags: { ...NOFLAGS, onePacket: true } }), RS.map((a) => dest(a, 'DR'))],
    );
    await program(e, want);
    expect(await e.observe()).toEqual(want);
    const fresh = L.engine({ fullCheckMs: 0 });
    try {
      expect(await fresh.observe()).toEqual(want);
      expect(fresh.lastDrift).toEqual([]);
    } finally {
      await fresh.close();
    }
  });

  it('a real server without an ARP answer gets no traffic until it answers', async () => {
    engine();
    const s = svc({ scheduler: 'rr' });
    const ghost = dest('10.98.0.99', 'DR'); // nobody has this address
    const before = warnings.length;
    await e.apply(diffTables(await e.observe(), table([s, [...RS.map((a) => dest(a, 'DR')), ghost]])));
    expect(warnings.slice(before).join('\n')).toMatch(/cannot resolve the MAC address of 10\.98\.0\.99/);
    expect(counts(names(await L.http({ count: 30 })))).toEqual({ rs1: 10, rs2: 10, rs3: 10 });
    // it stays configured (weight and all), just without a slot
    expect((await e.observe()).get(s.key)!.dests.get(ghost.key)).toEqual(ghost);
  });
});
