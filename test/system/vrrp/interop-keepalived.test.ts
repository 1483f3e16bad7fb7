// lvsd and the real keepalived (2.2.x, VRRP only) in one VRRP group, both ways round: keepalived
// master / lvsd backup, and lvsd master / keepalived backup. Cases: VRRPv2 with PASS auth
// (advert_int 1 s), VRRPv3 at advert_int 0.1 s, VRRPv3 over IPv6. In each, exactly one master
// (VIP presence on both nodes, both logs), the backup stays BACKUP longer than its
// Master_Down_Interval (so it accepts the other implementation's adverts, auth included), a crash
// of the master hands the VIP over, and the returning master preempts.
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keepalivedBin, Keepalived } from '../../helpers/keepalived.js';
import { isRoot, useLab, type Lab } from '../../helpers/netns.js';
import { vrrpConf, vrrpTimes } from './conf.js';
import { adverts, buildLvsd, Capture, LvsdNode, sleep, tmpDir, waitHolders } from './harness.js';

type Impl = 'keepalived' | 'lvsd';
type NodeName = 'd1' | 'd2';
const NODES = ['d1', 'd2'] as const;
const PRIO = { d1: 150, d2: 100 } as const;

/** One VRRP speaker in a node, whichever implementation. */
interface Peer {
  impl: Impl;
  start(conf: string): Promise<void>;
  mark(): number;
  waitState(instance: string, state: string, opts: { since?: number; timeoutMs?: number }): Promise<void>;
  states(instance: string, since?: number): string[];
  crash(): Promise<void>;
  cleanup(): Promise<void>;
}

class LvsdPeer implements Peer {
  readonly impl = 'lvsd' as const;
  constructor(private readonly n: LvsdNode) {}
  start(conf: string): Promise<void> {
    return this.n.start(conf);
  }
  mark(): number {
    return this.n.mark();
  }
  async waitState(instance: string, state: string, opts: { since?: number; timeoutMs?: number }): Promise<void> {
    await this.n.waitState(instance, state, opts);
  }
  states(instance: string, since = 0): string[] {
    return this.n.states(instance, since).map((e) => e.to);
  }
  crash(): Promise<void> {
    return this.n.crash();
  }
  cleanup(): Promise<void> {
    return this.n.ensureStopped();
  }
}

class KeepalivedPeer implements Peer {
  readonly impl = 'keepalived' as const;
  private ka: Keepalived | undefined;
  constructor(
    private readonly lab: () => Lab,
    private readonly node: NodeName,
    private readonly dir: string,
  ) {}
  private get k(): Keepalived {
    if (!this.ka) throw new Error(`keepalived not started in ${this.node}`);
    return this.ka;
  }
  async start(conf: string): Promise<void> {
    this.ka = await Keepalived.start(this.lab(), this.node, conf, { dir: `${this.dir}/ka-${this.node}` });
  }
  mark(): number {
    return this.k.mark();
  }
  waitState(instance: string, state: string, opts: { since?: number; timeoutMs?: number }): Promise<void> {
    return this.k.waitState(instance, state, opts);
  }
  states(instance: string, since = 0): string[] {
    return this.k.states(instance, since);
  }
  crash(): Promise<void> {
    return this.k.crash();
  }
  async cleanup(): Promise<void> {
    if (this.ka?.running) await this.ka.stop().catch(() => this.ka?.crash());
  }
}

interface Case {
  name: string;
  version: 2 | 3;
  advertInt: number;
  vrid: number;
  vip: string;
  prefix: number;
  authPass?: string;
}

const CASES: Case[] = [
  { name: 'VRRPv2, PASS auth, advert_int 1', version: 2, advertInt: 1, vrid: 81, vip: '10.99.0.100', prefix: 24, authPass: 'lab-pw1' },
  { name: 'VRRPv3, advert_int 0.1', version: 3, advertInt: 0.1, vrid: 82, vip: '10.99.0.101', prefix: 24 },
  { name: 'VRRPv3 over IPv6, advert_int 0.1', version: 3, advertInt: 0.1, vrid: 83, vip: 'fd99::102', prefix: 64 },
];

