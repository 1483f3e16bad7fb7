// The nftables engine with NAT, real traffic in a namespace lab: schedulers, removal/restore under
// load, persistence, atomic batches, observe() round trips, other tables left alone, IPv6.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isRoot } from '../../helpers/netns.js';
import type { NftablesEngine } from '../../../src/dataplane/nftables/engine.js';
import { shardOf } from '../../../src/dataplane/nftables/ruleset.js';
import { baseName } from '../../../src/dataplane/nftables/names.js';
import type { Op } from '../../../src/dataplane/types.js';
import { counts, dest, names, NftLab, NOFLAGS, program, RS, RS6, svc, table, VIP6 } from './lab.js';

describe.skipIf(!isRoot)('nftables engine: NAT with real traffic (root)', () => {
  let L: NftLab;
  let e: NftablesEngine;
  const warnings: string[] = [];
  const OTHER = 'table inet othertool {\n\tchain pre {\n\t\ttype filter hook prerouting priority filter; policy accept;\n\t\tip saddr 192.0.2.1 drop\n\t}\n}\n';

  beforeAll(async () => {
    L = await NftLab.create('nat', { ipv6: true, sources: 40 });
    // a table some other tool owns: the engine must never touch it
    await L.lab.exec('dir', 'sh', '-ec', `nft -f - <<'EOF'\n${OTHER}\nEOF`);
    await L.nft('add', 'table', 'ip', 'lvsdt'); // same name, other family: not lvsd's either
  }, 60_000);
  afterAll(async () => {
    await e?.close();
    await L?.destroy();
  });
  afterEach(async () => {
    await e?.destroy();
    await e?.close();
  });
  const engine = (o: Parameters<NftLab['engine']>[0] = {}): NftablesEngine => (e = L.engine({ onWarning: (w) => warnings.push(w), ...o }));

  it('rr rotates exactly: 30 requests -> rs1 rs2 rs3 in strict order', async () => {
    engine();
    const s = svc({ scheduler: 'rr' });
    await program(e, table([s, RS.map((a) => dest(a, 'NAT'))]));
    const got = names(await L.http({ count: 30 }));
    expect(got).toEqual(Array.from({ length: 30 }, (_, i) => `rs${(i % 3) + 1}`));
    // NAT: the real server sees the client's own address
    expect((await L.http({ count: 1 }))[0]!.body).toMatch(/ (::ffff:)?10\.99\.0\.10$/);
  });

  it('wrr splits 600 requests 1:2:3 (within 5 %)', async () => {
    engine();
    const s = svc({ scheduler: 'wrr' });
    await program(e, table([s, [dest(RS[0]!, 'NAT', 1), dest(RS[1]!, 'NAT', 2), dest(RS[2]!, 'NAT', 3)]]));
    const c = counts(names(await L.http({ count: 600 })));
    expect(Math.abs(c.rs1! - 100)).toBeLessThanOrEqual(5);
    expect(Math.abs(c.rs2! - 200)).toBeLessThanOrEqual(10);
    expect(Math.abs(c.rs3! - 300)).toBeLessThanOrEqual(15);
  });

  it('sh keeps every client address on one real server', async () => {
    engine();
    const s = svc({ scheduler: 'sh' });
    await program(e, table([s, RS.map((a) => dest(a, 'NAT'))]));
    const rs = await L.http({ count: 120, sources: L.sources });
    const bySrc = new Map<string, Set<string>>();
    for (const r of rs) {
      expect(r.err).toBeUndefined();
      const set = bySrc.get(r.src!) ?? new Set();
      set.add(r.body!.split(' ')[0]!);
      bySrc.set(r.src!, set);
    }
    expect(bySrc.size).toBe(40);
    for (const set of bySrc.values()) expect(set.size).toBe(1);
    // and the clients spread over all three
    expect(new Set([...bySrc.values()].map((x) => [...x][0])).size).toBe(3);
  });

  it('mh keeps clients in place and moves only the removed server`s clients', async () => {
    engine();
    const s = svc({ scheduler: 'mh' });
    const all = RS.map((a) => dest(a, 'NAT'));
    await program(e, table([s, all]));
    const before = new Map((await L.http({ count: 80, sources: L.sources })).map((r) => [r.src!, r.body!.split(' ')[0]!]));
    const again = new Map((await L.http({ count: 40, sources: L.sources })).map((r) => [r.src!, r.body!.split(' ')[0]!]));
    expect(again).toEqual(before);
    await program(e, table([s, all.slice(0, 2)])); // rs3 fails its health check
    const after = new Map((await L.http({ count: 40, sources: L.sources })).map((r) => [r.src!, r.body!.split(' ')[0]!]));
    let moved = 0;
    let wrongly = 0;
    for (const [src, was] of before) {
      const now = after.get(src)!;
      expect(now).not.toBe('rs3');
      if (now !== was) moved++;
      if (was !== 'rs3' && now !== was) wrongly++;
    }
    const onRs3 = [...before.values()].filter((x) => x === 'rs3').length;
    expect(moved).toBe(onRs3 + wrongly);
    expect(onRs3).toBeGreaterThan(0);
    // Maglev: a removal reshuffles about 1/N of the clients; others move only exceptionally
    expect(wrongly).toBeLessThanOrEqual(2);
  });

  it('a removed real server gets no new flows, under load and without client errors; restored, it is back', async () => {
    engine();
    const s = svc({ scheduler: 'rr' });
    const all = RS.map((a) => dest(a, 'NAT'));
    await program(e, table([s, all]));
    const load = L.http({ count: 300, delayMs: 5 });
    await new Promise((r) => setTimeout(r, 500));
    expect((await e.apply([{ op: 'del-dest', svc: s, dest: all[1]! }])).failed).toEqual([]);
    const got = names(await load);
    expect(got.filter((x) => x.startsWith('ERR'))).toEqual([]);
    const tail = got.slice(-100);
    expect(tail).not.toContain('rs2');
    expect(new Set(tail)).toEqual(new Set(['rs1', 'rs3']));
    expect((await e.apply([{ op: 'add-dest', svc: s, dest: all[1]! }])).failed).toEqual([]);
    expect(counts(names(await L.http({ count: 30 })))).toEqual({ rs1: 10, rs2: 10, rs3: 10 });
  });

  it('weight 0 drains a real server but keeps it in the table', async () => {
    engine();
    const s = svc({ scheduler: 'wrr' });
    const ds = RS.map((a) => dest(a, 'NAT'));
    await program(e, table([s, ds]));
    const drained = { ...ds[0]!, weight: 0 };
    expect((await e.apply([{ op: 'edit-dest', svc: s, dest: drained }])).failed).toEqual([]);
    expect(counts(names(await L.http({ count: 20 })))).toEqual({ rs2: 10, rs3: 10 });
    const seen = await e.observe();
    expect(seen.get(s.key)!.dests.get(drained.key)).toEqual(drained);
  });

  it('persistence keeps a client on its server, and moves it when that server is removed', async () => {
    engine();
    const s = svc({ scheduler: 'rr', flags: { ...NOFLAGS, persistent: true }, timeoutS: 60, netmask: '255.255.255.255' });
    const ds = RS.map((a) => dest(a, 'NAT'));
    await program(e, table([s, ds]));
    const first = names(await L.http({ count: 12, sources: [L.sources[0]!] }));
    expect(new Set(first).size).toBe(1);
    const others = names(await L.http({ count: 12, sources: L.sources.slice(1, 4) }));
    expect(new Set(others).size).toBeGreaterThan(1); // other clients still rotate
    const sticky = first[0]!;
    const idx = Number(sticky.slice(2)) - 1;
    expect((await e.apply([{ op: 'del-dest', svc: s, dest: ds[idx]! }])).failed).toEqual([]);
    const after = names(await L.http({ count: 6, sources: [L.sources[0]!] }));
    expect(after).not.toContain(sticky);
    expect(new Set(after).size).toBe(1); // sticky again, on its new server
  });

  it('full observe() round-trips exactly, also from a fresh engine and through the nft binary', async () => {
    engine();
    const persistent = svc({ scheduler: 'wrr', port: 8080, flags: { ...NOFLAGS, persistent: true, sched2: true }, timeoutS: 300, netmask: '255.255.255.0' });
    const fwm = svc({ scheduler: 'mh', fwmark: 7, flags: { ...NOFLAGS, sched1: true } });
    const udp = svc({ scheduler: 'dh', protocol: 'UDP', port: 53, fullNatSource: '10.98.0.1' });
    const v6 = svc({ scheduler: 'rr', family: 'inet6', address: VIP6 });
    const want = table(
      [persistent, [dest(RS[0]!, 'NAT', 3, 8080), dest(RS[1]!, 'NAT', 0, 80)]],
      [fwm, [dest(RS[0]!, 'NAT', 1, 0), dest(RS[2]!, 'NAT', 5, 0)]],
      [udp, [dest(RS[2]!, 'NAT', 1, 53)]],
      [v6, RS6.map((a) => dest(a, 'NAT'))],
      [svc({ scheduler: 'fo', port: 81 }), []],
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
    const spawned = L.engine({ transport: 'spawn', fullCheckMs: 0 });
    try {
      expect(await spawned.observe()).toEqual(want);
      // and it applies too
      const edit: Op = { op: 'edit-service', svc: { ...udp, scheduler: 'sh' } };
      expect((await spawned.apply([edit])).failed).toEqual([]);
      expect((await spawned.observe()).get(udp.key)!.svc.scheduler).toBe('sh');
    } finally {
      await spawned.close();
    }
  });

  it('apply() is atomic: a batch the kernel refuses leaves everything as it was', async () => {
    engine();
    const a = svc({ scheduler: 'rr' });
    const b = svc({ scheduler: 'rr', port: 81 });
    const want = table([a, RS.map((x) => dest(x, 'NAT'))], [b, RS.map((x) => dest(x, 'NAT'))]);
    await program(e, want);
    // someone removes one of the engine's elements behind its back
    await L.nft('delete', 'element', 'inet', 'lvsdt', `be4tcp_${shardOf(baseName(b))}`, '{ 10.99.0.200 . 81 . 0 }');
    const ops: Op[] = [
      { op: 'edit-dest', svc: a, dest: { ...dest(RS[0]!, 'NAT'), weight: 0 } },
      { op: 'del-dest', svc: b, dest: dest(RS[0]!, 'NAT') },
    ];
    const r = await e.apply(ops);
    expect(r.applied).toBe(0);
    expect(r.failed).toHaveLength(1);
    expect(r.failed[0]!.error).toMatch(/nothing was applied/);
    expect(r.failed[0]!.op).toBe(ops[1]); // the line that failed belongs to service b
    // service a is untouched: still three servers in rotation
    expect(counts(names(await L.http({ count: 30 })))).toEqual({ rs1: 10, rs2: 10, rs3: 10 });
    // the engine re-read the tables: b shows as drifted (left out) and is rewritten on the next apply
    const seen = await e.observe();
    expect(seen.get(a.key)).toEqual(want.get(a.key));
    expect(seen.has(b.key)).toBe(false);
    await program(e, want);
    expect(counts(names(await L.http({ count: 30, port: 81 })))).toEqual({ rs1: 10, rs2: 10, rs3: 10 });
  });

  it('refuses what nftables cannot do, before touching the kernel', async () => {
    engine();
    const s = svc({ scheduler: 'wlc' });
    const r = await e.apply([{ op: 'add-service', svc: s }]);
    expect(r.applied).toBe(0);
    expect(r.failed[0]!.error).toMatch(/wlc .* needs connection counts/);
    expect(await e.observe()).toEqual(new Map());
  });

  it('IPv6 NAT rotates too', async () => {
    engine();
    const s = svc({ scheduler: 'rr', family: 'inet6', address: VIP6 });
    await program(e, table([s, RS6.map((a) => dest(a, 'NAT'))]));
    expect(names(await L.http({ count: 9, host: VIP6 }))).toEqual(['rs1', 'rs2', 'rs3', 'rs1', 'rs2', 'rs3', 'rs1', 'rs2', 'rs3']);
  });

  it('never touches tables it does not own', async () => {
    engine();
    await program(e, table([svc({ scheduler: 'rr' }), RS.map((a) => dest(a, 'NAT'))]));
    await e.destroy();
    expect(await L.nft('list', 'table', 'inet', 'othertool')).toBe(OTHER);
    expect(await L.nft('list', 'table', 'ip', 'lvsdt')).toBe('table ip lvsdt {\n}\n');
    expect(await L.nft('list', 'tables')).toBe('table inet othertool\ntable ip lvsdt\n');
  });
});
