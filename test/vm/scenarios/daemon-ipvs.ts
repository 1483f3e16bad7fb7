// Runs INSIDE the IPVS VM (root, Debian 6.1 kernel with IPVS): the whole daemon end to end with
// the IPVS engine, on the same namespace lab as the nftables end-to-end tests
// (test/system/lb/lab.ts): a client, a director running `lvsd run` (dataplane ipvs, one VRRP
// instance holding the VIPs) and three real servers with HTTP_GET health checks.
//   VIP .200 rr, VIP .201 wrr 1:2:3 with inhibit_on_failure, VIP .202 sh
// First LVS-NAT (real servers route through the director), then LVS-DR (real servers prepared by
// `lvsd realserver up`). For each: `ipvsadm -Ln` shows the configured table, the client sees rr
// rotate, wrr split, sh stick; a stopped real server leaves the rr table (health check) and gets
// weight 0 in the inhibit_on_failure one, and the client never reaches it; restarted, it is back
// in both; lvsd stops cleanly and leaves no service behind.
// Prints one `@@CASE {name, expected, actual, note?, error?, ms}` line per case, then `@@DONE`;
// test/system/ipvs/daemon-vm.test.ts asserts them. Node is ~10x slower here: generous timeouts,
// few requests.
import { counts, detectionWindowMs, LbLab, names, rsAddress, RS_NAMES, VIP_RR, VIP_SH, VIP_WRR, VIPS, type CheckTiming, type LbMode, type LogLine } from '../../system/lb/lab.js';

interface CaseOut {
  name: string;
  expected?: unknown;
  actual?: unknown;
  note?: unknown;
  error?: string;
  ms: number;
}

function report(c: CaseOut): void {
  process.stdout.write(`@@CASE ${JSON.stringify(c)}\n`);
}

async function kase(name: string, fn: () => Promise<{ expected: unknown; actual: unknown; note?: unknown }>): Promise<boolean> {
  const t0 = performance.now();
  try {
    const r = await fn();
    report({ name, expected: r.expected, actual: r.actual, note: r.note, ms: Math.round(performance.now() - t0) });
    return true;
  } catch (e) {
    report({ name, error: (e as Error).stack ?? String(e), ms: Math.round(performance.now() - t0) });
    return false;
  }
}

// slower checks than on the host: every probe is a Node HTTP request in a TCG guest
const CHECK: CheckTiming = { delayLoop: 1, connectTimeout: 1, retry: 1, delayBeforeRetry: 1 };
const WINDOW_MS = detectionWindowMs(CHECK, 4000);
const TIMEOUT_MS = 60_000;

/**
 * `ipvsadm -Ln` in the director, reduced to what the configuration decides: per service line
 * ("TCP 10.99.0.200:80 rr") its real servers as "address:port Forward Weight", sorted.
 */
async function ipvsTable(L: LbLab): Promise<Record<string, string[]>> {
  const out = await L.lab.exec('dir', 'ipvsadm', '-Ln');
  const table: Record<string, string[]> = {};
  let cur: string[] | undefined;
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (/^(TCP|UDP|SCTP|FWM) /.test(line)) table[f.join(' ')] = cur = [];
    else if (line.startsWith('  -> ') && cur && f[1] !== 'RemoteAddress:Port') cur.push(f.slice(1, 4).join(' '));
  }
  for (const k of Object.keys(table)) table[k]!.sort();
  return table;
}

function expectedTable(mode: LbMode, weights: { rr: number[]; wrr: number[]; sh: number[] }): Record<string, string[]> {
  const fwd = mode === 'dr' ? 'Route' : 'Masq';
  const dests = (w: number[]): string[] =>
    w
      .map((x, i) => (x < 0 ? '' : `${rsAddress(mode, i)}:80 ${fwd} ${x}`))
      .filter(Boolean)
      .sort();
  return { [`TCP ${VIP_RR}:80 rr`]: dests(weights.rr), [`TCP ${VIP_WRR}:80 wrr`]: dests(weights.wrr), [`TCP ${VIP_SH}:80 sh`]: dests(weights.sh) };
}

