// Benchmark: 10,000 real servers with HTTP_GET at delay_loop 1 s (10,000 checks/s) against
// local HTTP targets (100 ports x 100 addresses, so no two real servers dedupe), checks running
// in the isolated checker process (pinned to CPU 0, the targets to CPU 1). Measures that
// process's CPU (% of one core) and RSS, the parent's CPU (the VRRP side), and the highest
// check rate one core sustains. Targets: <= 50 % of one core and <= 200 MB RSS at 10,000/s.
//
// Two topologies:
//  - loopback: targets on 127.0.0.x. Loopback runs the *receiver's* TCP input path in the
//    sender's context, so the checker is also billed for the targets' SYN/data/FIN processing;
//  - netns: targets in a namespace behind a veth pair whose receive processing is steered (RPS)
//    to the targets' CPU, as a real network would; the checker pays for its own side only.
//    Needs root (skipped otherwise).
//
//   node dist/bench/checks/http-checks.js [--rs=10000] [--seconds=20] [--only=loopback|netns|undici|max]
import { table } from '../table.js';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CheckerInput } from '../../checks/input.js';
import { CheckerHost, type ChildStats } from '../../src/daemon/checker-host.js';
import type { HttpCheck } from '../../src/config/model.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIRST_PORT = 21000;
const PORTS = 100;
const ADDRS = 100;
const loc = { file: 'bench', line: 1, col: 1 };

interface Row {
  scenario: string;
  realServers: number;
  nominalPerS: number;
  achievedPerS: number;
  failedPct: number;
  cpuPct: number;
  usPerCheck: number;
  rssMB: number;
  lagMs: number;
  parentCpuPct: number;
  targetCpuPct: number;
}

function args(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of process.argv.slice(2)) {
    const m = /^--([^=]+)=(.*)$/.exec(a);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

function check(delayLoopMs: number): HttpCheck {
  return {
    type: 'HTTP_GET',
    urls: [{ path: '/', statusCodes: [[200, 299]], regexNoMatch: false, regexOptions: [], loc }],
    httpProtocol: '1.0',
    fastRecovery: false,
    enableSni: false,
    tlsCompliant: false,
    connectTimeoutMs: 5000,
    delayLoopMs,
    retry: 1,
    delayBeforeRetryMs: 1000,
    warmupMs: delayLoopMs,
    alpha: false,
    logAllFailures: false,
    loc,
  };
}

type Topology = 'loopback' | 'netns';
const NS_NET = '10.251';

function input(n: number, delayLoopMs: number, topo: Topology): CheckerInput {
  const chk = check(delayLoopMs);
  const realServers = [];
  for (let i = 0; i < n; i++) {
    const port = FIRST_PORT + (i % PORTS);
    const a = Math.floor(i / PORTS);
    // <prefix>.<a/100>.<a%100+1>: 100 addresses per 10,000 real servers
    const prefix = topo === 'loopback' ? '127' : NS_NET.split('.')[0]!;
    const second = topo === 'loopback' ? 0 : Number(NS_NET.split('.')[1]);
    const address = `${prefix}.${second}.${Math.floor(a / ADDRS)}.${(a % ADDRS) + 1}`;
    realServers.push({ rsId: `vs:bench/rs:[${address}]:${port}`, vsId: 'vs:bench', target: { address, port, family: 'inet' as const }, weight: 1, checkers: [chk] });
  }
  return { realServers, settings: { enableScriptSecurity: false, trackFiles: {}, logAllFailures: false } };
}

const CLK_TCK = 100;
function procCpuTicks(pid: number): number {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]); // utime + stime
  } catch {
    return 0;
  }
}

async function startTarget(ns?: string): Promise<ChildProcess> {
  const cmd = [process.execPath, path.join(here, 'http-target.js'), String(FIRST_PORT), String(PORTS)];
  const full = [...(hasTaskset ? ['taskset', '-c', '1'] : []), ...(ns ? ['ip', 'netns', 'exec', ns] : []), ...cmd];
  const child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('"ready"')) resolve();
    });
    child.on('exit', (c) => reject(new Error(`target exited ${c}`)));
  });
  child.stdout!.resume();
  return child;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const hasTaskset = has('taskset');

