// Benchmark: VRRP advert send jitter with health checks running (issue 4 item 4).
// "Checks run off the VRRP event loop: with 5,000 HTTP checks per second running, VRRP advert
// send jitter at advert_int 0.01 stays under 2 ms at p99."
//
// Lab (src/lab/netns.ts, one bridge): a director namespace running `lvsd run` (one VRRPv3
// instance, advert_int 0.01, MASTER without a peer; `dataplane none`, so no kernel load
// balancer is programmed), a "tgt" namespace holding the HTTP targets (bench/checks/
// http-target.js processes answering 200, on every address of 10.251.0.0/16 through a local
// route, so that every real server is a distinct address:port and no probe is deduplicated), and
// an observer namespace timestamping every advert (observer.ts: AF_PACKET + SO_TIMESTAMPNS, the
// kernel's receive timestamp; veth delivers from the sender's transmit path, so this is the send
// time within microseconds, however late the observer itself runs; tcpdump would give the same
// stamps but adds a process to parse, and a raw proto-112 socket would have to join the group).
//
// Scenarios (each --seconds long after warm-up, same lab and targets):
//   a  VRRP only (no virtual server)
//   b  + 5,500 real servers, HTTP_GET, delay_loop 1 s (checker_isolation process, the default).
//      A checker probes again delay_loop after its last result, so the rate is real servers /
//      (1 s + probe latency); 5,500 keeps it at >= 5,000/s on a busy 2-core machine.
//   c  the same with checker_isolation worker
// Jitter = |inter-advert interval - 10 ms| (p50..max, and intervals > 12 ms); PASS = p99 < 2 ms.
// As root `lvsd run` puts its event loop on SCHED_RR 1 (src/daemon/sched.ts); --sched=other shows
// the same daemon with normal scheduling. CPU is % of one core over the window, from /proc:
// the daemon process and its main thread (the VRRP loop), the checker (the child process; in
// worker mode the daemon process minus its main thread), the targets. checks/s = responses the
// targets served in the window.
//
//   node dist/bench/isolation/jitter.js [--seconds=20] [--rs=5500] [--only=a,b,c] [--targets=4]
//        [--warmup=6] [--repeat=1] [--sched=default,other]
// Diagnosis: --sched=other|nice:N|rr:N (re-schedule the daemon's main thread from outside after
// start; `other` = normal scheduling, as before lvsd used SCHED_RR), --reconcile=S
// (reconcile_interval), --dataplane=nftables (instead of none), --trace-gc (GC pauses of the
// daemon's main isolate in the window), --node-args="..." (V8/Node flags for the daemon),
// --from-start (the window starts when the daemon is MASTER: start-up included),
// --dump=DIR (advert timestamps and intervals, the daemon's log, its main thread's CPU).
import { table as mdTable } from '../table.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Lab, PROJECT_ROOT, isRoot, type LabProcess } from '../../src/lab/netns.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const TARGET_JS = path.resolve(here, '../checks/http-target.js');
const OBSERVER_JS = path.join(here, 'observer.js');
const LVSD = path.join(PROJECT_ROOT, 'bin/lvsd.js');
const ADVERT_MS = 10;
const VRID = 51;
const FIRST_PORT = 21000;
const PORTS = 100;
const NET = '10.251';
const CLK_TCK = 100;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const wallNs = (): bigint => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

function args(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of process.argv.slice(2)) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (m) out[m[1]!] = m[2] ?? 'true';
  }
  return out;
}

// ---- configuration -----------------------------------------------------------------------

export interface ScenarioSpec {
  key: string;
  name: string;
  realServers: number;
  isolation: 'process' | 'worker';
}

function rsAddress(i: number): { address: string; port: number } {
  const a = Math.floor(i / PORTS);
  return { address: `${NET}.${Math.floor(a / 250)}.${(a % 250) + 1}`, port: FIRST_PORT + (i % PORTS) };
}

export interface ConfOptions {
  dataplane: 'none' | 'nftables';
  /** lvsd_defs reconcile_interval, seconds */
  reconcileS?: number;
}

