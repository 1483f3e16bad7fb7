// lvsd VRRP end to end: two director namespaces running the real daemon (`lvsd run`), each with
// an HTTP server answering its own name, and a client namespace. One lab for the whole file; the
// scenarios run in order and each starts from the state the previous one left (noted per test).
// VRRPv3 at advert_int 0.1 s: d1 priority 150, d2 priority 100, VIP 10.99.0.100/24.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, useLab, type Lab } from '../../helpers/netns.js';
import { vrrpConf, vrrpTimes } from './conf.js';
import { adverts, buildLvsd, Capture, holders, httpGet, isGarp, LvsdNode, neighMac, sleep, startNameServer, tmpDir, waitHolders, waitNeigh } from './harness.js';
import fs from 'node:fs';

const VIP = '10.99.0.100';
const VRID = 51;
const ADV = 0.1;
const NODES = ['d1', 'd2'] as const;
const PRIO = { d1: 150, d2: 100 } as const;

const conf = (node: 'd1' | 'd2', o: { nopreempt?: boolean } = {}): string =>
  vrrpConf({
    routerId: node,
    version: 3,
    instances: [{ vrid: VRID, priority: PRIO[node], advertInt: ADV, vips: [`${VIP}/24`], ...(o.nopreempt ? { nopreempt: true } : {}) }],
  });