/** Strict rotation: every window of `n` consecutive answers holds n different servers. */
function rotates(got: string[], n: number): boolean {
  return got.every((g, i) => i < n || g === got[i - n]) && new Set(got.slice(0, n)).size === n;
}

async function scenario(mode: LbMode): Promise<void> {
  const p = `${mode}-`;
  let L: LbLab | undefined;
  try {
    const ok = await kase(`${p}start`, async () => {
      L = await LbLab.create(mode, { dataplane: 'ipvs', check: CHECK, timeoutMs: TIMEOUT_MS });
      const t0 = Date.now();
      const d = await L.startDirector();
      const engine = d.json<LogLine>().find((o) => o['event'] === 'dataplane')?.['engine'];
      return { expected: { engine: 'ipvs', master: true }, actual: { engine, master: true }, note: { startMs: Date.now() - t0 } };
    });
    if (!ok || !L) return;
    const lab = L;
    const full = { rr: [1, 1, 1], wrr: [1, 2, 3], sh: [1, 1, 1] };

    await kase(`${p}ipvsadm`, async () => ({ expected: expectedTable(mode, full), actual: await ipvsTable(lab) }));

    await kase(`${p}rr`, async () => {
      const got = names(await lab.http({ vip: VIP_RR, count: 9, timeoutMs: 5000 }));
      return { expected: { rotates: true, counts: { rs1: 3, rs2: 3, rs3: 3 } }, actual: { rotates: rotates(got, 3), counts: counts(got) }, note: got };
    });

    await kase(`${p}wrr`, async () => {
      const got = names(await lab.http({ vip: VIP_WRR, count: 12, timeoutMs: 5000 }));
      return { expected: { rs1: 2, rs2: 4, rs3: 6 }, actual: counts(got), note: got };
    });

    await kase(`${p}sh`, async () => {
      const src = lab.sources.slice(0, 6);
      const rs = await lab.http({ vip: VIP_SH, count: 12, sources: src, timeoutMs: 5000 });
      const bySrc = new Map<string, Set<string>>();
      for (const r of rs) bySrc.set(r.src!, (bySrc.get(r.src!) ?? new Set()).add(r.server ?? `ERR:${r.err}`));
      const perClient = [...bySrc.values()].map((s) => s.size);
      return { expected: { clients: 6, serversPerClient: [1, 1, 1, 1, 1, 1], errors: 0 }, actual: { clients: bySrc.size, serversPerClient: perClient, errors: rs.filter((r) => r.err).length }, note: Object.fromEntries([...bySrc].map(([k, v]) => [k, [...v]])) };
    });

    const d = lab.director!;
    const rs2 = rsAddress(mode, 1);
    await kase(`${p}rs-down`, async () => {
      const mark = d.mark();
      const tKill = await lab.stopServer('rs2');
      const removed = await lab.waitRsLog('Removing', rs2, VIP_RR, mark, WINDOW_MS + TIMEOUT_MS);
      await lab.waitRsLog('Disabling', rs2, VIP_WRR, mark, WINDOW_MS + TIMEOUT_MS);
      await lab.waitRsLog('Removing', rs2, VIP_SH, mark, WINDOW_MS + TIMEOUT_MS);
      const detectMs = Date.parse(String(removed.time)) - tKill;
      const table = await ipvsTable(lab);
      const rr = names(await lab.http({ vip: VIP_RR, count: 6, timeoutMs: 5000 }));
      const wrr = names(await lab.http({ vip: VIP_WRR, count: 8, timeoutMs: 5000 }));
      return {
        expected: { table: expectedTable(mode, { rr: [1, -1, 1], wrr: [1, 0, 3], sh: [1, -1, 1] }), rr: { rs1: 3, rs3: 3 }, wrr: { rs1: 2, rs3: 6 }, detectedInWindow: true },
        actual: { table, rr: counts(rr), wrr: counts(wrr), detectedInWindow: detectMs <= WINDOW_MS },
        note: { detectMs, windowMs: WINDOW_MS, rr, wrr },
      };
    });

    await kase(`${p}rs-up`, async () => {
      const mark = d.mark();
      const t0 = Date.now();
      await lab.startServer('rs2');
      const added = await lab.waitRsLog('Adding', rs2, VIP_RR, mark, WINDOW_MS + TIMEOUT_MS);
      await lab.waitRsLog('Enabling', rs2, VIP_WRR, mark, WINDOW_MS + TIMEOUT_MS);
      await lab.waitRsLog('Adding', rs2, VIP_SH, mark, WINDOW_MS + TIMEOUT_MS);
      const table = await ipvsTable(lab);
      const rr = names(await lab.http({ vip: VIP_RR, count: 6, timeoutMs: 5000 }));
      return {
        expected: { table: expectedTable(mode, full), rr: { rs1: 2, rs2: 2, rs3: 2 }, rotates: true },
        actual: { table, rr: counts(rr), rotates: rotates(rr, 3) },
        note: { addedAfterMs: Date.parse(String(added.time)) - t0, rr },
      };
    });

    // drift: entries changed behind lvsd's back with ipvsadm are put back by the reconciler
    // (reconcile_interval 1 s; the VM runs Node ~10x slower, hence the slack)
    await kase(`${p}drift`, async () => {
      const rs1 = rsAddress(mode, 0);
      await lab.lab.exec('dir', 'ipvsadm', '-d', '-t', `${VIP_RR}:80`, '-r', `${rs1}:80`);
      await lab.lab.exec('dir', 'ipvsadm', '-e', '-t', `${VIP_WRR}:80`, '-r', `${rs1}:80`, mode === 'dr' ? '-g' : '-m', '-w', '7');
      const t0 = Date.now();
      let table = await ipvsTable(lab);
      const want = JSON.stringify(expectedTable(mode, full));
      while (JSON.stringify(table) !== want && Date.now() - t0 < 10_000) {
        await new Promise((r) => setTimeout(r, 100));
        table = await ipvsTable(lab);
      }
      const restoreMs = Date.now() - t0;
      return { expected: { table: expectedTable(mode, full), withinSlack: true }, actual: { table, withinSlack: restoreMs <= 1000 + 4000 }, note: { restoreMs } };
    });

    await kase(`${p}stop`, async () => {
      const exit = await d.kill('SIGTERM', TIMEOUT_MS);
      const table = await ipvsTable(lab);
      const addrs = await lab.lab.exec('dir', 'ip', '-br', 'addr', 'show', 'dev', 'eth0');
      return {
        expected: { code: 0, table: {}, vipsLeft: [] },
        actual: { code: exit.code, table, vipsLeft: VIPS.filter((v) => addrs.includes(v)) },
        note: d.lines.slice(-4),
      };
    });

    if (mode === 'dr') {
      await kase('dr-realserver-down', async () => {
        const left: string[] = [];
        await Promise.all(RS_NAMES.map((n) => lab.realserverDown(n)));
        for (const n of RS_NAMES) {
          const lo = await lab.lab.exec(n, 'ip', '-br', 'addr', 'show', 'dev', 'lo');
          left.push(...VIPS.filter((v) => lo.includes(v)).map((v) => `${n}:${v}`));
          left.push(...((await lab.lab.exec(n, 'cat', '/proc/sys/net/ipv4/conf/all/arp_ignore')).trim() !== '0' ? [`${n}:arp_ignore`] : []));
        }
        return { expected: [], actual: left };
      });
    }
  } finally {
    if (L) {
      const tail = L.director?.lines.filter((l) => /"level":"(warn|error|fatal)"/.test(l)).slice(-10) ?? [];
      if (tail.length) process.stdout.write(`@@LOG ${mode} ${JSON.stringify(tail)}\n`);
      await L.destroy().catch((e: Error) => process.stdout.write(`@@LOG ${mode} destroy: ${e.message}\n`));
    }
  }
}

async function main(): Promise<void> {
  await scenario('nat');
  await scenario('dr');
}

main().then(
  () => process.stdout.write('@@DONE\n'),
  (e: unknown) => {
    process.stdout.write(`@@FATAL ${JSON.stringify((e as Error).stack ?? String(e))}\n`);
    process.exitCode = 1;
  },
);