export function genConf(s: ScenarioSpec, o: ConfOptions = { dataplane: 'none' }): string {
  const l = [
    'global_defs {',
    '    router_id isolation-bench',
    '}',
    'lvsd_defs {',
    `    dataplane ${o.dataplane}`,
    ...(o.reconcileS ? [`    reconcile_interval ${o.reconcileS}`] : []),
    `    checker_isolation ${s.isolation}`,
    '}',
    'vrrp_instance VI_1 {',
    '    state MASTER',
    '    interface eth0',
    `    virtual_router_id ${VRID}`,
    '    priority 150',
    '    version 3',
    '    advert_int 0.01',
    '    virtual_ipaddress {',
    '        10.99.0.100/24 dev eth0',
    '    }',
    '}',
  ];
  if (s.realServers > 0) {
    l.push('virtual_server 10.99.0.100 80 {', '    delay_loop 1', '    lb_algo rr', '    lb_kind NAT', '    protocol TCP');
    for (let i = 0; i < s.realServers; i++) {
      const { address, port } = rsAddress(i);
      l.push(
        `    real_server ${address} ${port} {`,
        '        HTTP_GET {',
        '            url {',
        '                path /',
        '                status_code 200',
        '            }',
        '            connect_timeout 3',
        '        }',
        '    }',
      );
    }
    l.push('}');
  }
  return `${l.join('\n')}\n`;
}

// ---- /proc -------------------------------------------------------------------------------

function ticks(statPath: string): number {
  try {
    const f = fs.readFileSync(statPath, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]); // utime + stime
  } catch {
    return 0;
  }
}
const procTicks = (pid: number): number => ticks(`/proc/${pid}/stat`);
const threadTicks = (pid: number, tid: number): number => ticks(`/proc/${pid}/task/${tid}/stat`);

function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      const c = fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (c) out.push(...c.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function niceOf(pid: number): number | undefined {
  try {
    return os.getPriority(pid);
  } catch {
    return undefined;
  }
}

/**
 * --sched: how the daemon's main thread (the VRRP loop) is scheduled, changed from outside after
 * start: `default` (as lvsd sets it: SCHED_RR 1 as root), `other` (normal scheduling, lvsd before
 * it used realtime priority), `nice:N`, `rr:N`.
 */
async function applySched(lab: Lab, pid: number, sched: string): Promise<void> {
  const [kind, v] = sched.split(':');
  if (kind === 'default') return;
  if (kind === 'other') await lab.exec('d1', 'chrt', '-o', '-p', '0', String(pid));
  else if (kind === 'nice') {
    await lab.exec('d1', 'chrt', '-o', '-p', '0', String(pid));
    os.setPriority(pid, Number(v));
  } else if (kind === 'rr') await lab.exec('d1', 'chrt', '-R', '-r', '-p', v ?? '1', String(pid));
  else throw new Error(`--sched: ${sched}?`);
}

const POLICY = ['OTHER', 'FIFO', 'RR', 'BATCH', 'ISO', 'IDLE', 'DEADLINE'];

/** "RR 1", "OTHER nice 0": policy of one thread, from /proc (rt_priority, policy = fields 40, 41) */
function schedOf(pid: number, tid: number): string {
  try {
    const f = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    const policy = Number(rest[38]);
    return policy === 1 || policy === 2 ? `${POLICY[policy]} ${rest[37]}` : `${POLICY[policy] ?? policy} nice ${rest[16]}`;
  } catch {
    return '?';
  }
}

/** threads of pid with a realtime policy */
function rtThreads(pid: number): number {
  let n = 0;
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) if (/^(RR|FIFO)/.test(schedOf(pid, Number(t)))) n++;
  } catch {
    // gone
  }
  return n;
}

export interface GcStats {
  count: number;
  totalMs: number;
  maxMs: number;
  /** trace lines of the pauses over 2 ms */
  lines: string[];
}

/**
 * --trace-gc lines of the daemon's main isolate ("[pid:0xisolate]  123 ms: Scavenge ..., 0.65 / 0.00 ms
 * ...", the time is since the isolate started) whose time falls in [fromMs, toMs]. V8 writes them
 * through stdio, buffered in a pipe, so they are read after the daemon exited.
 */
