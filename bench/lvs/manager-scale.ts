// Virtual-server manager and diff at keepalived's worst reported scale (issue #2318: 2284 VS /
// 37298 RS; commit 238bf177 took reload of 2277 VS / 37205 RS from 132 s to 0.24 s).
//
//   node dist/bench/lvs/manager-scale.js [virtualServers] [realServersPerVs]
//
// Prints one row per operation: wall time (median of runs) and ops emitted.
// Targets: reload of an unchanged config well under keepalived's 0.24 s; one check result < 1 ms.
import { table } from '../table.js';
import type { Config, RealServer, VirtualServer } from '../../src/config/model.js';
import { LvsManager } from '../../src/lvs/manager.js';
import { diffTables, cloneTable } from '../../src/dataplane/diff.js';
import type { LvsAction } from '../../src/lvs/types.js';

const NVS = Number(process.argv[2] ?? 2277);
const NRS = Number(process.argv[3] ?? 16);
const loc = { file: 'bench.conf', line: 1, col: 1 };
const policy = { delayLoopMs: 60_000, connectTimeoutMs: 5000, delayBeforeRetryMs: 1000, alpha: false, inhibitOnFailure: false };

function build(weightBump = -1): Config {
  const vss: VirtualServer[] = [];
  for (let i = 0; i < NVS; i++) {
    const address = `10.${(i >> 8) & 255}.${i & 255}.1`;
    const id = `vs:TCP:[${address}]:80`;
    const realServers: RealServer[] = [];
    for (let j = 0; j < NRS; j++) {
      const a = `172.16.${j}.${(i % 250) + 1}`;
      realServers.push({
        id: `${id}/rs:[${a}]:8080`,
        address: a,
        family: 'inet',
        port: 8080,
        weight: i === weightBump && j === 0 ? 5 : 1,
        policy,
        checkers: [{ type: 'TCP_CHECK', connectTimeoutMs: 5000, delayLoopMs: 60_000, retry: 1, delayBeforeRetryMs: 1000, warmupMs: 0, alpha: false, logAllFailures: false, loc }],
        smtpAlert: false,
        loc,
      });
    }
    vss.push({
      id,
      address: { kind: 'ip', family: 'inet', address, port: 80 },
      protocol: 'TCP',
      scheduler: 'wlc',
      schedFlags: { flag1: false, flag2: false, flag3: false, ops: false },
      lbKind: 'NAT',
      haSuspend: false,
      omega: false,
      quorum: 1,
      hysteresis: 0,
      policy,
      smtpAlert: false,
      realServers,
      loc,
    });
  }
  return { virtualServers: vss, virtualServerGroups: {}, global: { lvsNotifyFifo: { path: '/dev/null' } } } as unknown as Config;
}

function opsCount(a: LvsAction[]): number {
  return a.reduce((n, x) => n + (x.kind === 'ops' ? x.ops.length : 0), 0);
}

function time<T>(runs: number, fn: () => T): { ms: number; last: T } {
  const t: number[] = [];
  let last!: T;
  for (let i = 0; i < runs; i++) {
    const s = process.hrtime.bigint();
    last = fn();
    t.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  t.sort((a, b) => a - b);
  return { ms: t[Math.floor(t.length / 2)]!, last };
}

const rows: [string, number, number][] = [];
const cfg = build();
let m!: LvsManager;
const start = time(5, () => {
  m = new LvsManager(cfg);
  return m.start(0);
});
rows.push([`start (${NVS} VS, ${NVS * NRS} RS)`, start.ms, opsCount(start.last)]);

const rsId = cfg.virtualServers[NVS >> 1]!.realServers[3]!.id;
let up = false;
const one = time(201, () => m.onCheck({ rsId, up: (up = !up), reason: 'bench' }, 1));
rows.push(['one check result (RS down/up)', one.ms, opsCount(one.last)]);

const same = build();
const r0 = time(5, () => m.reload(same, 2));
rows.push(['reload, unchanged config', r0.ms, opsCount(r0.last)]);

const bumped = [build(7), build()];
let flip = 0;
const r1 = time(5, () => m.reload(bumped[flip++ % 2]!, 3));
rows.push(['reload, one weight changed', r1.ms, opsCount(r1.last)]);

const d = m.desired();
const copy = cloneTable(d);
const dd = time(11, () => diffTables(d, copy));
rows.push(['diffTables, equal tables', dd.ms, dd.last.length]);
const full = time(11, () => diffTables(new Map(), d));
rows.push(['diffTables, from empty', full.ms, full.last.length]);

const mem = process.memoryUsage();
console.log(`\nlvs manager at scale (node ${process.version})\n`);
console.log(table(['operation', 'median ms', 'ops'], rows.map(([name, ms, n]) => [name, ms.toFixed(3), String(n)]), 'lrr'));
console.log(`\nheap used ${(mem.heapUsed / 2 ** 20).toFixed(1)} MiB, rss ${(mem.rss / 2 ** 20).toFixed(1)} MiB`);
