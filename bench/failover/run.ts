// Failover benchmark: the outage a user sees when the master director dies or stops, lvsd
// against keepalived 2.2.7 in the same run, with the same generated keepalived.conf.
//
//   node dist/bench/failover/run.js [--trials N] [--cases v2-crash,v2-term,...] [--impls lvsd,keepalived]
//                                   [--out DIR] [--lvsd-root DIR] [--seed S]
//   node dist/bench/failover/run.js --report DIR/results.json     (the tables of an earlier run)
//
// Method (as shared/tools/lab/README.md "Failover measurement"): a lab of two directors (d1
// priority 150 MASTER, d2 priority 100 BACKUP) and a client c1 on one bridge; HTTP servers on
// both directors answer with their own name. Per trial both daemons start fresh (d1 first, then
// d2), c1 opens a new TCP connection + GET / to the VIP every 10 ms on a fixed schedule (250 ms
// timeout), and after 1.5 s + random 0–1 s d1 fails:
//   crash: eth0 of d1 set down (the lab's `ip link set eth0 down`), then SIGKILL (keepalived:
//          VRRP child, then parent; lvsd: the whole process group); afterwards the VIP is
//          removed by hand and the link set up again ("reboot") before the next trial;
//   term:  SIGTERM (graceful: priority-0 advert).
// Both are done by fail-helper.js, already running in d1 (one netlink request, then kill(2)):
// spawning `ip` took 3–60 ms on a loaded machine and moved the failure off its intended phase.
// Fairness: the trials of the two implementations alternate (ABBA order), and trial i of both
// fails at the same advert phase φ_i (the time since d1's last advert, read live from a tcpdump
// on the bridge); the φ_i are stratified over one advert interval. A crash's outage is the
// RFC's Master_Down_Interval minus that phase, so without pairing a handful of trials would
// compare phases, not implementations. (An advert of d1 that is itself late still shifts the
// realised phase; `phase` in results.json is the realised one.) Likewise both get the same probe
// phase (the 10 ms probe grid is shifted so that a probe starts ψ_i after the failure), so the
// probe interval does not add ±5 ms of noise between the two; what remains is the difference.

// Duration: about 13 s per v2 trial and 6 s per v3 trial, so the default 3 trials take ~5 min
// and --trials 10 about 15 min.
//
// Metrics per trial (ms; wall clock, probes and tcpdump share it):
//   user_gap     first answer from d2 − last answer from d1 (the outage a user sees)
//   failed       probes started between the failure and the first d2 answer that got no answer
//   adv_gap      d2's first advert − d1's last advert (crash) / d1's priority-0 advert (term)
//   late         adv_gap − the RFC timer (Master_Down_Interval / Skew_Time for priority 100)
//   garp         d2's first GARP − d2's first advert (VIP add + GARP ordering)
//   answer       first d2 answer − d2's first advert (GARP → client ARP → TCP → HTTP)
//   term→prio0   d1's priority-0 advert − SIGTERM sent
//   beyond_rfc   the part of the outage the implementation controls, phase-free:
//                crash: first d2 answer − (d1's last advert + MDI); term: first d2 answer − (SIGTERM + skew)
// Raw data (probe lines, wire packets, daemon logs, per-trial rows) goes to --out (default a new
// directory under /tmp), as results.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Lab, isRoot, type LabProcess } from '../../src/lab/netns.js';
import { masterDownMs, skewMs } from '../../src/vrrp/timers.js';
import {
  HERE,
  IMPLS,
  fmt,
  fmtStats,
  genConf,
  haveKeepalived,
  ipIn,
  parseArgs,
  sleep,
  startDirector,
  stats,
  table,
  wallNow,
  WireTap,
  type Director,
  type Impl,
  type WirePacket,
} from './common.js';

interface Case {
  id: string;
  version: 2 | 3;
  advert: string;
  mode: 'crash' | 'term';
  /** keepalived's user_gap median in the lab README (ms) */
  labRef?: number;
}

const CASES: Case[] = [
  { id: 'v2-crash', version: 2, advert: '1', mode: 'crash', labRef: 3441 },
  { id: 'v2-term', version: 2, advert: '1', mode: 'term', labRef: 619 },
  { id: 'v3-0.1-crash', version: 3, advert: '0.1', mode: 'crash', labRef: 331 },
  { id: 'v3-0.1-term', version: 3, advert: '0.1', mode: 'term', labRef: 70 },
  { id: 'v3-0.01-crash', version: 3, advert: '0.01', mode: 'crash', labRef: 42 },
];

