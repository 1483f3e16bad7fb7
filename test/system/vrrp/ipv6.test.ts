// lvsd VRRPv3 over IPv6: adverts from the link-local address to ff02::12 (hop limit 255), an IPv6
// VIP, unsolicited neighbour advertisements on takeover. Two director namespaces running the real
// daemon (advert_int 0.1 s), a client, HTTP servers on the directors answering their names.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, useLab, type Lab } from '../../helpers/netns.js';
import { vrrpConf, vrrpTimes } from './conf.js';
import { adverts, buildLvsd, Capture, httpGet, LvsdNode, sleep, startNameServer, tmpDir, waitHolders, waitNeigh, type Frame } from './harness.js';

const VIP = 'fd99::100';
const VRID = 52;
const ADV = 0.1;
const NODES = ['d1', 'd2'] as const;
const PRIO = { d1: 150, d2: 100 } as const;

const conf = (n: 'd1' | 'd2'): string =>
  vrrpConf({ routerId: n, version: 3, instances: [{ vrid: VRID, priority: PRIO[n], advertInt: ADV, vips: [`${VIP}/64`] }] });

/** An unsolicited NA for the VIP (tcpdump: "VIP > ff02::1: ICMP6, neighbor advertisement, tgt is VIP"). */
const isNa = (f: Frame): boolean => f.text.includes(`${VIP} > ff02::1: ICMP6, neighbor advertisement, tgt is ${VIP},`);

describe.skipIf(!isRoot)('lvsd VRRPv3 over IPv6 (namespace lab, real daemon)', () => {
  const lab = useLab({
    ipv6: true,
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
  const mac = (n: string): string => L().node(n).mac;

  beforeAll(async () => {
    dir = tmpDir('ipv6');
    await buildLvsd();
    d1 = new LvsdNode(L(), 'd1', dir);
    d2 = new LvsdNode(L(), 'd2', dir);
    await startNameServer(L(), 'd1', '::');
    await startNameServer(L(), 'd2', '::');
    cap = await Capture.start(L(), 'ip6 proto 112 or icmp6');
  });
  afterAll(async () => {
    await cap?.stop();
    await d1?.ensureStopped();
    await d2?.ensureStopped();
    dir && fs.rmSync(dir, { recursive: true, force: true });
  });

  it('election: the higher priority wins; adverts from the link-local address to ff02::12', async () => {
    await d1.start(conf('d1'));
    await d2.start(conf('d2'));
    await d1.waitState('VI_1', 'MASTER');
    await d2.waitState('VI_1', 'BACKUP');
    await sleep(5 * ADV * 1000);
    expect(d1.state('VI_1')).toBe('MASTER');
    expect(d2.state('VI_1')).toBe('BACKUP');
    expect(await waitHolders(L(), NODES, VIP, ['d1'])).toEqual(['d1']);
    const adv = adverts(cap.frames(), VRID).filter((a) => a.src === mac('d1') && a.prio === 150);
    expect(adv.length).toBeGreaterThanOrEqual(3);
    for (const a of adv) expect({ from: a.from, to: a.to, dst: a.dst }).toEqual({ from: L().node('d1').linkLocal, to: 'ff02::12', dst: '33:33:00:00:00:12' });
    await cap.waitFor((f) => f.src === mac('d1') && isNa(f));
    expect(await httpGet(L(), 'c1', VIP)).toEqual({ body: 'd1' });
  });

  it('SIGKILL of the master: the backup takes the VIP, sends unsolicited NAs, and answers', async () => {
    expect(await waitNeigh(L(), 'c1', VIP, mac('d1'))).toBe(mac('d1'));
    const since = d2.mark();
    await d1.crash();
    const ev = await d2.waitState('VI_1', 'MASTER', { since });
    expect(ev.reason).toBe('master-down');
    const na = await cap.waitFor((f) => f.src === mac('d2') && isNa(f));
    expect(await waitHolders(L(), NODES, VIP, ['d1', 'd2'])).toEqual(['d1', 'd2']); // d1's kernel kept it
    // the client's existing entry follows the NA's override flag
    expect(await waitNeigh(L(), 'c1', VIP, mac('d2'))).toBe(mac('d2'));
    expect(await httpGet(L(), 'c1', VIP)).toEqual({ body: 'd2' });
    const adv = adverts(cap.frames(), VRID);
    const lastD1 = adv.filter((a) => a.src === mac('d1')).at(-1)!;
    const firstD2 = adv.find((a) => a.src === mac('d2') && a.t > lastD1.t)!;
    const gap = firstD2.t - lastD1.t;
    const { mdiMs } = vrrpTimes(3, 100, ADV);
    expect(gap).toBeGreaterThanOrEqual(mdiMs - 5);
    expect(gap).toBeLessThan(mdiMs + 500);
    expect(na.t).toBeGreaterThanOrEqual(firstD2.t);
    console.log(`IPv6 SIGKILL takeover: ${gap.toFixed(1)} ms (MDI ${mdiMs.toFixed(1)}), NA +${(na.t - firstD2.t).toFixed(2)} ms`);
  });

  it('the returning higher-priority node preempts; graceful stop hands over after Skew_Time', async () => {
    const s2 = d2.mark();
    const t0 = Date.now();
    await d1.start(conf('d1'));
    expect((await d1.waitState('VI_1', 'MASTER')).reason).toBe('preempt');
    await d2.waitState('VI_1', 'BACKUP', { since: s2 });
    expect(await waitHolders(L(), NODES, VIP, ['d1'])).toEqual(['d1']);
    await cap.waitFor((f) => f.src === mac('d1') && isNa(f) && f.t > t0);
    expect(await waitNeigh(L(), 'c1', VIP, mac('d1'))).toBe(mac('d1'));
    expect(await httpGet(L(), 'c1', VIP)).toEqual({ body: 'd1' });

    const s3 = d2.mark();
    expect(await d1.stop()).toEqual({ code: 0, signal: null });
    expect((await d2.waitState('VI_1', 'MASTER', { since: s3 })).reason).toBe('priority-zero');
    expect(await waitHolders(L(), NODES, VIP, ['d2'])).toEqual(['d2']);
    const adv = adverts(cap.frames(), VRID);
    const prio0 = adv.filter((a) => a.src === mac('d1') && a.prio === 0).at(-1)!;
    expect(prio0).toBeDefined();
    const firstD2 = adv.find((a) => a.src === mac('d2') && a.t > prio0.t)!;
    const takeover = firstD2.t - prio0.t;
    const { skewMs, mdiMs } = vrrpTimes(3, 100, ADV);
    expect(takeover).toBeGreaterThanOrEqual(skewMs - 5);
    expect(takeover).toBeLessThan(mdiMs - 150);
    console.log(`IPv6 SIGTERM takeover: ${takeover.toFixed(1)} ms (skew ${skewMs.toFixed(1)})`);
  });
});