function gcPauses(lines: readonly string[], pid: number, fromMs: number, toMs: number): GcStats {
  const re = /^\[(\d+):(0x[0-9a-f]+)\]\s+(\d+) ms: [^,]+, ([\d.]+) \/ [\d.]+ ms/;
  let main: string | undefined;
  const out: GcStats = { count: 0, totalMs: 0, maxMs: 0, lines: [] };
  for (const l of lines) {
    const m = re.exec(l);
    if (!m || Number(m[1]) !== pid) continue;
    main ??= m[2];
    const at = Number(m[3]);
    if (m[2] !== main || at < fromMs || at > toMs) continue;
    const ms = Number(m[4]);
    out.count++;
    out.totalMs += ms;
    out.maxMs = Math.max(out.maxMs, ms);
    if (ms > 2) out.lines.push(l.slice(0, 160));
  }
  return out;
}

// ---- statistics --------------------------------------------------------------------------

function pct(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface JitterStats {
  adverts: number;
  intervals: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  over12: number;
  meanIntervalMs: number;
}

/** |interval - advert| over consecutive timestamps (ns). */
export function jitter(stampsNs: readonly bigint[], advertMs = ADVERT_MS): JitterStats {
  const dev: number[] = [];
  let over12 = 0;
  let sum = 0;
  for (let i = 1; i < stampsNs.length; i++) {
    const iv = Number(stampsNs[i]! - stampsNs[i - 1]!) / 1e6;
    sum += iv;
    if (iv > advertMs + 2) over12++;
    dev.push(Math.abs(iv - advertMs));
  }
  dev.sort((a, b) => a - b);
  return {
    adverts: stampsNs.length,
    intervals: dev.length,
    p50: pct(dev, 50),
    p90: pct(dev, 90),
    p99: pct(dev, 99),
    p999: pct(dev, 99.9),
    max: dev[dev.length - 1] ?? NaN,
    over12,
    meanIntervalMs: dev.length ? sum / dev.length : NaN,
  };
}

// ---- the lab -----------------------------------------------------------------------------

interface Served {
  at: number;
  served: number;
}

class Targets {
  readonly procs: LabProcess[] = [];
  /** per target process: arrival time (performance.now) of each stdout line, filled by track() */
  private readonly arrival = new Map<LabProcess, number[]>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly lab: Lab,
    private readonly count: number,
  ) {}

  async start(): Promise<void> {
    const per = Math.ceil(PORTS / this.count);
    for (let k = 0; k < this.count; k++) {
      const first = FIRST_PORT + k * per;
      const n = Math.min(per, FIRST_PORT + PORTS - first);
      if (n <= 0) break;
      this.procs.push(this.lab.spawnNode('tgt', TARGET_JS, [String(first), String(n)]));
    }
    await Promise.all(this.procs.map((p) => p.waitForLine(/"ready"/, { timeoutMs: 15_000 })));
  }

  /** Cumulative responses as reported once a second by each target, with local arrival times. */
  private series(p: LabProcess): Served[] {
    const out: Served[] = [];
    for (const [i, l] of p.lines.entries()) {
      const m = /"served":(\d+)/.exec(l);
      if (m) out.push({ at: this.arrival.get(p)?.[i] ?? 0, served: Number(m[1]) });
    }
    return out;
  }

  track(): void {
    this.timer = setInterval(() => {
      const now = performance.now();
      for (const p of this.procs) {
        const a = this.arrival.get(p) ?? [];
        while (a.length < p.lines.length) a.push(now);
        this.arrival.set(p, a);
      }
    }, 20);
  }

  untrack(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** responses per second between t0 and t1 (performance.now), summed over the targets */
  rate(t0: number, t1: number): number {
    let total = 0;
    for (const p of this.procs) {
      const s = this.series(p);
      const a = s.filter((x) => x.at >= t0).at(0);
      const b = s.filter((x) => x.at <= t1).at(-1);
      if (a && b && b.at > a.at) total += (b.served - a.served) / ((b.at - a.at) / 1000);
    }
    return total;
  }

  ticks(): number {
    return this.procs.reduce((s, p) => s + procTicks(p.pid), 0);
  }
}

export interface Row {
  spec: ScenarioSpec;
  nominalPerS: number;
  achievedPerS: number;
  j: JitterStats;
  expectedAdverts: number;
  daemonCpu: number;
  mainThreadCpu: number;
  checkerCpu: number;
  targetsCpu: number;
  observerCpu: number;
  logLines: number;
  stateChanges: number;
  checkerNice: number | undefined;
  /** --sched mode, the main thread's policy seen in /proc, realtime threads in daemon + checker */
  sched: string;
  loopSched: string;
  rtThreads: number;
  /** --trace-gc: GC pauses of the daemon's main isolate in the window */
  gc?: GcStats;
  loadavg: string;
}

async function runScenario(lab: Lab, targets: Targets, observer: LabProcess, spec: ScenarioSpec, o: { seconds: number; warmupS: number; tmp: string; sched: string; conf: ConfOptions; dump?: string; traceGc?: boolean; nodeArgs?: string[]; fromStart?: boolean }): Promise<Row> {
  const conf = path.join(o.tmp, `${spec.key}.conf`);
  fs.writeFileSync(conf, genConf(spec, o.conf));
  const lvsd = lab.spawn('d1', process.execPath, [...(o.traceGc ? ['--trace-gc'] : []), ...(o.nodeArgs ?? []), LVSD, 'run', '-f', conf]);
  const spawnedAt = performance.now();
  const spawnedWallMs = performance.timeOrigin + spawnedAt;
  // --dump: the daemon main thread's CPU every 250 ms from spawn on (when is the VRRP loop busy?)
  const cpuTrace: string[] = [];
  let lastTicks = 0;
  const sampler = o.dump
    ? setInterval(() => {
        const t = threadTicks(lvsd.pid, lvsd.pid);
        cpuTrace.push(`${((performance.now() - spawnedAt) / 1000).toFixed(2)} ${t - lastTicks}`);
        lastTicks = t;
      }, 250)
    : null;
  try {
    await lvsd.waitForJson<{ event?: string; to?: string }>((j) => j.event === 'state' && j.to === 'MASTER', { timeoutMs: 30_000 });
    const nominal = spec.realServers; // delay_loop 1 s
    if (nominal > 0 && !o.fromStart) {
      // the checker has loaded and every checker has started (first probes spread over delay_loop)
      const end = performance.now() + 60_000;
      for (;;) {
        await sleep(1000);
        const t = performance.now();
        if (targets.rate(t - 2500, t) >= nominal * 0.6) break;
        if (t > end) throw new Error(`${spec.name}: checks never reached 60 % of ${nominal}/s (now ${Math.round(targets.rate(t - 2500, t))}/s)`);
      }
    }
    if (!o.fromStart) await sleep(o.warmupS * 1000);
    const pid = lvsd.pid;
    await applySched(lab, pid, o.sched);
    const checkerPid = children(pid).find((c) => cmdline(c).includes('process-main'));
    const since = lvsd.mark();
    const c0 = { d: procTicks(pid), m: threadTicks(pid, pid), c: checkerPid ? procTicks(checkerPid) : 0, t: targets.ticks(), o: procTicks(observer.pid) };
    const t0 = performance.now();
    const n0 = wallNs();
    await sleep(o.seconds * 1000);
    const n1 = wallNs();
    const t1 = performance.now();
    const c1 = { d: procTicks(pid), m: threadTicks(pid, pid), c: checkerPid ? procTicks(checkerPid) : 0, t: targets.ticks(), o: procTicks(observer.pid) };
    const wallS = (t1 - t0) / 1000;
    const cpu = (d: number): number => (d / CLK_TCK / wallS) * 100;
    // the observer (normal priority, maybe starved) has written every advert up to n1
    const seenAfter = (): boolean => observer.lines.some((l) => l.startsWith('A ') && BigInt(l.split(' ')[1]!) > n1);
    for (let i = 0; i < 100 && !seenAfter(); i++) await sleep(100);
    if (sampler) clearInterval(sampler);
    if (o.dump) fs.writeFileSync(path.join(o.dump, `${spec.key}-cpu-${Date.now()}.txt`), `# s since spawn, main-thread ticks (10 ms) per 250 ms; window ${((t0 - spawnedAt) / 1000).toFixed(2)}..${((t1 - spawnedAt) / 1000).toFixed(2)}\n${cpuTrace.join('\n')}\n`);
    const stamps: bigint[] = [];
    const d1 = lab.node('d1').ipv4;
    for (const l of observer.lines) {
      if (!l.startsWith('A ')) continue;
      const [, ns, src, vrid] = l.split(' ');
      const t = BigInt(ns!);
      if (t >= n0 && t <= n1 && src === d1 && Number(vrid) === VRID) stamps.push(t);
    }
    stamps.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (o.dump) fs.writeFileSync(path.join(o.dump, `${spec.key}-${Date.now()}.txt`), stamps.map((x, i) => (i ? `${x} ${Number(x - stamps[i - 1]!) / 1e6}` : `${x}`)).join('\n') + '\n');
    const logs = lvsd.lines.slice(since);
    if (o.dump) fs.writeFileSync(path.join(o.dump, `${spec.key}-log-${Date.now()}.txt`), `${lvsd.lines.join('\n')}\n--- stderr\n${lvsd.stderr}`);
    const row: Row = {
      spec,
      nominalPerS: nominal,
      achievedPerS: Math.round(targets.rate(t0, t1)),
      j: jitter(stamps),
      expectedAdverts: Math.round((o.seconds * 1000) / ADVERT_MS),
      daemonCpu: cpu(c1.d - c0.d),
      mainThreadCpu: cpu(c1.m - c0.m),
      // worker mode: everything in the daemon process but its main thread
      // a checker process that was restarted during the window has no meaningful figure
      checkerCpu: checkerPid ? (c1.c ? cpu(c1.c - c0.c) : NaN) : spec.realServers > 0 ? cpu(c1.d - c0.d - (c1.m - c0.m)) : 0,
      targetsCpu: cpu(c1.t - c0.t),
      observerCpu: cpu(c1.o - c0.o),
      logLines: logs.filter((l) => l.startsWith('{')).length,
      stateChanges: logs.filter((l) => l.includes('"event":"state"')).length,
      checkerNice: checkerPid ? niceOf(checkerPid) : undefined,
      sched: o.sched,
      loopSched: schedOf(pid, pid),
      rtThreads: rtThreads(pid) + (checkerPid ? rtThreads(checkerPid) : 0),
      loadavg: fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    };
    if (o.traceGc) {
      await lvsd.kill('SIGTERM', 5000);
      row.gc = gcPauses(lvsd.lines, pid, t0 - spawnedAt, t1 - spawnedAt);
      // GC lines with their approximate wall time (isolate start ~ spawn), to line up with the dump
      if (o.dump) {
        const gcLines = lvsd.lines.filter((l) => /^\[\d+:0x[0-9a-f]+\]\s+\d+ ms: /.test(l));
        const stamped = gcLines.map((l) => `${Math.round((spawnedWallMs + Number(/\]\s+(\d+) ms/.exec(l)![1])) * 1e6)} ${l}`);
        fs.writeFileSync(path.join(o.dump, `${spec.key}-gc-${Date.now()}.txt`), `${stamped.join('\n')}\n`);
      }
    }
    return row;
  } finally {
    if (sampler) clearInterval(sampler);
    await lvsd.kill('SIGTERM', 5000);
  }
}

// ---- output ------------------------------------------------------------------------------

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');

export function table(rows: readonly Row[]): string {
  const head = ['scenario', 'VRRP loop', 'real servers', 'checks/s', 'adverts', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', '>12 ms', 'daemon CPU %', 'main thread %', 'checker CPU %', 'targets CPU %', 'p99 < 2 ms'];
  const lines = rows.map((r) => [
    r.spec.name,
    r.loopSched,
    String(r.nominalPerS),
    String(r.achievedPerS),
    `${r.j.adverts}/${r.expectedAdverts}`,
    f2(r.j.p50),
    f2(r.j.p90),
    f2(r.j.p99),
    f2(r.j.p999),
    f2(r.j.max),
    String(r.j.over12),
    f1(r.daemonCpu),
    f1(r.mainThreadCpu),
    f1(r.checkerCpu),
    f1(r.targetsCpu),
    r.j.p99 < 2 && r.j.intervals > 0 ? 'PASS' : 'FAIL',
  ]);
  return mdTable(head, lines, `ll${'r'.repeat(head.length - 2)}`);
}

export const SCENARIOS: readonly ScenarioSpec[] = [
  { key: 'a', name: 'a: VRRP only', realServers: 0, isolation: 'process' },
  { key: 'b', name: 'b: checks, isolation process', realServers: 1, isolation: 'process' },
  { key: 'c', name: 'c: checks, isolation worker', realServers: 1, isolation: 'worker' },
];

export async function run(): Promise<Row[]> {
  if (!isRoot) {
    process.stdout.write('bench/isolation: needs root (network namespaces); skipped\n');
    return [];
  }
  const a = args();
  const seconds = Number(a.seconds ?? 20);
  const warmupS = Number(a.warmup ?? 6);
  const rs = Number(a.rs ?? 5500);
  const only = (a.only ?? 'a,b,c').split(',');
  const repeat = Number(a.repeat ?? 1);
  const scheds = (a.sched ?? 'default').split(',');
  const conf: ConfOptions = { dataplane: a.dataplane === 'nftables' ? 'nftables' : 'none', ...(a.reconcile ? { reconcileS: Number(a.reconcile) } : {}) };
  const specs = SCENARIOS.filter((s) => only.includes(s.key)).map((s) => ({ ...s, realServers: s.realServers ? rs : 0 }));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsd-isolation-'));
  const lab = await Lab.create({ nodes: [{ name: 'd1', host: 11, role: 'director' }, { name: 'tgt', host: 20 }, { name: 'obs', host: 30 }] });
  const rows: Row[] = [];
  const targets = new Targets(lab, Number(a.targets ?? 4));
  try {
    // every 10.251/16 address is local in the targets namespace, reached from the director via tgt
    await lab.exec('tgt', 'ip', 'route', 'add', 'local', `${NET}.0.0/16`, 'dev', 'lo');
    await lab.exec('d1', 'ip', 'route', 'add', `${NET}.0.0/16`, 'via', lab.node('tgt').ipv4!, 'dev', 'eth0');
    await targets.start();
    targets.track();
    const observer = lab.spawnNode('obs', OBSERVER_JS, ['eth0']);
    await observer.waitForLine(/"ready"/, { timeoutMs: 10_000 });
    for (let r = 0; r < repeat; r++) {
      for (const sched of scheds) {
        for (const s of specs) {
          process.stderr.write(`[isolation] ${s.name}, --sched=${sched}: starting (${seconds} s after warm-up)\n`);
          const row = await runScenario(lab, targets, observer, s, { seconds, warmupS, tmp, sched, conf, traceGc: !!a['trace-gc'], fromStart: !!a['from-start'], nodeArgs: (a['node-args'] ?? '').split(' ').filter(Boolean), ...(a.dump ? { dump: a.dump } : {}) });
          rows.push(row);
          const g = row.gc;
          if (g) process.stderr.write(`[isolation]   GC of the daemon's main isolate in the window: ${g.count} pauses, ${f1(g.totalMs)} ms total, max ${f2(g.maxMs)} ms${g.lines.map((l) => `\n    ${l}`).join('')}\n`);
          process.stderr.write(
            `[isolation] ${s.name}: loop ${row.loopSched}, realtime threads ${row.rtThreads}, p99 ${f2(row.j.p99)} ms, max ${f2(row.j.max)} ms, ${row.achievedPerS} checks/s, daemon ${f1(row.daemonCpu)} %, checker ${f1(row.checkerCpu)} % (nice ${row.checkerNice ?? '-'}), log lines ${row.logLines}, state changes ${row.stateChanges}, load ${row.loadavg}\n`,
          );
        }
      }
    }
    await observer.kill('SIGTERM');
  } finally {
    targets.untrack();
    await lab.destroy();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const loads = rows.map((r) => Number(r.loadavg.split(' ')[0]));
  process.stdout.write(
    `\nVRRP advert send jitter under health-check load (${seconds} s per scenario, ${os.cpus().length} CPUs, node ${process.version}, 1-min load average ${Math.min(...loads)}..${Math.max(...loads)}; VRRPv3 advert_int 0.01; jitter = |interval - 10 ms| from kernel timestamps)\n`,
  );
  process.stdout.write(`${table(rows)}\n`);
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`${(err as Error).stack}\n`);
      process.exit(1);
    },
  );
}
