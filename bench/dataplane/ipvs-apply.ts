// IPVS engine speed at scale, in a real kernel: 1,000 virtual services x 10 real servers
// applied from empty (one request and ACK at a time, and pipelined), a single weight change at
// that scale, a full observe(), against `ipvsadm -R` restoring the same table in the same boot.
//
//   node dist/bench/dataplane/ipvs-apply.js [services] [dests]
//
// On a host without IPVS it boots the project's VM (test/vm/run-in-vm.sh) and runs itself there.
// Targets: full apply no slower than ipvsadm -R; single change under 10 ms.
import { table as mdTable } from '../table.js';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IpvsEngine, type ApplyMode } from '../../src/dataplane/ipvs/engine.js';
import { destKey, serviceKey, type DestSpec, type Op, type ServiceSpec } from '../../src/dataplane/types.js';

const NSVC = Number(process.argv[2] ?? 1000);
const NDEST = Number(process.argv[3] ?? 10);

function inVmOrIpvsHost(): boolean {
  return process.env.IPVSVM === '1' || fs.existsSync('/proc/net/ip_vs');
}

function bootVm(): never {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const script = path.relative(root, fileURLToPath(import.meta.url));
  console.log(`no IPVS in this kernel: running in the VM (test/vm/run-in-vm.sh) ...`);
  const r = spawnSync('bash', [path.join(root, 'test/vm/run-in-vm.sh'), root, `node ${script} ${NSVC} ${NDEST}`], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const F0 = { persistent: false, onePacket: false, sched1: false, sched2: false, sched3: false };

function table(): { svc: ServiceSpec; dests: DestSpec[] }[] {
  const out: { svc: ServiceSpec; dests: DestSpec[] }[] = [];
  for (let i = 0; i < NSVC; i++) {
    const s: ServiceSpec = { key: '', family: 'inet', protocol: 'TCP', address: `10.1.${i >> 8}.${i & 255}`, port: 80, scheduler: 'wlc', flags: F0, timeoutS: 0, netmask: '255.255.255.255' };
    s.key = serviceKey(s);
    const dests: DestSpec[] = [];
    for (let j = 0; j < NDEST; j++) {
      const d: DestSpec = { key: '', family: 'inet', address: `172.16.${j}.${(i % 250) + 1}`, port: 8080, fwd: 'NAT', weight: 1, uThreshold: 0, lThreshold: 0 };
      d.key = destKey(d);
      dests.push(d);
    }
    out.push({ svc: s, dests });
  }
  return out;
}

function restoreText(t: ReturnType<typeof table>): string {
  const l: string[] = [];
  for (const { svc, dests } of t) {
    l.push(`-A -t ${svc.address}:${svc.port} -s ${svc.scheduler}`);
    for (const d of dests) l.push(`-a -t ${svc.address}:${svc.port} -r ${d.address}:${d.port} -m -w ${d.weight}`);
  }
  return `${l.join('\n')}\n`;
}

const ms = (t0: number): number => performance.now() - t0;
const fmt = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const p95 = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * 0.95))]!;