const VIP = '10.99.0.100';
const D1IP = '10.99.0.11';
const D2IP = '10.99.0.12';
const D2_PRIO = 100;

interface Probe {
  s: number;
  e: number;
  r: string;
}

interface Row {
  case: string;
  impl: Impl;
  trial: number;
  targetPhase: number;
  probePhase: number;
  phase?: number;
  userGap?: number;
  failed?: number;
  advGap?: number;
  late?: number;
  garp?: number;
  answer?: number;
  termToPrio0?: number;
  beyondRfc?: number;
  error?: string;
}

interface Raw {
  row: Row;
  events: Record<string, number>;
  probes: string[];
  wire: WirePacket[];
  d1log: string[];
  d2log: string[];
}

// ---- small helpers ---------------------------------------------------------------------

/** Deterministic PRNG (mulberry32) so a run can be repeated with --seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function waitOperUp(lab: Lab, node: string, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const l = await lab.ipJson<{ operstate?: string }[]>(node, 'link', 'show', 'dev', 'eth0');
    if (l[0]?.operstate === 'UP') return;
    if (Date.now() > end) throw new Error(`${node}: eth0 not UP after ${timeoutMs} ms`);
    await sleep(20);
  }
}

function parseProbes(lines: readonly string[]): Probe[] {
  return lines
    .map((l) => l.split('\t'))
    .filter((f) => f.length === 3)
    .map(([s, e, r]) => ({ s: Number(s), e: Number(e), r: r! }))
    .sort((a, b) => a.e - b.e);
}

// ---- one trial -------------------------------------------------------------------------

/** bench/failover/fail-helper.js running in d1: link down + kill / SIGTERM in one quick step. */
class Injector {
  private constructor(private readonly proc: LabProcess) {}

  static async start(lab: Lab): Promise<Injector> {
    const p = lab.spawnNode('d1', path.join(HERE, 'fail-helper.js'), ['eth0']);
    await p.waitForLine(/^ready$/, { timeoutMs: 10_000 });
    return new Injector(p);
  }

  /** Run a command; resolves the times it reports (wall ms). */
  async run(cmd: string): Promise<number[]> {
    const since = this.proc.mark();
    this.proc.write(cmd);
    const verb = cmd.split(' ')[0];
    const line = await this.proc.waitForLine((l) => l.startsWith(`ok ${verb} `) || l.startsWith(`err ${verb} `), { since, timeoutMs: 10_000 });
    if (line.startsWith('err')) throw new Error(`fail-helper: ${line}`);
    return line.split(' ').slice(2).map(Number);
  }
}

interface Env {
  lab: Lab;
  tap: WireTap;
  inject: Injector;
  dir: string;
  lvsdRoot?: string;
}

async function restore(env: Env): Promise<void> {
  const { lab } = env;
  // "reboot" of a crashed d1: VIP gone from the box, link back up; and a clean client ARP cache
  for (const n of ['d1', 'd2']) await ipIn(lab.ns(n), 'addr', 'del', `${VIP}/24`, 'dev', 'eth0').catch(() => {});
  await env.inject.run('up');
  await waitOperUp(lab, 'd1');
  await ipIn(lab.ns('c1'), 'neigh', 'flush', 'dev', 'eth0').catch(() => {});
}