function pin(pid: number, cpu: number): void {
  if (!hasTaskset) return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
  } catch {
    /* best effort */
  }
}

/** Targets' namespace behind a veth pair; receive processing steered to each side's CPU. */
function makeNetns(): { ns: string; cleanup: () => void } {
  const ns = `lvsdb${process.pid}`;
  const a = `lvb${process.pid}a`.slice(0, 15);
  const b = `lvb${process.pid}b`.slice(0, 15);
  const sh = (c: string) => execFileSync('sh', ['-ec', c], { stdio: ['ignore', 'ignore', 'pipe'] });
  const cleanup = (): void => {
    try { sh(`ip route del ${NS_NET}.0.0/16 2>/dev/null || true; ip link del ${a} 2>/dev/null || true; ip netns del ${ns} 2>/dev/null || true`); } catch { /* gone */ }
  };
  cleanup();
  try {
    sh(`ip netns add ${ns}
ip link add ${a} type veth peer name ${b}
ip link set ${b} netns ${ns}
ip addr add 10.250.${process.pid % 250}.1/30 dev ${a}
ip link set ${a} up
ip -n ${ns} link set lo up
ip -n ${ns} addr add 10.250.${process.pid % 250}.2/30 dev ${b}
ip -n ${ns} link set ${b} up
ip -n ${ns} route add local ${NS_NET}.0.0/16 dev lo
ip route add ${NS_NET}.0.0/16 via 10.250.${process.pid % 250}.2
echo 1 > /sys/class/net/${a}/queues/rx-0/rps_cpus
ip netns exec ${ns} sh -c 'echo 2 > /sys/class/net/${b}/queues/rx-0/rps_cpus'`);
  } catch (err) {
    cleanup();
    throw err;
  }
  return { ns, cleanup };
}

async function scenario(name: string, topo: Topology, n: number, delayLoopMs: number, engine: 'raw' | 'undici', seconds: number, targetPid: number): Promise<Row> {
  const host = new CheckerHost({ httpEngine: engine, heartbeatTimeoutMs: 30_000, nice: 0 });
  const samples: (ChildStats & { at: number })[] = [];
  host.on('stats', (s) => samples.push({ ...s, at: performance.now() }));
  host.start(input(n, delayLoopMs, topo));
  await sleep(50);
  if (host.childPid) pin(host.childPid, 0);
  // warm up: every checker has started and the rate settled
  await sleep(Math.max(4000, delayLoopMs * 3));
  const first = samples[samples.length - 1]!;
  const pCpu0 = process.cpuUsage();
  const tCpu0 = procCpuTicks(targetPid);
  const t0 = performance.now();
  const lags: number[] = [];
  let peakRss = 0;
  const startIdx = samples.length;
  await sleep(seconds * 1000);
  const last = samples[samples.length - 1]!;
  for (const s of samples.slice(startIdx)) {
    lags.push(s.loopLagMs);
    peakRss = Math.max(peakRss, s.rssBytes);
  }
  const wallS = (performance.now() - t0) / 1000;
  const hbWallS = (last.at - first.at) / 1000;
  const pCpu = process.cpuUsage(pCpu0);
  const tCpu = procCpuTicks(targetPid) - tCpu0;
  await host.stop();
  const done = last.completed - first.completed;
  const cpuUs = last.cpuUserUs + last.cpuSystemUs - (first.cpuUserUs + first.cpuSystemUs);
  lags.sort((a, b) => a - b);
  return {
    scenario: name,
    realServers: n,
    nominalPerS: Math.round(n / (delayLoopMs / 1000)),
    achievedPerS: Math.round(done / hbWallS),
    failedPct: done ? Math.round(((last.failed - first.failed) / done) * 1000) / 10 : 0,
    cpuPct: Math.round((cpuUs / 1e6 / hbWallS) * 1000) / 10,
    usPerCheck: done ? Math.round(cpuUs / done) : 0,
    rssMB: Math.round(peakRss / 1048576),
    lagMs: lags[Math.floor(lags.length * 0.95)] ?? 0,
    parentCpuPct: Math.round(((pCpu.user + pCpu.system) / 1e6 / wallS) * 1000) / 10,
    targetCpuPct: Math.round((tCpu / CLK_TCK / wallS) * 1000) / 10,
  };
}

