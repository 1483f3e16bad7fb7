// The nftables engine with full NAT (DNAT + SNAT to the director's address), real traffic in a
// namespace lab. The real servers have no route to the client at all: every reply must come back
// through the director.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isRoot } from '../../helpers/netns.js';
import type { NftablesEngine } from '../../../src/dataplane/nftables/engine.js';
import { nftablesSysctls } from '../../../src/dataplane/nftables/engine.js';
import { counts, dest, DIR_RS_SIDE, names, NftLab, program, RS, svc, table } from './lab.js';

describe.skipIf(!isRoot)('nftables engine: full NAT with real traffic (root)', () => {
  let L: NftLab;
  let e: NftablesEngine;

  beforeAll(async () => {
    L = await NftLab.create('fullnat');
  }, 60_000);
  afterAll(async () => {
    await e?.close();
    await L?.destroy();
  });
  afterEach(async () => {
    await e?.destroy();
    await e?.close();
  });

  it('rr rotates exactly and the real servers see the director as the client', async () => {
    e = L.engine();
    const want = table([svc({ scheduler: 'rr', fullNatSource: DIR_RS_SIDE }), RS.map((a) => dest(a, 'NAT'))]);
    expect(nftablesSysctls(want.values())).toEqual([expect.objectContaining({ key: 'net.ipv4.ip_forward', value: '1' })]);
    await program(e, want);
    const rs = await L.http({ count: 30 });
    expect(names(rs)).toEqual(Array.from({ length: 30 }, (_, i) => `rs${(i % 3) + 1}`));
    for (const r of rs) expect(r.body).toMatch(new RegExp(` ${DIR_RS_SIDE.replace(/\./g, '\\.')}$`));
    // without the SNAT the real servers could not answer (no route to the client)
    expect((await L.lab.tryExec('rs1', 'ip', 'route', 'get', '10.99.0.10')).code).not.toBe(0);
  });

  it('wrr splits 600 requests 1:2:3 (within 5 %)', async () => {
    e = L.engine();
    await program(e, table([svc({ scheduler: 'wrr', fullNatSource: DIR_RS_SIDE }), [dest(RS[0]!, 'NAT', 1), dest(RS[1]!, 'NAT', 2), dest(RS[2]!, 'NAT', 3)]]));
    const c = counts(names(await L.http({ count: 600 })));
    expect(Math.abs(c.rs1! - 100)).toBeLessThanOrEqual(5);
    expect(Math.abs(c.rs2! - 200)).toBeLessThanOrEqual(10);
    expect(Math.abs(c.rs3! - 300)).toBeLessThanOrEqual(15);
  });

  it('a removed real server gets no new flows, under load and without client errors; restored, it is back', async () => {
    e = L.engine();
    const s = svc({ scheduler: 'rr', fullNatSource: DIR_RS_SIDE });
    const all = RS.map((a) => dest(a, 'NAT'));
    await program(e, table([s, all]));
    const load = L.http({ count: 300, delayMs: 5 });
    await new Promise((r) => setTimeout(r, 500));
    expect((await e.apply([{ op: 'del-dest', svc: s, dest: all[2]! }])).failed).toEqual([]);
    const got = names(await load);
    expect(got.filter((x) => x.startsWith('ERR'))).toEqual([]);
    expect(got.slice(-100)).not.toContain('rs3');
    expect((await e.apply([{ op: 'add-dest', svc: s, dest: all[2]! }])).failed).toEqual([]);
    expect(counts(names(await L.http({ count: 30 })))).toEqual({ rs1: 10, rs2: 10, rs3: 10 });
  });

  it('turning full NAT off and on is an edit of the service', async () => {
    e = L.engine();
    const on = svc({ scheduler: 'rr', fullNatSource: DIR_RS_SIDE });
    const ds = RS.map((a) => dest(a, 'NAT'));
    await program(e, table([on, ds]));
    const { fullNatSource: _, ...offSpec } = on;
    await program(e, table([offSpec, ds]));
    // plain NAT now: the real servers cannot answer (no route back), so requests time out
    expect(names(await L.http({ count: 1, timeoutMs: 500 }))).toEqual(['ERR:ETIMEDOUT']);
    await program(e, table([on, ds]));
    // the rule did not change, so the rotation goes on where it was (the timed-out request took rs1's turn)
    expect(new Set(names(await L.http({ count: 3 })))).toEqual(new Set(['rs1', 'rs2', 'rs3']));
  });
});