async function trial(env: Env, c: Case, impl: Impl, n: number, targetPhase: number, probePhase: number, delayMs: number): Promise<Raw> {
  const { lab, tap } = env;
  const row: Row = { case: c.id, impl, trial: n, targetPhase, probePhase };
  const events: Record<string, number> = {};
  const advMs = Number(c.advert) * 1000;
  const mdi = masterDownMs(c.version, D2_PRIO, advMs, 3);
  const skew = skewMs(c.version, D2_PRIO, advMs);
  await restore(env);
  const wireMark = tap.mark();
  const opts = { dir: env.dir, ...(env.lvsdRoot ? { lvsdRoot: env.lvsdRoot } : {}) };
  let d1: Director | undefined;
  let d2: Director | undefined;
  let probe: LabProcess | undefined;
  try {
    d1 = startDirector(impl, lab, 'd1', genConf({ node: 'd1', priority: 150, state: 'MASTER', version: c.version, advert: c.advert }), opts);
    await d1.waitState('MASTER', { timeoutMs: 15_000 });
    d2 = startDirector(impl, lab, 'd2', genConf({ node: 'd2', priority: D2_PRIO, state: 'BACKUP', version: c.version, advert: c.advert }), opts);
    await d2.waitState('BACKUP', { timeoutMs: 15_000 });
    // d2 must have heard d1 before the failure
    await tap.next((p) => p.kind === 'vrrp' && p.src === D1IP && (p.prio ?? 0) > 0, { timeoutMs: 5000 });
    probe = lab.spawnNode('c1', path.join(HERE, 'probe.js'), [VIP, '80', '10', '250']);
    events.probeStart = wallNow();
    await sleep(delayMs);
    // fail (link down / SIGTERM) at d1's last advert + φ (+ whole intervals until that is in the future)
    const last = [...tap.packets(wireMark)].reverse().find((p) => p.kind === 'vrrp' && p.src === D1IP && (p.prio ?? 0) > 0);
    if (!last) throw new Error('no advert from d1 on the wire');
    let at = last.t + targetPhase;
    while (at < wallNow() + 5) at += advMs;
    // and the same probe phase: a probe starts probePhase ms after the failure (mod 10 ms)
    probe.write(`align ${(at + probePhase).toFixed(3)}`);
    await sleep(at - wallNow() - 1);
    while (wallNow() < at) {
      // spin the last millisecond: timers are 1 ms coarse
    }
    const d2Mark = d2.mark();
    if (c.mode === 'crash') {
      [events.tFail, events.tLinkDown, events.tKilled] = await env.inject.run(`crash ${d1.crashPids().join(' ')}`);
      await d1.crash(); // make sure (the injector already did it)
    } else {
      [events.tFail] = await env.inject.run(`term ${d1.proc.pid}`);
    }
    await d2.waitState('MASTER', { since: d2Mark, timeoutMs: mdi + 10_000 });
    events.tD2Master = wallNow();
    await sleep(1000); // answers from d2 come within milliseconds of its GARPs
    if (c.mode === 'term') await Promise.race([d1.proc.exited, sleep(5000)]);
  } catch (e) {
    row.error = (e as Error).message.split('\n')[0];
  }
  if (probe) await probe.kill('SIGTERM', 2000);
  await Promise.all([d1?.stop(), d2?.stop()]);
  await sleep(30); // let tcpdump print the last packets
  const wire = tap.packets(wireMark);
  const probeLines = probe?.lines ?? [];
  if (!row.error) analyse(row, events, parseProbes(probeLines), wire, mdi, skew, c.mode);
  return { row, events, probes: probeLines, wire, d1log: d1?.proc.lines ?? [], d2log: d2?.proc.lines ?? [] };
}

function analyse(row: Row, ev: Record<string, number>, probes: Probe[], wire: WirePacket[], mdi: number, skew: number, mode: Case['mode']): void {
  const tF = ev.tFail!;
  const ok = probes.filter((p) => p.r === 'd1' || p.r === 'd2');
  const firstD2 = ok.find((p) => p.r === 'd2' && p.e >= tF);
  const lastD1 = [...ok].reverse().find((p) => p.r === 'd1' && p.e < (firstD2 ? firstD2.e : Infinity));
  const vr = wire.filter((p) => p.kind === 'vrrp');
  const d2adv = vr.find((p) => p.src === D2IP && p.t >= tF);
  const prio0 = vr.find((p) => p.src === D1IP && p.prio === 0 && p.t >= tF - 5);
  const lastD1adv = [...vr].reverse().find((p) => p.src === D1IP && (p.prio ?? 0) > 0 && p.t < (d2adv ? d2adv.t : Infinity));
  const tAt = ev.tLinkDown ?? tF; // the moment d1 is gone (crash) or told to go (term)
  const lastBeforeFail = [...vr].reverse().find((p) => p.src === D1IP && (p.prio ?? 0) > 0 && p.t <= tAt);
  const garp = d2adv ? wire.find((p) => p.kind === 'garp' && p.mac === '02:99:00:00:00:12' && p.src === VIP && p.t >= d2adv.t - 1) : undefined;
  if (lastBeforeFail) row.phase = tAt - lastBeforeFail.t;
  if (firstD2 && lastD1) row.userGap = firstD2.e - lastD1.e;
  if (firstD2) row.failed = probes.filter((p) => p.s >= tF && p.s < firstD2.s && p.r !== 'd1' && p.r !== 'd2').length;
  const ref = mode === 'crash' ? lastD1adv : prio0;
  if (d2adv && ref) {
    row.advGap = d2adv.t - ref.t;
    row.late = row.advGap - (mode === 'crash' ? mdi : skew);
  }
  if (d2adv && garp) row.garp = garp.t - d2adv.t;
  if (d2adv && firstD2) row.answer = firstD2.e - d2adv.t;
  if (prio0 && mode === 'term') row.termToPrio0 = prio0.t - tF;
  if (firstD2) {
    if (mode === 'crash' && lastD1adv) row.beyondRfc = firstD2.e - (lastD1adv.t + mdi);
    if (mode === 'term') row.beyondRfc = firstD2.e - (tF + skew);
  }
  if (!firstD2) row.error = 'no answer from d2';
}