function resultTable(rows: Row[]): string {
  const head = ['scenario', 'real servers', 'nominal/s', 'achieved/s', 'failed %', 'checker CPU %', 'CPU us/check', 'checks/s per core', 'checker RSS MB', 'p95 loop lag ms', 'parent CPU %', 'target CPU %'];
  const lines = rows.map((r) =>
    [r.scenario, r.realServers, r.nominalPerS, r.achievedPerS, r.failedPct, r.cpuPct, r.usPerCheck, r.usPerCheck ? Math.round(1e6 / r.usPerCheck) : 0, r.rssMB, r.lagMs, r.parentCpuPct, r.targetCpuPct].map(String),
  );
  return table(head, lines, 'r'.repeat(head.length));
}

export async function run(): Promise<Row[]> {
  const a = args();
  const n = Number(a.rs ?? 10_000);
  const seconds = Number(a.seconds ?? 20);
  const only = a.only;
  pin(process.pid, 0);
  const rows: Row[] = [];
  const target = await startTarget();
  try {
    if (!only || only === 'loopback') rows.push(await scenario('loopback, raw client', 'loopback', n, 1000, 'raw', seconds, target.pid!));
    if (!only || only === 'undici') rows.push(await scenario('loopback, undici', 'loopback', n, 1000, 'undici', seconds, target.pid!));
    // saturate: ask for far more than one core can do; what completes is the ceiling
    if (!only || only === 'max') rows.push(await scenario('loopback, saturated', 'loopback', n * 3, 1000, 'raw', seconds, target.pid!));
  } finally {
    target.kill('SIGTERM');
  }
  if ((!only || only === 'netns' || only === 'max') && process.getuid?.() === 0) {
    const net = makeNetns();
    const t2 = await startTarget(net.ns);
    try {
      if (!only || only === 'netns') rows.push(await scenario('netns+veth, raw client', 'netns', n, 1000, 'raw', seconds, t2.pid!));
      if (!only || only === 'max') rows.push(await scenario('netns+veth, saturated', 'netns', n * 3, 1000, 'raw', seconds, t2.pid!));
    } finally {
      t2.kill('SIGTERM');
      await sleep(200);
      net.cleanup();
    }
  }
  const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  process.stdout.write(`\nChecker benchmark (${seconds} s per scenario, node ${process.version}, ${n} HTTP_GET real servers at delay_loop 1 s, load average ${load})\n`);
  process.stdout.write('CPU us/check = checker CPU time per completed check; checks/s per core = 1e6 / that (independent of CPU contention)\n');
  process.stdout.write(`${resultTable(rows)}\n`);
  for (const r of rows.filter((x) => !x.scenario.includes('saturated')))
    process.stdout.write(
      `${r.scenario}: checker CPU <= 50 % of one core at ${r.nominalPerS}/s: ${r.cpuPct <= 50 && r.achievedPerS >= r.nominalPerS * 0.95 ? 'met' : 'NOT met'} (${r.cpuPct} % for ${r.achievedPerS}/s); RSS <= 200 MB: ${r.rssMB <= 200 ? 'met' : 'NOT met'} (${r.rssMB} MB)\n`,
    );
  for (const max of rows.filter((x) => x.scenario.includes('saturated')))
    process.stdout.write(`${max.scenario}: highest check rate one core sustains ~${Math.round(max.achievedPerS / Math.max(0.01, max.cpuPct / 100))} HTTP checks/s (measured ${max.achievedPerS}/s at ${max.cpuPct} % CPU)\n`);
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
