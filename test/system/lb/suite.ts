// The end-to-end scenarios every forwarding mode shares (nftables-{nat,dr,fullnat}.test.ts):
// one lab and one `lvsd run` per file, scenarios in order on it. Measured numbers (detection
// time, client errors during the detection window, splits) are printed as `[lb MODE] ...` lines.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureBuilt } from '../../helpers/netns.js';
import { NftablesEngine } from '../../../src/dataplane/nftables/engine.js';
import { counts, DETECTION_WINDOW_MS, LB_DIST, LbLab, logTime, names, rsAddress, RS_NAMES, VIP_RR, VIP_SH, VIP_WRR, VIPS, WRR_WEIGHTS, type LbMode, type LogLine } from './lab.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** a client source port below the ephemeral range (32768-60999): only the scenario uses it */
const REUSED_PORT = 20080;

/** Registers the shared scenarios in the calling describe(); returns the lab getter. */
export function lbScenarios(mode: LbMode): () => LbLab {
  let L: LbLab | undefined;
  const say = (s: string): void => console.log(`[lb ${mode}] ${s}`);
  const lab = (): LbLab => {
    if (!L) throw new Error('lab not created (did beforeAll fail?)');
    return L;
  };

  beforeAll(async () => {
    await ensureBuilt(LB_DIST);
    L = await LbLab.create(mode);
    await L.startDirector();
  }, 90_000);
  afterAll(async () => {
    // the daemon's warnings, errors and drift repairs, for the record (a healthy run has none)
    const notable = (L?.director?.json<LogLine>() ?? []).filter((o) => o.level === 'warn' || o.level === 'error' || o.level === 'fatal' || o['sub'] === 'reconcile');
    for (const o of notable) say(`lvsd ${o.level}: ${JSON.stringify(o).slice(0, 600)}`);
    await L?.destroy();
  }, 60_000);

  it('rr: 30 sequential new connections rotate strictly over the three real servers', async () => {
    const got = names(await lab().http({ vip: VIP_RR, count: 30 }));
    expect(got.filter((g) => g.startsWith('ERR'))).toEqual([]);
    expect(new Set(got.slice(0, 3))).toEqual(new Set(RS_NAMES));
    expect(got).toEqual(got.map((_, i) => got[i % 3]));
    say(`rr 30 connections: ${got.slice(0, 6).join(' ')} ... (${JSON.stringify(counts(got))})`);
  });

  it('wrr: 600 connections split 1:2:3 (each within 5 %)', async () => {
    const c = counts(names(await lab().http({ vip: VIP_WRR, count: 600 })));
    say(`wrr 600 connections, weights ${WRR_WEIGHTS.join(':')}: ${JSON.stringify(c)}`);
    const total = WRR_WEIGHTS.reduce((a, b) => a + b, 0);
    expect(Object.keys(c).sort()).toEqual(RS_NAMES);
    for (const [i, n] of RS_NAMES.entries()) {
      const want = (600 * WRR_WEIGHTS[i]!) / total;
      expect(Math.abs(c[n]! - want), `${n}: ${c[n]} for ${want}`).toBeLessThanOrEqual(want * 0.05);
    }
  });

  it('sh: each client address stays on one real server (30 sources, 4 connections each)', async () => {
    const L = lab();
    const rs = await L.http({ vip: VIP_SH, count: 120, sources: L.sources });
    const bySrc = new Map<string, Set<string>>();
    for (const r of rs) {
      expect(r.err, `from ${r.src}`).toBeUndefined();
      bySrc.set(r.src!, (bySrc.get(r.src!) ?? new Set()).add(r.server!));
    }
    expect(bySrc.size).toBe(30);
    for (const [src, set] of bySrc) expect([...set], src).toHaveLength(1);
    const spread = counts([...bySrc.values()].map((s) => [...s][0]!));
    say(`sh 30 clients x 4 connections: clients per real server ${JSON.stringify(spread)}`);
    expect(Object.keys(spread).sort()).toEqual(RS_NAMES);
  });

  it('a stopped real server is removed by its health check; after the detection window clients see no errors', async () => {
    const L = lab();
    const d = L.director!;
    const rs2 = rsAddress(mode, 1);
    // A client reusing a source port: clients do that as soon as their side of a connection is
    // closed (the server closed first and holds the TIME_WAIT). Each reuse is a new connection
    // and must be scheduled anew (IPVS conn_reuse_mode), so the rr rotation moves on with it; a
    // flow table that pinned the tuple would keep sending it to its first server, even dead.
    const pinned = names(await L.http({ vip: VIP_RR, count: 3, localPort: REUSED_PORT }));
    expect(new Set(pinned), `three connections from port ${REUSED_PORT}: ${pinned.join(' ')}`).toEqual(new Set(RS_NAMES));
    if (pinned[2] !== 'rs2') {
      // leave the port's last connection on rs2, the server about to be stopped
      const more = names(await L.http({ vip: VIP_RR, count: pinned[2] === 'rs1' ? 1 : 2, localPort: REUSED_PORT }));
      expect(more.at(-1)).toBe('rs2');
    }
    const mark = d.mark();
    const probe = await L.probe(VIP_RR, 20, 500);
    await sleep(200);
    const tKill = await L.stopServer('rs2');
    const down = await L.waitRsLog('Removing', rs2, VIP_RR, mark, DETECTION_WINDOW_MS + 5000);
    const inhibited = await L.waitRsLog('Disabling', rs2, VIP_WRR, mark, DETECTION_WINDOW_MS + 5000);
    const detectMs = logTime(down) - tKill;
    await sleep(Math.max(0, tKill + DETECTION_WINDOW_MS - Date.now()));
    const lines = await probe.stop();
    const tEnd = tKill + DETECTION_WINDOW_MS;
    const before = lines.filter((l) => l.t < tKill);
    const during = lines.filter((l) => l.t >= tKill && l.t < tEnd);
    const after = lines.filter((l) => l.t >= tEnd);
    const errs = during.filter((l) => !l.ok);
    const lastErr = errs.length ? Math.round(Math.max(...errs.map((l) => l.t + l.ms)) - tKill) : 0;
    say(
      `rs2 stopped: health check removed it after ${detectMs} ms (inhibit_on_failure VS: weight 0 after ${logTime(inhibited) - tKill} ms); ` +
        `window ${DETECTION_WINDOW_MS} ms: ${errs.length} of ${during.length} probes (every 20 ms) failed [${[...new Set(errs.map((e) => e.error))].join(',')}], ` +
        `last failure ended ${lastErr} ms after the stop; ${after.length} probes after the window, ${after.filter((l) => !l.ok).length} failed`,
    );
    expect(detectMs).toBeLessThanOrEqual(DETECTION_WINDOW_MS);
    expect(before.length).toBeGreaterThan(5);
    expect(before.filter((l) => !l.ok)).toEqual([]);
    expect(after.filter((l) => !l.ok)).toEqual([]);
    expect(after.filter((l) => l.server === 'rs2')).toEqual([]);

    // the reused port's flow had gone to rs2: the next connection from it goes to a live server
    const reused = names(await L.http({ vip: VIP_RR, count: 4, localPort: REUSED_PORT }));
    expect(reused.filter((g) => g.startsWith('ERR') || g === 'rs2'), `from port ${REUSED_PORT}: ${reused.join(' ')}`).toEqual([]);
    // a burst after the window: no errors, never the stopped server, strict rotation over the others
    const rr = names(await L.http({ vip: VIP_RR, count: 60 }));
    expect(rr.filter((g) => g.startsWith('ERR'))).toEqual([]);
    expect(counts(rr)).toEqual({ rs1: 30, rs3: 30 });
    expect(rr).toEqual(rr.map((_, i) => rr[i % 2]));
    // inhibit_on_failure: weight 0, so wrr sends nothing there either (1:3 between rs1 and rs3)
    const wrr = counts(names(await L.http({ vip: VIP_WRR, count: 80 })));
    say(`after the window: from reused port ${REUSED_PORT}: ${reused.join(' ')}; rr 60 connections ${JSON.stringify(counts(rr))}, wrr 80 connections ${JSON.stringify(wrr)}`);
    expect(Object.keys(wrr).sort()).toEqual(['rs1', 'rs3']);
    expect(Math.abs(wrr.rs1! - 20)).toBeLessThanOrEqual(1);
    // sh: every client still gets an answer (rs2's clients moved)
    const sh = names(await L.http({ vip: VIP_SH, count: 30, sources: L.sources }));
    expect(sh.filter((g) => g.startsWith('ERR') || g === 'rs2')).toEqual([]);
  });

  it('restored, the real server is added back by its health check and gets requests again', async () => {
    const L = lab();
    const d = L.director!;
    const rs2 = rsAddress(mode, 1);
    const mark = d.mark();
    const t0 = Date.now();
    await L.startServer('rs2');
    const up = await L.waitRsLog('Adding', rs2, VIP_RR, mark, DETECTION_WINDOW_MS + 5000);
    await L.waitRsLog('Enabling', rs2, VIP_WRR, mark, DETECTION_WINDOW_MS + 5000);
    say(`rs2 restarted: added back ${logTime(up) - t0} ms after its server started listening`);
    await sleep(200); // the nft batch of that transition
    const rr = names(await L.http({ vip: VIP_RR, count: 30 }));
    expect(counts(rr)).toEqual({ rs1: 10, rs2: 10, rs3: 10 });
    expect(rr).toEqual(rr.map((_, i) => rr[i % 3]));
    const wrr = counts(names(await L.http({ vip: VIP_WRR, count: 120 })));
    say(`after restore: rr ${JSON.stringify(counts(rr))}, wrr 120 connections ${JSON.stringify(wrr)}`);
    expect(Math.abs(wrr.rs2! - 40)).toBeLessThanOrEqual(2);
  });

  return lab;
}