// ---- main ------------------------------------------------------------------------------

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const again = a.get('report');
  if (again) {
    // print the tables of an earlier run again (its results.json)
    const j = JSON.parse(fs.readFileSync(again, 'utf8')) as { cases: string[]; raws: Raw[] };
    const rows = j.raws.map((r) => r.row);
    report(j.cases.map((id) => CASES.find((x) => x.id === id)!).filter(Boolean), IMPLS.filter((i) => rows.some((r) => r.impl === i)), rows);
    return;
  }
  const trials = Number(a.get('trials') ?? 3);
  const caseIds = (a.get('cases') ?? CASES.map((c) => c.id).join(',')).split(',');
  const cases = caseIds.map((id) => {
    const c = CASES.find((x) => x.id === id);
    if (!c) throw new Error(`unknown case ${id} (have ${CASES.map((x) => x.id).join(', ')})`);
    return c;
  });
  const impls = (a.get('impls') ?? IMPLS.join(',')).split(',') as Impl[];
  for (const i of impls) if (!IMPLS.includes(i)) throw new Error(`unknown implementation ${i}`);
  if (!isRoot) {
    console.log('failover benchmark: skipped (needs root for network namespaces)');
    return;
  }
  if (impls.includes('keepalived') && !haveKeepalived()) throw new Error('keepalived is not installed (or run with --impls lvsd)');
  const seed = Number(a.get('seed') ?? Date.now() % 1e9);
  const rand = rng(seed);
  const out = a.get('out') ?? fs.mkdtempSync(path.join(os.tmpdir(), 'lvsd-failover-'));
  fs.mkdirSync(out, { recursive: true });
  const lvsdRoot = a.get('lvsd-root');

  console.log(`failover benchmark: ${trials} trial(s) per case and implementation, cases ${caseIds.join(' ')}, seed ${seed}`);
  console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, ${os.cpus().length} CPUs; raw data in ${out}`);
  const lab = await Lab.create({
    nodes: [
      { name: 'd1', host: 11, role: 'director' },
      { name: 'd2', host: 12, role: 'director' },
      { name: 'c1', host: 31 },
    ],
  });
  const raws: Raw[] = [];
  try {
    for (const n of ['d1', 'd2']) {
      const s = lab.spawnNode(n, path.join(HERE, 'srv.js'), [n, '80']);
      await s.waitForLine(/listening/, { timeoutMs: 10_000 });
    }
    const tap = await WireTap.start(lab);
    const inject = await Injector.start(lab);
    const env: Env = { lab, tap, inject, dir: out, ...(lvsdRoot ? { lvsdRoot } : {}) };
    for (const c of cases) {
      const advMs = Number(c.advert) * 1000;
      // stratified phases, shuffled: trial i of every implementation fails at the same phase
      const slots = [...Array(trials).keys()];
      for (let i = slots.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [slots[i], slots[j]] = [slots[j]!, slots[i]!];
      }
      for (let t = 0; t < trials; t++) {
        const phase = ((slots[t]! + rand()) / trials) * advMs;
        const delay = 1500 + rand() * 1000;
        const probePhase = rand() * 10;
        const order = t % 2 === 0 ? impls : [...impls].reverse();
        for (const impl of order) {
          const r = await trial(env, c, impl, t + 1, phase, probePhase, delay);
          raws.push(r);
          const x = r.row;
          console.log(
            `  ${c.id} ${impl.padEnd(10)} trial ${t + 1}: phase ${fmt(x.phase)} user_gap ${fmt(x.userGap, 1)} failed ${fmt(x.failed)} adv_gap ${fmt(x.advGap, 1)} garp ${fmt(x.garp, 2)} answer ${fmt(x.answer, 1)}${x.termToPrio0 !== undefined ? ` term→prio0 ${fmt(x.termToPrio0, 1)}` : ''}${x.error ? ` ERROR ${x.error}` : ''}`,
          );
        }
      }
    }
    await tap.stop();
  } finally {
    fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify({ seed, trials, cases: caseIds, raws }, null, 1));
    await lab.destroy();
  }
  report(cases, impls, raws.map((r) => r.row));
}

function report(cases: Case[], impls: Impl[], rows: Row[]): void {
  const head = ['case', 'impl', 'n', 'user_gap', 'failed', 'adv_gap', 'late', 'garp', 'answer', 'term→prio0', 'beyond_rfc', 'lab (ka)', 'lvsd ≤ ka? Δ median user_gap (median of paired Δ; Δ beyond_rfc), ms'];
  const body: string[][] = [];
  const signed = (x: number): string => `${x > 0 ? '+' : ''}${x.toFixed(1)}`;
  for (const c of cases) {
    const med = (impl: Impl, f: (r: Row) => number | undefined): number | undefined =>
      stats(rows.filter((r) => r.case === c.id && r.impl === impl && !r.error).map(f))?.median;
    const lg = med('lvsd', (r) => r.userGap);
    const kg = med('keepalived', (r) => r.userGap);
    const lb = med('lvsd', (r) => r.beyondRfc);
    const kb = med('keepalived', (r) => r.beyondRfc);
    // trial i of both ran at the same advert and probe phase: the per-pair difference is the fair one
    const pairs = rows.filter((r) => r.case === c.id && r.impl === 'lvsd' && r.userGap !== undefined && !r.error).flatMap((l) => {
      const k = rows.find((r) => r.case === c.id && r.impl === 'keepalived' && r.trial === l.trial && r.userGap !== undefined && !r.error);
      return k ? [l.userGap! - k.userGap!] : [];
    });
    const paired = stats(pairs)?.median;
    const verdict =
      lg !== undefined && kg !== undefined
        ? `${lg <= kg ? 'yes' : 'NO'}: ${signed(lg - kg)} (paired ${paired !== undefined ? signed(paired) : '-'}; beyond_rfc ${lb !== undefined && kb !== undefined ? signed(lb - kb) : '-'})`
        : '-';
    for (const impl of impls) {
      const rs = rows.filter((r) => r.case === c.id && r.impl === impl);
      const good = rs.filter((r) => !r.error);
      const errs = rs.length - good.length;
      const st = (f: (r: Row) => number | undefined, d = 0): string => fmtStats(stats(good.map(f)), d);
      body.push([
        c.id,
        impl,
        `${good.length}${errs ? ` (+${errs} failed)` : ''}`,
        st((r) => r.userGap),
        st((r) => r.failed),
        st((r) => r.advGap, 1),
        st((r) => r.late, 1),
        st((r) => r.garp, 2),
        st((r) => r.answer, 1),
        c.mode === 'term' ? st((r) => r.termToPrio0, 1) : '-',
        st((r) => r.beyondRfc, 1),
        impl === 'keepalived' && c.labRef !== undefined ? String(c.labRef) : '',
        impl === impls[0] ? verdict : '',
      ]);
    }
  }
  console.log('\nms, median [min–max] over trials (see the top of bench/failover/run.ts for the metrics)');
  console.log(table(head, body));
  console.log('\nuser_gap per trial (trial i of both implementations failed at the same advert phase):');
  for (const c of cases)
    for (const impl of impls)
      console.log(`  ${c.id.padEnd(14)} ${impl.padEnd(10)} ${rows.filter((r) => r.case === c.id && r.impl === impl).map((r) => (r.error ? 'ERR' : fmt(r.userGap, 1))).join(' ')}`);
  const errs = rows.filter((r) => r.error);
  for (const e of errs) console.log(`  error: ${e.case} ${e.impl} trial ${e.trial}: ${e.error}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