describe.skipIf(!isRoot || !keepalivedBin)(`lvsd <-> keepalived VRRP interop (namespace lab)${keepalivedBin ? '' : ' [skipped: keepalived is not installed]'}`, () => {
  const lab = useLab({
    ipv6: true,
    nodes: [
      { name: 'd1', host: 11, role: 'director' },
      { name: 'd2', host: 12, role: 'director' },
    ],
  });
  const L = (): Lab => lab();
  let dir = ''; // created in beforeAll: a skipped suite's body still runs, its hooks do not
  let peers: Peer[] = [];
  let cap: Capture | undefined;

  beforeAll(async () => {
    dir = tmpDir('interop');
    await buildLvsd();
  });
  afterEach(async () => {
    await cap?.stop();
    cap = undefined;
    for (const p of peers) await p.cleanup();
    peers = [];
    // the crashed side's kernel keeps its VIPs: clear them so the next case starts clean
    for (const n of NODES) for (const c of CASES) await L().tryExec(n, 'ip', 'addr', 'del', `${c.vip}/${c.prefix}`, 'dev', 'eth0');
  });
  afterAll(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  const peerOf = (impl: Impl, node: NodeName): Peer =>
    impl === 'lvsd' ? new LvsdPeer(new LvsdNode(L(), node, dir)) : new KeepalivedPeer(L, node, dir);

  async function run(c: Case, masterImpl: Impl): Promise<void> {
    const backupImpl: Impl = masterImpl === 'lvsd' ? 'keepalived' : 'lvsd';
    // d1 (priority 150) is the master, d2 (100) the backup
    const m = peerOf(masterImpl, 'd1');
    const b = peerOf(backupImpl, 'd2');
    peers = [m, b];
    const conf = (n: NodeName): string =>
      vrrpConf({
        routerId: n,
        version: c.version,
        instances: [{ vrid: c.vrid, priority: PRIO[n], advertInt: c.advertInt, vips: [`${c.vip}/${c.prefix}`], ...(c.authPass ? { authPass: c.authPass } : {}) }],
      });
    const bTimes = vrrpTimes(c.version, PRIO.d2, c.advertInt);
    const mTimes = vrrpTimes(c.version, PRIO.d1, c.advertInt);
    const wait = { timeoutMs: 3 * bTimes.mdiMs + 5000 };
    const family = c.vip.includes(':') ? 'ip6' : 'ip';
    cap = await Capture.start(L(), `${family} proto 112`);
    const mac = (n: NodeName): string => L().node(n).mac;

    // election: the master first (lab gotcha 7: a startup race may make both MASTER for a moment)
    await m.start(conf('d1'));
    await b.start(conf('d2'));
    await m.waitState('VI_1', 'MASTER', wait);
    await b.waitState('VI_1', 'BACKUP', wait);
    // the backup accepts the other implementation's adverts: it stays BACKUP past its own timer
    // (an instance that drops every advert goes MASTER one Master_Down_Interval after its start)
    await sleep(bTimes.mdiMs + Math.min(500, 3 * c.advertInt * 1000));
    expect(m.states('VI_1')).toEqual(['BACKUP', 'MASTER']);
    expect(b.states('VI_1')).toEqual(['BACKUP']);
    expect(await waitHolders(L(), NODES, c.vip, ['d1'])).toEqual(['d1']);
    // on the wire: only d1 advertises now, with its priority
    const recent = adverts(cap.frames(), c.vrid).filter((a) => a.t > Date.now() - bTimes.mdiMs);
    expect(recent.length).toBeGreaterThanOrEqual(2);
    expect(new Set(recent.map((a) => `${a.src}/${a.prio}`))).toEqual(new Set([`${mac('d1')}/150`]));

    // crash of the master: the backup takes over after its Master_Down_Interval
    const s1 = b.mark();
    await m.crash();
    await b.waitState('VI_1', 'MASTER', { ...wait, since: s1 });
    expect((await waitHolders(L(), NODES, c.vip, ['d1', 'd2'])).includes('d2')).toBe(true); // d1's kernel may keep it
    const adv = adverts(cap.frames(), c.vrid);
    const lastD1 = adv.filter((a) => a.src === mac('d1')).at(-1)!;
    const firstD2 = adv.find((a) => a.src === mac('d2') && a.t > lastD1.t)!;
    expect(firstD2).toBeDefined();
    const gap = firstD2.t - lastD1.t;
    expect(gap).toBeGreaterThanOrEqual(bTimes.mdiMs - 10);
    expect(gap).toBeLessThan(bTimes.mdiMs + 1000);

    // the original master returns (clearing its stale VIP) and preempts
    const s2 = b.mark();
    await m.start(conf('d1')); // a new process: its log starts empty
    await m.waitState('VI_1', 'MASTER', wait);
    await b.waitState('VI_1', 'BACKUP', { ...wait, since: s2 });
    expect(await waitHolders(L(), NODES, c.vip, ['d1'])).toEqual(['d1']);
    // from d1's first advert after its return (+50 ms for one in flight), only d1 advertises
    await sleep(c.advertInt * 1000 + 50);
    const back = adverts(cap.frames(), c.vrid).filter((a) => a.t > lastD1.t);
    const firstBack = back.find((a) => a.src === mac('d1'))!;
    const after = back.filter((a) => a.t > firstBack.t + 50);
    expect(after.length).toBeGreaterThanOrEqual(1);
    expect(new Set(after.map((a) => `${a.src}/${a.prio}`))).toEqual(new Set([`${mac('d1')}/150`]));
    console.log(
      `interop ${c.name}: ${masterImpl} master / ${backupImpl} backup: crash takeover ${gap.toFixed(1)} ms (MDI ${bTimes.mdiMs.toFixed(1)}), preempt MDI ${mTimes.mdiMs.toFixed(1)}`,
    );
  }

  for (const c of CASES) {
    it(`${c.name}: keepalived master, lvsd backup`, () => run(c, 'keepalived'));
    it(`${c.name}: lvsd master, keepalived backup`, () => run(c, 'lvsd'));
  }
});