describe.skipIf(!isRoot)('lvsd VRRP failover (namespace lab, real daemon)', () => {
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
  const d2Times = vrrpTimes(3, PRIO.d2, ADV);
  const d1Times = vrrpTimes(3, PRIO.d1, ADV);

  beforeAll(async () => {
    dir = tmpDir('failover');
    await buildLvsd();
    d1 = new LvsdNode(L(), 'd1', dir);
    d2 = new LvsdNode(L(), 'd2', dir);
    await startNameServer(L(), 'd1');
    await startNameServer(L(), 'd2');
  });
  afterAll(async () => {
    await d1?.ensureStopped();
    await d2?.ensureStopped();
    dir && fs.rmSync(dir, { recursive: true, force: true });
  });

  const mac = (n: string): string => L().node(n).mac;

  /** d1 MASTER, d2 BACKUP, VIP on d1 only (started fresh if needed). */
  async function expectD1Master(): Promise<void> {
    expect(d1.state('VI_1')).toBe('MASTER');
    expect(d2.state('VI_1')).toBe('BACKUP');
    expect(await waitHolders(L(), NODES, VIP, ['d1'])).toEqual(['d1']);
  }

  it('election: the higher priority wins and only it holds the VIP', async () => {
    // both at once (the startup race of lab gotcha 7 may make d2 MASTER for a moment)
    await Promise.all([d1.start(conf('d1')), d2.start(conf('d2'))]);
    await d1.waitState('VI_1', 'MASTER');
    // settle: a few adverts with no further state change
    await sleep(10 * ADV * 1000);
    await expectD1Master();
    const cap = await Capture.start(L(), 'ip proto 112');
    await sleep(5 * ADV * 1000);
    await cap.stop();
    const adv = adverts(cap.frames(), VRID);
    expect(adv.length).toBeGreaterThanOrEqual(3);
    // only the master advertises, with its priority
    expect(new Set(adv.map((a) => `${a.src} ${a.prio}`))).toEqual(new Set([`${mac('d1')} 150`]));
    expect(await httpGet(L(), 'c1', VIP)).toEqual({ body: 'd1' });
  });

  it('SIGKILL of the master: the backup takes the VIP after Master_Down_Interval, GARPs, and answers', async () => {
    await expectD1Master();
    const cap = await Capture.start(L(), 'ip proto 112 or arp');
    expect(await neighMac(L(), 'c1', VIP)).toBe(mac('d1')); // from the election test's request
    await cap.waitFor((f) => f.src === mac('d1') && adverts([f], VRID).length === 1);
    const since = d2.mark();
    await d1.crash();
    const ev = await d2.waitState('VI_1', 'MASTER', { since });
    expect(ev.reason).toBe('master-down');
    const garp = await cap.waitFor((f) => f.src === mac('d2') && isGarp(VIP)(f));
    // the lvsd process on d1 is gone but its kernel still has the VIP (nothing removed it): the
    // client must follow the GARP, not ARP again (d1 would answer too)
    expect(await waitHolders(L(), NODES, VIP, ['d1', 'd2'])).toEqual(['d1', 'd2']);
    expect(await waitNeigh(L(), 'c1', VIP, mac('d2'))).toBe(mac('d2'));
    expect(await httpGet(L(), 'c1', VIP)).toEqual({ body: 'd2' });
    await cap.stop();

    const frames = cap.frames();
    const adv = adverts(frames, VRID);
    const lastD1 = adv.filter((a) => a.src === mac('d1')).at(-1)!;
    const firstD2 = adv.find((a) => a.src === mac('d2'))!;
    expect(lastD1).toBeDefined();
    expect(firstD2).toBeDefined();
    const gap = firstD2.t - lastD1.t;
    // d2 may not go before its Master_Down_Interval (3 × 100 ms + skew 61 ms) after d1's last advert
    expect(gap).toBeGreaterThanOrEqual(d2Times.mdiMs - 5);
    expect(gap).toBeLessThan(d2Times.mdiMs + 500);
    // the advert goes first, then the GARP burst (the old master drops the VIP before our GARPs)
    expect(garp.t).toBeGreaterThanOrEqual(firstD2.t);
    // keepalived's default burst: vrrp_garp_master_repeat 5, back to back
    const burst = frames.filter((f) => f.src === mac('d2') && isGarp(VIP)(f) && f.t - garp.t < 100);
    expect(burst.length).toBe(5);
    console.log(`SIGKILL takeover: d1 last advert -> d2 first advert ${gap.toFixed(1)} ms (MDI ${d2Times.mdiMs.toFixed(1)}), GARP +${(garp.t - firstD2.t).toFixed(2)} ms, burst ${burst.length}`);
  });

  it('preempt: the returning higher-priority node removes its stale VIP, then takes the VIP back', async () => {
    // from: d1 crashed (VIP still on its eth0), d2 MASTER
    const since = d2.mark();
    const cap = await Capture.start(L(), 'ip proto 112 or arp');
    await d1.start(conf('d1'));
    // at startup lvsd clears a crashed run's VIPs before anything else (keepalived does too)
    const backup = await d1.waitState('VI_1', 'BACKUP');
    expect(backup.reason).toBe('startup');
    const up = await d1.waitState('VI_1', 'MASTER');
    expect(up.reason).toBe('preempt');
    const removed = d1.log().findIndex((o) => o.event === 'vip' && o.op === 'remove' && o.vip === `${VIP}/24`);
    const master = d1.log().findIndex((o) => o.event === 'state' && o.to === 'MASTER');
    expect(removed).toBeGreaterThanOrEqual(0);
    expect(removed).toBeLessThan(master);
    const down = await d2.waitState('VI_1', 'BACKUP', { since });
    expect(down.reason).toBe('higher-priority');
    await expectD1Master();
    await cap.waitFor((f) => f.src === mac('d1') && isGarp(VIP)(f));
    expect(await waitNeigh(L(), 'c1', VIP, mac('d1'))).toBe(mac('d1'));
    expect(await httpGet(L(), 'c1', VIP)).toEqual({ body: 'd1' });
    await cap.stop();
    // d1 ignored d2's lower-priority adverts for its own Master_Down_Interval (3 × 100 + 41 ms)
    const waited = up.t - backup.t;
    expect(waited).toBeGreaterThanOrEqual(d1Times.mdiMs - 5);
    const firstD1 = adverts(cap.frames(), VRID).find((a) => a.src === mac('d1'))!;
    expect(firstD1.prio).toBe(150);
    console.log(`preempt: d1 BACKUP -> MASTER after ${waited} ms (MDI ${d1Times.mdiMs.toFixed(1)})`);
  });

  it('graceful stop (SIGTERM): priority-0 advert, VIP removed, the backup takes over after Skew_Time only', async () => {
    await expectD1Master();
    const cap = await Capture.start(L(), 'ip proto 112 or arp');
    const since = d2.mark();
    const exit = await d1.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    const ev = await d2.waitState('VI_1', 'MASTER', { since });
    expect(ev.reason).toBe('priority-zero');
    expect(await waitHolders(L(), NODES, VIP, ['d2'])).toEqual(['d2']);
    await cap.waitFor((f) => f.src === mac('d2') && isGarp(VIP)(f));
    await cap.stop();
    const adv = adverts(cap.frames(), VRID);
    const prio0 = adv.find((a) => a.src === mac('d1') && a.prio === 0)!;
    expect(prio0).toBeDefined();
    const firstD2 = adv.find((a) => a.src === mac('d2') && a.t > prio0.t)!;
    expect(firstD2.prio).toBe(100);
    const takeover = firstD2.t - prio0.t;
    // Skew_Time = (256 - 100) × 100 ms / 256 = 61 ms; Master_Down_Interval would be 361 ms
    expect(takeover).toBeGreaterThanOrEqual(d2Times.skewMs - 5);
    expect(takeover).toBeLessThan(d2Times.mdiMs - 150);
    expect(await httpGet(L(), 'c1', VIP)).toEqual({ body: 'd2' });
    console.log(`SIGTERM takeover: prio-0 advert -> d2 first advert ${takeover.toFixed(1)} ms (skew ${d2Times.skewMs.toFixed(1)}, MDI ${d2Times.mdiMs.toFixed(1)})`);
  });

  it('nopreempt: the returning higher-priority node stays BACKUP', async () => {
    // from: d1 stopped, d2 MASTER (preempt on d2 does not matter: it is the lower priority)
    expect(d2.state('VI_1')).toBe('MASTER');
    await d1.start(conf('d1', { nopreempt: true }));
    await d1.waitState('VI_1', 'BACKUP');
    const since = d1.mark();
    // several of d1's Master_Down_Intervals (341 ms): with preempt it would have taken over by now
    await sleep(4 * d1Times.mdiMs);
    expect(d1.states('VI_1', since)).toEqual([]);
    expect(d1.state('VI_1')).toBe('BACKUP');
    expect(d2.state('VI_1')).toBe('MASTER');
    expect(await holders(L(), NODES, VIP)).toEqual(['d2']);
    expect(await httpGet(L(), 'c1', VIP)).toEqual({ body: 'd2' });
    // restore d1 as a preempting node for the next scenario
    await d1.stop();
    const s2 = d2.mark();
    await d1.start(conf('d1'));
    await d1.waitState('VI_1', 'MASTER');
    await d2.waitState('VI_1', 'BACKUP', { since: s2 });
  });

  it('master link down: the master goes FAULT and drops the VIP, the peer takes over; link up: preempt back', async () => {
    await expectD1Master();
    const s1 = d1.mark();
    const s2 = d2.mark();
    await L().exec('d1', 'ip', 'link', 'set', 'eth0', 'down');
    const fault = await d1.waitState('VI_1', 'FAULT', { since: s1 });
    expect(fault.from).toBe('MASTER');
    expect(fault.reason).toBe('fault');
    const ev = await d2.waitState('VI_1', 'MASTER', { since: s2 });
    expect(ev.reason).toBe('master-down');
    expect(await waitHolders(L(), NODES, VIP, ['d2'])).toEqual(['d2']);
    expect(await httpGet(L(), 'c1', VIP)).toEqual({ body: 'd2' });

    const s3 = d1.mark();
    const s4 = d2.mark();
    await L().exec('d1', 'ip', 'link', 'set', 'eth0', 'up');
    expect((await d1.waitState('VI_1', 'BACKUP', { since: s3 })).reason).toBe('fault-cleared');
    expect((await d1.waitState('VI_1', 'MASTER', { since: s3 })).reason).toBe('preempt');
    await d2.waitState('VI_1', 'BACKUP', { since: s4 });
    await expectD1Master();
  });
});