/**
 * Stop the daemon (last scenario of a file): it exits cleanly, takes its VIPs down and removes
 * every service it programmed; lvsd's own nftables tables go too once they are empty.
 */
export function stopScenario(lab: () => LbLab): void {
  it('lvsd stops on SIGTERM: exit 0, VIPs released, no service left in the data plane', async () => {
    const L = lab();
    const d = L.director!;
    const seen = async (): Promise<string[]> => {
      const e = new NftablesEngine({ netns: L.lab.ns('dir'), table: 'lvsd', drDevice: 'eth0' });
      try {
        return [...(await e.observe()).keys()].sort();
      } finally {
        await e.close();
      }
    };
    expect(await seen()).toEqual(VIPS.map((v) => `TCP:[${v}]:80`).sort());
    const mark = d.mark();
    const exit = await d.kill('SIGTERM', 10_000);
    expect(exit.code, d.lines.slice(mark).join('\n')).toBe(0);
    expect(await seen(), d.lines.slice(mark).join('\n')).toEqual([]);
    // lvsd's tables go with the last service (DR's netdev ingress table and the inet table)
    const tables = await L.nft('list', 'tables');
    expect(tables).not.toMatch(/^table netdev lvsd$/m);
    expect(tables).not.toMatch(/^table inet lvsd$/m);
    const addrs = await L.lab.exec('dir', 'ip', '-br', 'addr', 'show', 'dev', 'eth0');
    for (const v of VIPS) expect(addrs).not.toContain(v);
  });
}
