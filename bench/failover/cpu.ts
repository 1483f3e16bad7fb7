// CPU benchmark: many VRRP instances at short advert intervals, lvsd against keepalived 2.2.7 in
// the same run (as shared/tools/lab/bench/cpu.sh, whose keepalived numbers are the baseline:
// 50 × 0.01 s VRRPv3 = 15.7 % of one core on the master, 3.35 % on the backup).
//
//   node dist/bench/failover/cpu.js [--cases 50x0.01,1x0.01,50x0.1] [--seconds 20] [--rounds 1]
//                                   [--impls lvsd,keepalived] [--lvsd-root DIR] [--prof DIR] [--node-flags '...']
//
// Per case and implementation: d1 runs N instances (priority 150, all MASTER), d2 the same with
// priority 100 (all BACKUP), VRRPv3 on one bridge. After d1 is MASTER for all, d2 starts; 4 s
// later CPU time (utime+stime from /proc/PID/stat of the daemon and all its descendants) is
// sampled over the window on both, with d1's eth0 tx packets and d2's MASTER transitions (flaps)
// in the window, and the RSS of the daemon and its children. --prof DIR runs lvsd under
// `node --cpu-prof` and leaves the profiles there; --node-flags passes other flags to lvsd's node.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Lab, isRoot } from '../../src/lab/netns.js';
import {
  CLK_TCK,
  IMPLS,
  cpuTicks,
  fmt,
  genConf,
  haveKeepalived,
  parseArgs,
  rssKb,
  sleep,
  startDirector,
  table,
  wallNow,
  type Director,
  type Impl,
} from './common.js';

interface CpuCase {
  id: string;
  instances: number;
  advert: string;
  /** keepalived in the lab README: master %, backup % */
  labRef?: [number, number];
}

const CASES: CpuCase[] = [
  { id: '50x0.01', instances: 50, advert: '0.01', labRef: [15.7, 3.35] },
  { id: '1x0.01', instances: 1, advert: '0.01', labRef: [0.75, 0.2] },
  { id: '50x0.1', instances: 50, advert: '0.1', labRef: [1.95, 0.4] },
  { id: '10x0.01', instances: 10, advert: '0.01', labRef: [4.05, 0.85] },
  { id: '50x1', instances: 50, advert: '1', labRef: [0.2, 0] },
];

interface CpuRow {
  case: string;
  impl: Impl;
  round: number;
  masterPct: number;
  backupPct: number;
  txPerS: number;
  flaps: number;
  masterRssMb: number;
  backupRssMb: number;
  error?: string;
}

function treeTicks(d: Director): number {
  let t = 0;
  for (const p of d.tree()) t += cpuTicks(p) ?? 0;
  return t;
}

/** eth0 tx packets of the namespace the process lives in (/proc/PID/net/dev is per netns). */
function txPackets(pid: number): number {
  const lines = fs.readFileSync(`/proc/${pid}/net/dev`, 'utf8').split('\n');
  const l = lines.find((x) => x.trim().startsWith('eth0:'));
  if (!l) throw new Error('no eth0 in /proc/PID/net/dev');
  const f = l.split(':')[1]!.trim().split(/\s+/).map(Number);
  return f[9]!; // receive: bytes packets errs drop fifo frame compressed multicast | transmit: bytes packets
}

interface LvsdOpts {
  lvsdRoot: string | undefined;
  prof: string | undefined;
  nodeFlags: string[];
}

