// A hostile or malformed packet never crashes lvsd nor moves mastership: a third node sprays
// garbage protocol-112/51 datagrams (random bytes, truncations, bad checksums, wrong TTLs and
// versions, impossible address counts, unexpected auth) at a running pair.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, Lab } from '../../helpers/netns.js';
import { buildLvsd, FIXTURES, holders, LvsdNode, tmpDir } from './harness.js';
import { vrrpConf } from './conf.js';

describe.skipIf(!isRoot)('VRRP: hostile packets (root)', () => {
  let lab: Lab;
  let d1: LvsdNode;
  let d2: LvsdNode;
  const conf = (id: string, prio: number): string =>
    vrrpConf({ routerId: id, version: 2, instances: [{ vrid: 51, priority: prio, advertInt: 1, vips: ['10.99.0.100/24'] }] });

  beforeAll(async () => {
    await buildLvsd();
    lab = await Lab.create({ nodes: [{ name: 'd1', host: 11, role: 'director' }, { name: 'd2', host: 12, role: 'director' }, { name: 'x1', host: 13 }] });
    const dir = tmpDir('hostile');
    d1 = new LvsdNode(lab, 'd1', dir);
    d2 = new LvsdNode(lab, 'd2', dir);
    await d1.start(conf('d1', 150));
    await d1.waitState('VI_1', 'MASTER', { timeoutMs: 10_000 });
    await d2.start(conf('d2', 100));
    await d2.waitState('VI_1', 'BACKUP');
  }, 60_000);
  afterAll(async () => {
    await d1?.ensureStopped();
    await d2?.ensureStopped();
    await lab?.destroy();
  });

  it('20,000 malformed datagrams: both daemons keep running, nobody changes state', async () => {
    const m1 = d1.mark();
    const m2 = d2.mark();
    const p = lab.spawn('x1', process.execPath, [path.join(FIXTURES, 'hostile-sender.mjs'), '20000', '10.99.0.13']);
    const done = await p.waitForJson<{ done: boolean; sent: number }>((o) => o.done === true, { timeoutMs: 60_000 });
    expect(done.sent).toBeGreaterThan(15_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(d1.running).toBe(true);
    expect(d2.running).toBe(true);
    expect(d1.states('VI_1', m1)).toEqual([]);
    expect(d2.states('VI_1', m2)).toEqual([]);
    expect(await holders(lab, ['d1', 'd2'], '10.99.0.100')).toEqual(['d1']);
    // and the pair still works: a graceful stop of d1 still hands over
    const m = d2.mark();
    await d1.stop();
    await d2.waitState('VI_1', 'MASTER', { since: m, timeoutMs: 5000 });
  }, 120_000);
});
