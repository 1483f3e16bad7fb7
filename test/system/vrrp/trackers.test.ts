// lvsd VRRP trackers end to end: a failing vrrp_script lowers the master's priority by its weight
// and the VIP moves; a sync group moves two VIPs together when one member faults. Two director
// namespaces running the real daemon (VRRPv3, advert_int 0.1 s), a client namespace, HTTP servers
// on the directors answering their names. The scripts test for files in a temp directory.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, useLab, type Lab } from '../../helpers/netns.js';
import { vrrpConf, type ConfSpec } from './conf.js';
import { buildLvsd, httpGet, LvsdNode, startNameServer, tmpDir, waitHolders } from './harness.js';

const NODES = ['d1', 'd2'] as const;
const PRIO = { d1: 150, d2: 100 } as const;
const ADV = 0.1;
const GLOBAL = ['enable_script_security', 'script_user root'];

describe.skipIf(!isRoot)('lvsd VRRP trackers and sync groups (namespace lab, real daemon)', () => {
  const lab = useLab({
    nodes: [
      { name: 'd1', host: 11, role: 'director' },
      { name: 'd2', host: 12, role: 'director' },
      { name: 'c1', host: 31, role: 'client' },
    ],
  });
  const L = (): Lab => lab();
  let dir = ''; // created in beforeAll: a skipped suite's body still runs, its hooks do not
  const flag = (name: string): string => path.join(dir, name);
  let d1: LvsdNode;
  let d2: LvsdNode;

  beforeAll(async () => {
    dir = tmpDir('trackers');
    await buildLvsd();
    d1 = new LvsdNode(L(), 'd1', dir);
    d2 = new LvsdNode(L(), 'd2', dir);
    await startNameServer(L(), 'd1');
    await startNameServer(L(), 'd2');
  });
  afterEach(async () => {
    await d1?.ensureStopped();
    await d2?.ensureStopped();
  });
  afterAll(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  async function startPair(spec: (node: 'd1' | 'd2') => ConfSpec, instances: string[]): Promise<void> {
    await d1.start(vrrpConf(spec('d1')));
    await d2.start(vrrpConf(spec('d2')));
    for (const i of instances) {
      await d1.waitState(i, 'MASTER');
      await d2.waitState(i, 'BACKUP');
    }
  }

  it('a failing vrrp_script lowers the priority by its weight and moves the VIP; restoring brings it back (preempt)', async () => {
    const VIP = '10.99.0.100';
    fs.writeFileSync(flag('d1-ok'), '');
    // d1 150 - 60 = 90 < d2 100 while the script fails
    await startPair(
      (n) => ({
        routerId: n,
        version: 3,
        global: GLOBAL,
        scripts: [{ name: 'chk_ok', script: `/usr/bin/test -f ${flag(`${n}-ok`)}`, interval: 0.2, weight: -60, fall: 1, rise: 1 }],
        instances: [{ vrid: 51, priority: PRIO[n], advertInt: ADV, vips: [`${VIP}/24`], ...(n === 'd1' ? { trackScripts: [{ name: 'chk_ok' }] } : {}) }],
      }),
      ['VI_1'],
    );
    expect(await waitHolders(L(), NODES, VIP, ['d1'])).toEqual(['d1']);

    const s1 = d1.mark();
    const s2 = d2.mark();
    fs.rmSync(flag('d1-ok'));
    const prio = await d1.waitLog((o) => o.event === 'priority' && o.instance === 'VI_1', { since: s1 });
    expect(prio).toMatchObject({ from: 150, to: 90, state: 'MASTER' });
    // d2 ignores the now lower-priority master and takes over when its own timer runs out
    expect((await d2.waitState('VI_1', 'MASTER', { since: s2 })).reason).toBe('preempt');
    expect((await d1.waitState('VI_1', 'BACKUP', { since: s1 })).reason).toBe('higher-priority');
    expect(await waitHolders(L(), NODES, VIP, ['d2'])).toEqual(['d2']);
    expect(await httpGet(L(), 'c1', VIP)).toEqual({ body: 'd2' });

    const s3 = d1.mark();
    const s4 = d2.mark();
    fs.writeFileSync(flag('d1-ok'), '');
    expect(await d1.waitLog((o) => o.event === 'priority' && o.instance === 'VI_1', { since: s3 })).toMatchObject({ from: 90, to: 150, state: 'BACKUP' });
    expect((await d1.waitState('VI_1', 'MASTER', { since: s3 })).reason).toBe('preempt');
    expect((await d2.waitState('VI_1', 'BACKUP', { since: s4 })).reason).toBe('higher-priority');
    expect(await waitHolders(L(), NODES, VIP, ['d1'])).toEqual(['d1']);
    expect(await httpGet(L(), 'c1', VIP)).toEqual({ body: 'd1' });
  });

  it('a sync group moves both VIPs together when one member faults, and back when it recovers', async () => {
    const V1 = '10.99.0.101';
    const V2 = '10.99.0.102';
    fs.writeFileSync(flag('d1-vi2'), '');
    // the script only on d1's VI_2; unweighted (as keepalived requires in a sync group): failure = FAULT
    await startPair(
      (n) => ({
        routerId: n,
        version: 3,
        global: GLOBAL,
        scripts: [{ name: 'chk_vi2', script: `/usr/bin/test -f ${flag(`${n}-vi2`)}`, interval: 0.2, fall: 1, rise: 1 }],
        syncGroups: [{ name: 'G1', members: ['VI_1', 'VI_2'] }],
        instances: [
          { name: 'VI_1', vrid: 61, priority: PRIO[n], advertInt: ADV, vips: [`${V1}/24`] },
          { name: 'VI_2', vrid: 62, priority: PRIO[n], advertInt: ADV, vips: [`${V2}/24`], ...(n === 'd1' ? { trackScripts: [{ name: 'chk_vi2' }] } : {}) },
        ],
      }),
      ['VI_1', 'VI_2'],
    );
    expect(await waitHolders(L(), NODES, V1, ['d1'])).toEqual(['d1']);
    expect(await waitHolders(L(), NODES, V2, ['d1'])).toEqual(['d1']);

    const s1 = d1.mark();
    const s2 = d2.mark();
    fs.rmSync(flag('d1-vi2'));
    const f2 = await d1.waitState('VI_2', 'FAULT', { since: s1 });
    const f1 = await d1.waitState('VI_1', 'FAULT', { since: s1 });
    expect(f2.reason).toBe('fault');
    // VI_1 has nothing wrong with it: it follows its group
    expect(f1.reason).toBe('sync-group');
    await d2.waitState('VI_1', 'MASTER', { since: s2 });
    await d2.waitState('VI_2', 'MASTER', { since: s2 });
    expect(await waitHolders(L(), NODES, V1, ['d2'])).toEqual(['d2']);
    expect(await waitHolders(L(), NODES, V2, ['d2'])).toEqual(['d2']);
    expect(await httpGet(L(), 'c1', V1)).toEqual({ body: 'd2' });
    expect(await httpGet(L(), 'c1', V2)).toEqual({ body: 'd2' });

    const s3 = d1.mark();
    const s4 = d2.mark();
    fs.writeFileSync(flag('d1-vi2'), '');
    for (const i of ['VI_1', 'VI_2']) {
      await d1.waitState(i, 'BACKUP', { since: s3 });
      await d1.waitState(i, 'MASTER', { since: s3 });
      await d2.waitState(i, 'BACKUP', { since: s4 });
    }
    expect(await waitHolders(L(), NODES, V1, ['d1'])).toEqual(['d1']);
    expect(await waitHolders(L(), NODES, V2, ['d1'])).toEqual(['d1']);
    expect(await httpGet(L(), 'c1', V1)).toEqual({ body: 'd1' });
    expect(await httpGet(L(), 'c1', V2)).toEqual({ body: 'd1' });
    // the two instances of each node changed state in pairs: never one MASTER and one not for long
    const t = (n: LvsdNode, i: string, to: string, since: number): number => n.states(i, since).find((e) => e.to === to)!.t;
    expect(Math.abs(t(d2, 'VI_1', 'MASTER', s2) - t(d2, 'VI_2', 'MASTER', s2))).toBeLessThan(50);
    expect(Math.abs(t(d1, 'VI_1', 'MASTER', s3) - t(d1, 'VI_2', 'MASTER', s3))).toBeLessThan(50);
  });
});