async function main(): Promise<void> {
  const t = table();
  const ops: Op[] = t.flatMap(({ svc, dests }): Op[] => [{ op: 'add-service', svc }, ...dests.map((dest): Op => ({ op: 'add-dest', svc, dest }))]);
  const e = await IpvsEngine.open();
  const rows: [string, string, string][] = [];
  const count = (): number => Number(execFileSync('bash', ['-c', 'ipvsadm -Sn | wc -l'], { encoding: 'utf8' }).trim());
  const check = (what: string): void => {
    const n = count();
    if (n !== ops.length) throw new Error(`${what}: kernel has ${n} rules, expected ${ops.length}`);
  };

  // ipvsadm -R first, on an empty table
  const file = '/tmp/lvsd-bench-restore.txt';
  fs.writeFileSync(file, restoreText(t));
  await e.flush();
  let t0 = performance.now();
  execFileSync('bash', ['-c', `ipvsadm -R < ${file}`]);
  const restoreMs = ms(t0);
  check('ipvsadm -R');
  rows.push([`ipvsadm -R, ${NSVC} x ${NDEST} from empty`, `${fmt(restoreMs)} ms`, `${fmt((ops.length / restoreMs) * 1000)} ops/s`]);

  const modes: [string, ApplyMode][] = [
    ['one request, wait for its ACK, next', { batch: 1, window: 1 }],
    ['pipelined, 64 in flight, ACK each', { batch: 1, window: 64 }],
    ['batched, 64 per datagram, ACK last', { batch: 64 }],
    ['batched, 256 per datagram, ACK last (default)', { batch: 256 }],
  ];
  // warm-up (JIT): one full apply, not measured
  await e.flush();
  await e.apply(ops);
  for (const [label, mode] of modes) {
    const runs: number[] = [];
    for (let k = 0; k < 2; k++) {
      await e.flush();
      t0 = performance.now();
      const r = await e.apply(ops, mode);
      runs.push(ms(t0));
      if (r.failed.length) throw new Error(`apply ${label}: ${r.failed.length} failed, first: ${r.failed[0]!.error}`);
      check(`apply ${label}`);
    }
    const took = Math.min(...runs);
    rows.push([
      `engine.apply ${ops.length} ops: ${label}`,
      `${fmt(took)} ms`,
      `${fmt((ops.length / took) * 1000)} ops/s, ${fmt(restoreMs / took)}x ipvsadm -R (best of ${runs.map(fmt).join(', ')})`,
    ]);
  }

  // observe() of the full table
  const obs: number[] = [];
  for (let i = 0; i < 3; i++) {
    t0 = performance.now();
    const table = await e.observe();
    obs.push(ms(t0));
    if (table.size !== NSVC) throw new Error(`observe: ${table.size} services`);
  }
  rows.push([`engine.observe(), ${NSVC} services + ${NSVC * NDEST} dests`, `${fmt(median(obs))} ms`, `median of 3 (${obs.map(fmt).join(', ')})`]);
  t0 = performance.now();
  await e.snapshot();
  rows.push(['engine.snapshot() (same, with counters)', `${fmt(ms(t0))} ms`, '']);

  // one weight change at this scale
  const lat: number[] = [];
  for (let i = 0; i < 200; i++) {
    const { svc, dests } = t[(i * 37) % t.length]!;
    const dest = { ...dests[i % NDEST]!, weight: 2 + (i % 50) };
    t0 = performance.now();
    const r = await e.apply([{ op: 'edit-dest', svc, dest }]);
    lat.push(ms(t0));
    if (r.failed.length) throw new Error(r.failed[0]!.error);
  }
  rows.push(['engine.apply, one weight change (200 samples)', `${fmt(median(lat))} ms`, `p95 ${fmt(p95(lat))} ms, max ${fmt(Math.max(...lat))} ms`]);

  const cli: number[] = [];
  for (let i = 0; i < 10; i++) {
    const { svc, dests } = t[i]!;
    t0 = performance.now();
    execFileSync('ipvsadm', ['-e', '-t', `${svc.address}:80`, '-r', `${dests[0]!.address}:8080`, '-m', '-w', String(3 + i)]);
    cli.push(ms(t0));
  }
  rows.push(['ipvsadm -e, one weight change (process start included)', `${fmt(median(cli))} ms`, 'median of 10']);

  await e.flush();
  await e.close();

  console.log(`\nIPVS engine, kernel ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}${process.env.IPVSVM ? ' (TCG VM: Node ~10x slower than on the host)' : ''}`);
  console.log(mdTable(['step', 'time', 'detail'], rows, 'lr'));
  const best = Math.min(...rows.filter((r) => r[0].startsWith(`engine.apply ${ops.length} ops`)).map((r) => parseFloat(r[1])));
  console.log(`  targets: full apply <= ipvsadm -R: ${best <= restoreMs ? 'met' : 'MISSED'}; single change < 10 ms: ${median(lat) < 10 ? 'met' : 'MISSED'}`);
}

if (!inVmOrIpvsHost()) bootVm();
main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
