// lvsd VRRP with unicast peers (unicast_src_ip + unicast_peer): adverts go to the peer's address
// only, never to 224.0.0.18; election and failover work as with multicast. Two director
// namespaces running the real daemon (VRRPv3, advert_int 0.1 s), a client, HTTP on the directors.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, useLab, type Lab } from '../../helpers/netns.js';
import { vrrpConf, vrrpTimes } from './conf.js';
import { adverts, buildLvsd, Capture, httpGet, isGarp, LvsdNode, sleep, startNameServer, tmpDir, waitHolders, waitNeigh } from './harness.js';

const VIP = '10.99.0.100';
const VRID = 71;
const ADV = 0.1;
const NODES = ['d1', 'd2'] as const;
const PRIO = { d1: 150, d2: 100 } as const;
const IP = { d1: '10.99.0.11', d2: '10.99.0.12' } as const;
const peer = (n: 'd1' | 'd2'): 'd1' | 'd2' => (n === 'd1' ? 'd2' : 'd1');

const conf = (n: 'd1' | 'd2'): string =>
  vrrpConf({
    routerId: n,
    version: 3,
    instances: [{ vrid: VRID, priority: PRIO[n], advertInt: ADV, vips: [`${VIP}/24`], unicast: { src: IP[n], peers: [IP[peer(n)]] } }],
  });

describe.skipIf(!isRoot)('lvsd VRRP unicast peers (namespace lab, real daemon)', () => {
  const lab = useLab({
    nodes: [
      { name: 'd1', host: 11, role: 'director' },
      { name: 'd2', host: 12, role: 'director' },
      { name: 'c1', host: 31, role: 'client' },
    ],
  });
  const L = (): Lab => lab();
  let dir = ''; // created in beforeAll: a skipped suite's body still runs, its hooks do not
  let d1: LvsdNode;
  let d2: LvsdNode;
  let cap: Capture;

  beforeAll(async () => {
    dir = tmpDir('unicast');
    await buildLvsd();
    d1 = new LvsdNode(L(), 'd1', dir);
    d2 = new LvsdNode(L(), 'd2', dir);
    await startNameServer(L(), 'd1');
    await startNameServer(L(), 'd2');
    // every VRRP packet of the whole file, multicast or not
    cap = await Capture.start(L(), 'ip proto 112 or arp');
  });
  afterAll(async () => {
    await cap?.stop();
    await d1?.ensureStopped();
    await d2?.ensureStopped();
    dir && fs.rmSync(dir, { recursive: true, force: true });
  });

  it('election: the higher priority wins, adverts are unicast to the peer', async () => {
    await d1.start(conf('d1'));
    await d2.start(conf('d2'));
    await d1.waitState('VI_1', 'MASTER');
    await d2.waitState('VI_1', 'BACKUP');
    await sleep(5 * ADV * 1000);
    expect(d1.state('VI_1')).toBe('MASTER');
    expect(d2.state('VI_1')).toBe('BACKUP');
    expect(await waitHolders(L(), NODES, VIP, ['d1'])).toEqual(['d1']);
    expect(await httpGet(L(), 'c1', VIP)).toEqual({ body: 'd1' });
    const adv = adverts(cap.frames(), VRID).filter((a) => a.src === L().node('d1').mac && a.prio === 150);
    expect(adv.length).toBeGreaterThanOrEqual(3);
    for (const a of adv) expect({ from: a.from, to: a.to, dst: a.dst }).toEqual({ from: IP.d1, to: IP.d2, dst: L().node('d2').mac });
  });

  it('SIGKILL of the master: the peer takes over after Master_Down_Interval', async () => {
    const since = d2.mark();
    await d1.crash();
    const ev = await d2.waitState('VI_1', 'MASTER', { since });
    expect(ev.reason).toBe('master-down');
    await cap.waitFor((f) => f.src === L().node('d2').mac && isGarp(VIP)(f));
    expect(await waitHolders(L(), NODES, VIP, ['d1', 'd2'])).toEqual(['d1', 'd2']); // d1's kernel kept it
    const adv = adverts(cap.frames(), VRID);
    const lastD1 = adv.filter((a) => a.from === IP.d1).at(-1)!;
    const firstD2 = adv.find((a) => a.from === IP.d2)!;
    const gap = firstD2.t - lastD1.t;
    expect(gap).toBeGreaterThanOrEqual(vrrpTimes(3, 100, ADV).mdiMs - 5);
    expect(gap).toBeLessThan(vrrpTimes(3, 100, ADV).mdiMs + 500);
    // the new master's adverts go to its peer (whose daemon is dead), still by unicast
    expect(firstD2.to).toBe(IP.d1);
    expect(await waitNeigh(L(), 'c1', VIP, L().node('d2').mac)).toBe(L().node('d2').mac);
    expect(await httpGet(L(), 'c1', VIP)).toEqual({ body: 'd2' });
    console.log(`unicast SIGKILL takeover: ${gap.toFixed(1)} ms`);
  });

  it('the returning higher-priority node preempts; no VRRP packet ever went to 224.0.0.18', async () => {
    const since = d2.mark();
    const t0 = Date.now();
    await d1.start(conf('d1'));
    expect((await d1.waitState('VI_1', 'MASTER')).reason).toBe('preempt');
    await d2.waitState('VI_1', 'BACKUP', { since });
    expect(await waitHolders(L(), NODES, VIP, ['d1'])).toEqual(['d1']);
    await cap.waitFor((f) => f.src === L().node('d1').mac && isGarp(VIP)(f) && f.t > t0);
    expect(await waitNeigh(L(), 'c1', VIP, L().node('d1').mac)).toBe(L().node('d1').mac);
    expect(await httpGet(L(), 'c1', VIP)).toEqual({ body: 'd1' });
    const all = adverts(cap.frames(), VRID);
    expect(all.length).toBeGreaterThan(10);
    expect(all.filter((a) => a.to === '224.0.0.18' || a.dst.startsWith('01:00:5e'))).toEqual([]);
    expect(new Set(all.map((a) => `${a.from}>${a.to}`))).toEqual(new Set([`${IP.d1}>${IP.d2}`, `${IP.d2}>${IP.d1}`]));
  });
});