async function measure(lab: Lab, c: CpuCase, impl: Impl, round: number, secs: number, dir: string, o: LvsdOpts): Promise<CpuRow> {
  const row: CpuRow = { case: c.id, impl, round, masterPct: NaN, backupPct: NaN, txPerS: NaN, flaps: NaN, masterRssMb: NaN, backupRssMb: NaN };
  const opts = (node: string) => ({
    dir,
    ...(o.lvsdRoot ? { lvsdRoot: o.lvsdRoot } : {}),
    nodeFlags: [...o.nodeFlags, ...(o.prof ? ['--cpu-prof', `--cpu-prof-dir=${o.prof}`, `--cpu-prof-name=${c.id}-r${round}-${node}.cpuprofile`] : [])],
  });
  let d1: Director | undefined;
  let d2: Director | undefined;
  try {
    const conf = (node: string, priority: number, state: 'MASTER' | 'BACKUP'): string =>
      genConf({ node, priority, state, version: 3, advert: c.advert, instances: c.instances });
    d1 = startDirector(impl, lab, 'd1', conf('d1', 150, 'MASTER'), opts('d1'));
    await d1.waitState('MASTER', { count: c.instances, timeoutMs: 30_000 });
    d2 = startDirector(impl, lab, 'd2', conf('d2', 100, 'BACKUP'), opts('d2'));
    await d2.waitState('BACKUP', { count: c.instances, timeoutMs: 30_000 });
    await sleep(4000);
    const mark = d2.mark();
    const tx0 = txPackets(d1.proc.pid);
    const a0 = treeTicks(d1);
    const b0 = treeTicks(d2);
    const t0 = wallNow();
    await sleep(secs * 1000);
    const a1 = treeTicks(d1);
    const b1 = treeTicks(d2);
    const t1 = wallNow();
    const tx1 = txPackets(d1.proc.pid);
    const dt = (t1 - t0) / 1000;
    row.masterPct = (100 * (a1 - a0)) / CLK_TCK / dt;
    row.backupPct = (100 * (b1 - b0)) / CLK_TCK / dt;
    row.txPerS = (tx1 - tx0) / dt;
    row.flaps = d2.states(mark).filter((s) => s.to === 'MASTER').length;
    row.masterRssMb = d1.tree().reduce((n, p) => n + rssKb(p), 0) / 1024;
    row.backupRssMb = d2.tree().reduce((n, p) => n + rssKb(p), 0) / 1024;
  } catch (e) {
    row.error = (e as Error).message.split('\n')[0];
  }
  await Promise.all([d2?.stop(), d1?.stop()]);
  return row;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const ids = (a.get('cases') ?? '50x0.01,1x0.01,50x0.1').split(',');
  const cases = ids.map((id) => {
    const c = CASES.find((x) => x.id === id);
    if (!c) throw new Error(`unknown case ${id} (have ${CASES.map((x) => x.id).join(', ')})`);
    return c;
  });
  const secs = Number(a.get('seconds') ?? 20);
  const rounds = Number(a.get('rounds') ?? 1);
  const impls = (a.get('impls') ?? IMPLS.join(',')).split(',') as Impl[];
  for (const i of impls) if (!IMPLS.includes(i)) throw new Error(`unknown implementation ${i}`);
  if (!isRoot) {
    console.log('CPU benchmark: skipped (needs root for network namespaces)');
    return;
  }
  if (impls.includes('keepalived') && !haveKeepalived()) throw new Error('keepalived is not installed (or run with --impls lvsd)');
  const prof = a.get('prof');
  const nodeFlags = (a.get('node-flags') ?? '').split(' ').filter(Boolean);
  if (prof) fs.mkdirSync(prof, { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsd-cpu-'));
  console.log(`CPU benchmark: VRRPv3, cases ${ids.join(' ')}, ${secs} s window, ${rounds} round(s)`);
  console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, ${os.cpus().length} CPUs`);
  const lab = await Lab.create({
    nodes: [
      { name: 'd1', host: 11, role: 'director' },
      { name: 'd2', host: 12, role: 'director' },
    ],
  });
  const rows: CpuRow[] = [];
  try {
    for (let r = 1; r <= rounds; r++) {
      for (const c of cases) {
        const order = (r + cases.indexOf(c)) % 2 === 1 ? impls : [...impls].reverse();
        for (const impl of order) {
          const row = await measure(lab, c, impl, r, secs, dir, { lvsdRoot: a.get('lvsd-root'), prof, nodeFlags });
          rows.push(row);
          console.log(
            `  ${c.id} ${impl.padEnd(10)} round ${r}: master ${fmt(row.masterPct, 2)} % backup ${fmt(row.backupPct, 2)} % tx ${fmt(row.txPerS)} pkt/s flaps ${row.flaps}${row.error ? ` ERROR ${row.error}` : ''}`,
          );
        }
      }
    }
  } finally {
    await lab.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const head = ['instances × advert_int', 'impl', 'master CPU %', 'backup CPU %', 'master tx pkt/s', 'backup MASTER flaps', 'RSS master/backup MB', 'lab (ka) master/backup %', 'lvsd ≤ ka (master)'];
  const body: string[][] = [];
  const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  for (const c of cases) {
    const agg = new Map<Impl, CpuRow[]>();
    for (const impl of impls) agg.set(impl, rows.filter((x) => x.case === c.id && x.impl === impl && !x.error));
    const l = agg.get('lvsd') ?? [];
    const k = agg.get('keepalived') ?? [];
    const verdict = l.length && k.length ? (mean(l.map((x) => x.masterPct)) <= mean(k.map((x) => x.masterPct)) ? 'yes' : 'NO') : '-';
    for (const impl of impls) {
      const rs = agg.get(impl)!;
      const span = (f: (x: CpuRow) => number, d: number): string => {
        if (!rs.length) return '-';
        const v = rs.map(f);
        return rs.length === 1 ? fmt(v[0], d) : `${fmt(mean(v), d)} [${fmt(Math.min(...v), d)}–${fmt(Math.max(...v), d)}]`;
      };
      body.push([
        `${c.instances} × ${c.advert} s`,
        impl,
        span((x) => x.masterPct, 2),
        span((x) => x.backupPct, 2),
        span((x) => x.txPerS, 0),
        span((x) => x.flaps, 0),
        rs.length ? `${fmt(mean(rs.map((x) => x.masterRssMb)), 1)} / ${fmt(mean(rs.map((x) => x.backupRssMb)), 1)}` : '-',
        impl === 'keepalived' && c.labRef ? `${c.labRef[0]} / ${c.labRef[1]}` : '',
        impl === impls[0] ? verdict : '',
      ]);
    }
  }
  console.log(`\n% of one core (utime+stime of the daemon and its children over ${secs} s; mean [min–max] over rounds)`);
  console.log(table(head, body));
  const errs = rows.filter((x) => x.error);
  for (const e of errs) console.log(`  error: ${e.case} ${e.impl} round ${e.round}: ${e.error}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
