// Benchmark: the nftables engine at 1,000 virtual services x 10 real servers, in a private
// network namespace (needs root). Measures, per transport (libnftables in-process, nft binary):
//   - apply from empty (one batch),
//   - observe(): a full listing (parse + verify), and the usual case where the nftables
//     generation has not moved since the engine's last write (no listing),
//   - one weight change and one real-server removal (target < 10 ms each),
//   - engine memory (heap + RSS growth) and the size of the batch.
//
//   node dist/bench/dataplane/nft-apply.js [--services=1000] [--dests=10] [--reps=30] [--sched=wrr]
import { table } from '../table.js';
import { execFileSync } from 'node:child_process';
import { NftablesEngine } from '../../src/dataplane/nftables/engine.js';
import { diffTables } from '../../src/dataplane/diff.js';
import { destKey, serviceKey, type DestSpec, type ServiceSpec, type TableState } from '../../src/dataplane/types.js';
import type { Scheduler } from '../../src/config/model.js';
import type { TransportChoice } from '../../src/dataplane/nftables/transport.js';

function args(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of process.argv.slice(2)) {
    const m = /^--([^=]+)=(.*)$/.exec(a);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

const A = args();
const SERVICES = Number(A.services ?? 1000);
const DESTS = Number(A.dests ?? 10);
const REPS = Number(A.reps ?? 30);
const SCHED = (A.sched ?? 'wrr') as Scheduler;

function desired(): TableState {
  const t: TableState = new Map();
  const flags = { persistent: false, onePacket: false, sched1: false, sched2: false, sched3: false };
  for (let i = 0; i < SERVICES; i++) {
    const id = { family: 'inet' as const, protocol: 'TCP' as const, address: `10.${200 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, port: 80 };
    const svc: ServiceSpec = { key: serviceKey(id), ...id, scheduler: SCHED, flags, timeoutS: 0, netmask: '255.255.255.255' };
    const dests = new Map<string, DestSpec>();
    for (let j = 0; j < DESTS; j++) {
      const address = `10.250.${j >> 8}.${(j & 255) + 1}`;
      const d: DestSpec = { key: destKey({ address, port: 8080 }), family: 'inet', address, port: 8080, fwd: 'NAT', weight: 1 + (j % 5), uThreshold: 0, lThreshold: 0 };
      dests.set(d.key, d);
    }
    t.set(svc.key, { svc, dests });
  }
  return t;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]!;
}
const mb = (b: number): string => (b / 1048576).toFixed(1);

interface Row {
  transport: string;
  step: string;
  ms: string;
  detail: string;
}

async function run(transport: TransportChoice, ns: string, rows: Row[]): Promise<void> {
  const want = desired();
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;
  const e = new NftablesEngine({ netns: ns, transport });
  try {
    await e.destroy();
    let t = performance.now();
    await e.observe();
    const ops = diffTables(new Map(), want);
    t = performance.now();
    const r = await e.apply(ops);
    const applyMs = performance.now() - t;
    if (r.failed.length > 0) throw new Error(`apply failed: ${r.failed[0]!.error}`);
    rows.push({
      transport,
      step: `apply from empty (${SERVICES}x${DESTS}, ${ops.length} ops)`,
      ms: applyMs.toFixed(0),
      detail: `${e.lastBatch!.lines} lines, ${(e.lastBatch!.bytes / 1024).toFixed(0)} KiB, nft ${e.lastBatch!.nftMs.toFixed(0)} ms`,
    });
    global.gc?.();
    rows.push({ transport, step: 'memory after apply', ms: '', detail: `heap +${mb(process.memoryUsage().heapUsed - heap0)} MB, rss +${mb(process.memoryUsage().rss - rss0)} MB` });
    const full = new NftablesEngine({ netns: ns, transport, fullCheckMs: 0 });
    try {
      t = performance.now();
      const seen = await full.observe();
      const obsMs = performance.now() - t;
      const drift = diffTables(seen, want).length;
      rows.push({ transport, step: 'observe, full listing (list + parse + verify)', ms: obsMs.toFixed(0), detail: `${seen.size} services, ${drift} ops of drift` });
    } finally {
      await full.close();
    }
    t = performance.now();
    await e.observe();
    const fastMs = performance.now() - t;
    rows.push({ transport, step: 'observe, generation unchanged', ms: fastMs.toFixed(1), detail: 'no listing: nothing committed since the last write' });
    global.gc?.();
    const heap1 = process.memoryUsage().heapUsed;
    const rss1 = process.memoryUsage().rss;
    rows.push({ transport, step: 'memory after a full observe', ms: '', detail: `heap +${mb(heap1 - heap0)} MB, rss +${mb(rss1 - rss0)} MB` });

    // one weight change, on a different service each time
    const keys = [...want.keys()];
    const weightMs: number[] = [];
    const nftMs: number[] = [];
    let lines = 0;
    for (let i = 0; i < REPS; i++) {
      const s = want.get(keys[(i * 37) % keys.length]!)!;
      const d = [...s.dests.values()][i % DESTS]!;
      const nd = { ...d, weight: d.weight === 7 ? 3 : 7 };
      s.dests.set(nd.key, nd);
      t = performance.now();
      const w = await e.apply([{ op: 'edit-dest', svc: s.svc, dest: nd }]);
      weightMs.push(performance.now() - t);
      if (w.failed.length > 0) throw new Error(`weight change failed: ${w.failed[0]!.error}`);
      nftMs.push(e.lastBatch!.nftMs);
      lines = e.lastBatch!.lines;
    }
    rows.push({
      transport,
      step: 'one weight change',
      ms: `${median(weightMs).toFixed(2)} (p95 ${p95(weightMs).toFixed(2)})`,
      detail: `${lines} lines; nft ${median(nftMs).toFixed(2)} ms`,
    });

    // one real server removed and restored (what a failing/recovering health check does)
    const delMs: number[] = [];
    for (let i = 0; i < REPS; i++) {
      const s = want.get(keys[(i * 53) % keys.length]!)!;
      const d = [...s.dests.values()][i % DESTS]!;
      t = performance.now();
      const x = await e.apply([{ op: 'del-dest', svc: s.svc, dest: d }]);
      delMs.push(performance.now() - t);
      if (x.failed.length > 0) throw new Error(`del-dest failed: ${x.failed[0]!.error}`);
      const y = await e.apply([{ op: 'add-dest', svc: s.svc, dest: d }]);
      if (y.failed.length > 0) throw new Error(`add-dest failed: ${y.failed[0]!.error}`);
    }
    rows.push({ transport, step: 'one real server removed', ms: `${median(delMs).toFixed(2)} (p95 ${p95(delMs).toFixed(2)})`, detail: `${e.lastBatch!.lines} lines` });
  } finally {
    await e.destroy().catch(() => undefined);
    await e.close();
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('nft-apply bench: needs root (creates a network namespace); skipped');
    return;
  }
  const ns = `lvsdbench${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  const rows: Row[] = [];
  try {
    const only = A.transport as TransportChoice | undefined;
    for (const tr of only ? [only] : (['libnftables', 'spawn'] as TransportChoice[])) await run(tr, ns, rows);
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
  console.log(`\nnftables engine, ${SERVICES} services x ${DESTS} real servers, scheduler ${SCHED}, ${REPS} reps\n`);
  console.log(table(['transport', 'step', 'ms', 'detail'], rows.map((r) => [r.transport, r.step, r.ms, r.detail])));
  console.log('\ntarget: one weight change < 10 ms');
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
