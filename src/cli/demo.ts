// `npm run demo` (= lvsd demo): a live director pair in network namespaces.
// Two lvsd directors (d1, d2) share VIP 10.99.0.100 with VRRPv3 at 100 ms adverts and load-balance
// it in LVS-DR mode over three real servers (r1-r3, prepared with `lvsd realserver up`); a client
// (c1) sends requests. The demo shows the VIP on the master, the requests spreading over the real
// servers, a stopped real server leaving the pool and coming back, then kills the master and
// measures the outage the client sees. Everything lives in namespaces it creates and removes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Lab, PROJECT_ROOT, isRoot, type LabProcess } from '../lab/netns.js';
import type { Output } from './check.js';

const VIP = '10.99.0.100';
const BIN = path.join(PROJECT_ROOT, 'bin/lvsd.js');
const dist = (p: string): string => path.join(PROJECT_ROOT, 'dist/src/lab', p);

const CONFIG = `! lvsd demo: LVS-DR director pair (one file for both: @d1 / @d2 lines)
global_defs {
    router_id lvsd_demo
    vrrp_version 3
}
lvsd_defs {
    reconcile_interval 1
}
vrrp_instance VI_1 {
@d1    state MASTER
@d2    state BACKUP
@d1    priority 150
@d2    priority 100
    interface eth0
    virtual_router_id 51
    advert_int 0.1
    virtual_ipaddress {
        ${VIP}/24 dev eth0
    }
}
virtual_server ${VIP} 80 {
    delay_loop 0.5
    lb_algo rr
    lb_kind DR
    protocol TCP
${[21, 22, 23]
  .map(
    (h) => `    real_server 10.99.0.${h} 80 {
        weight 1
        HTTP_GET {
            url {
                path /
                status_code 200
            }
            connect_timeout 0.3
            retry 1
            delay_before_retry 0.2
        }
    }`,
  )
  .join('\n')}
}
`;

interface ProbeLine {
  start: number;
  end: number;
  ok: boolean;
  server?: string;
  error?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runDemo(io: Output): Promise<number> {
  if (!isRoot) {
    io.err('lvsd demo: needs root (it creates network namespaces)');
    return 1;
  }
  if (!fs.existsSync(dist('probe.js'))) {
    io.err('lvsd demo: run "npm run build" first');
    return 1;
  }
  const say = (s: string): void => io.out(s);
  const t0 = Date.now();
  const stamp = (): string => `+${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsd-demo-'));
  const conf = path.join(dir, 'lvsd.conf');
  fs.writeFileSync(conf, CONFIG);
  say('lvsd demo: two directors (d1, d2), three real servers (r1-r3) and a client (c1) in network namespaces');
  say(`configuration: ${conf} (LVS-DR, VIP ${VIP}:80, VRRPv3 at 0.1 s, HTTP_GET every 0.5 s)\n`);

  const lab = await Lab.create({
    nodes: [
      { name: 'd1', host: 11, role: 'director' },
      { name: 'd2', host: 12, role: 'director' },
      { name: 'r1', host: 21 },
      { name: 'r2', host: 22 },
      { name: 'r3', host: 23 },
      { name: 'c1', host: 31 },
    ],
  });
  const procs: LabProcess[] = [];
  const directors = new Map<string, LabProcess>();
  try {
    say(`${stamp()} [1] lab up: bridge + 6 namespaces`);

    // real servers: the VIP on lo with arp_ignore/arp_announce, then an HTTP server naming itself
    const web = new Map<string, LabProcess>();
    for (const r of ['r1', 'r2', 'r3']) {
      await lab.exec(r, process.execPath, BIN, 'realserver', 'up', '--vip', VIP, '--mode', 'dr', '--state', path.join(dir, `${r}.json`));
      const p = lab.spawn(r, process.execPath, [dist('http-server.js'), r, '80']);
      procs.push(p);
      web.set(r, p);
      await p.waitForJson((o) => o['event'] === 'listening', { timeoutMs: 5000 });
    }
    say(`${stamp()} [2] real servers r1-r3: HTTP on :80; "lvsd realserver up --vip ${VIP} --mode dr" put the VIP on lo, arp_ignore=1, arp_announce=2`);

    const startDirector = async (d: string): Promise<LabProcess> => {
      const p = lab.spawn(d, process.execPath, [BIN, 'run', '-f', conf, '-i', d]);
      procs.push(p);
      directors.set(d, p);
      await p.waitForJson((o) => o['event'] === 'started' || o['level'] === 'fatal', { timeoutMs: 15_000 });
      return p;
    };
    const d1 = await startDirector('d1');
    const d2 = await startDirector('d2');
    const masterLine = (await d1.waitForJson<Record<string, unknown>>((o) => o['event'] === 'state' && o['to'] === 'MASTER', { timeoutMs: 10_000 })) as { reason: string };
    say(`${stamp()} [3] lvsd running on d1 (priority 150) and d2 (priority 100): d1 became MASTER (${masterLine.reason}), d2 is BACKUP`);
    const where = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const d of ['d1', 'd2']) if ((await lab.exec(d, 'ip', '-br', 'addr', 'show', 'eth0')).includes(VIP)) out.push(d);
      return out;
    };
    say(`         VIP ${VIP} is on: ${(await where()).join(', ')}`);
    const engine = (await d1.waitForJson<Record<string, unknown>>((o) => o['event'] === 'dataplane', { timeoutMs: 5000 }).catch(() => ({ engine: '?' }))) as { engine: string };
    say(`         data plane: ${engine.engine} (${engine.engine === 'nftables' ? 'this kernel has no IPVS' : 'Linux IPVS'})`);
    await sleep(1500); // first health checks

    const burst = async (n: number): Promise<{ counts: Map<string, number>; errors: number }> => {
      const p = lab.spawn('c1', process.execPath, [dist('probe.js'), VIP, '80', '20', '500', String(n * 20)]);
      const lines: ProbeLine[] = [];
      await new Promise<void>((resolve) => {
        const check = setInterval(() => {
          const got = p.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ProbeLine);
          if (got.length >= n) {
            lines.push(...got.slice(0, n));
            clearInterval(check);
            resolve();
          }
        }, 20);
      });
      await p.kill('SIGTERM');
      const counts = new Map<string, number>();
      let errors = 0;
      for (const l of lines) {
        if (l.ok) counts.set(l.server!, (counts.get(l.server!) ?? 0) + 1);
        else errors++;
      }
      return { counts, errors };
    };
    const show = (r: { counts: Map<string, number>; errors: number }): string =>
      [...[...r.counts].sort().map(([k, v]) => `${k} ${v}`), `errors ${r.errors}`].join(', ');

    say(`${stamp()} [4] load balancing (rr): 30 new connections from c1 to ${VIP}:80 -> ${show(await burst(30))}`);

    await web.get('r2')!.kill('SIGTERM');
    const down = (await d1.waitForJson((o) => typeof o['msg'] === 'string' && /DOWN|down/.test(o['msg'] as string) && String(o['rs'] ?? o['msg']).includes('10.99.0.22'), { timeoutMs: 10_000 }).catch(() => null)) as { msg: string } | null;
    say(`${stamp()} [5] stopped r2's HTTP server; health check: ${down ? down.msg : 'no transition logged'}`);
    await sleep(300);
    say(`         30 new connections -> ${show(await burst(30))}`);

    const r2 = lab.spawn('r2', process.execPath, [dist('http-server.js'), 'r2', '80']);
    procs.push(r2);
    web.set('r2', r2);
    const up = (await d1.waitForJson((o) => typeof o['msg'] === 'string' && /UP|up/.test(o['msg'] as string) && String(o['rs'] ?? o['msg']).includes('10.99.0.22'), { timeoutMs: 10_000 }).catch(() => null)) as { msg: string } | null;
    say(`${stamp()} [6] restarted r2; health check: ${up ? up.msg : 'no transition logged'}`);
    await sleep(300);
    say(`         30 new connections -> ${show(await burst(30))}`);

    // failover: a probe every 10 ms while the master dies (link down, then SIGKILL, as in a crash)
    const probe = lab.spawn('c1', process.execPath, [dist('probe.js'), VIP, '80', '10', '250']);
    procs.push(probe);
    await sleep(1500);
    const mark = d2.mark();
    const tFail = Date.now();
    await lab.exec('d1', 'ip', 'link', 'set', 'eth0', 'down');
    await d1.kill('SIGKILL', 0);
    say(`${stamp()} [7] crash of d1: link down + kill -9, while c1 opens a connection to the VIP every 10 ms`);
    const take = (await d2.waitForJson<Record<string, unknown>>((o) => o['event'] === 'state' && o['to'] === 'MASTER', { since: mark, timeoutMs: 10_000 })) as { reason: string; time: string };
    const tookMs = Date.parse(take.time) - tFail;
    await sleep(1500);
    await probe.kill('SIGTERM');
    const pl = probe.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ProbeLine);
    let gap = 0;
    let failed = 0;
    let lastOk: ProbeLine | undefined;
    for (const l of pl) {
      if (l.ok) {
        if (lastOk) gap = Math.max(gap, l.end - lastOk.end);
        lastOk = l;
      } else failed++;
    }
    say(`         d2: BACKUP -> MASTER (${take.reason}) ${tookMs} ms after the crash; VIP now on: ${(await where()).join(', ')}`);
    say(`         client-observed outage: ${gap.toFixed(0)} ms (longest gap between answers), ${failed} of ${pl.length} probes failed`);
    say(`         (VRRPv3 at 0.1 s: Master_Down_Interval = 3 x 100 ms + skew 61 ms = 361 ms; keepalived measured 331 ms median here)`);
    return 0;
  } catch (e) {
    io.err(`lvsd demo failed: ${(e as Error).message}`);
    for (const [d, p] of directors) io.err(`--- ${d} log (last 15 lines) ---\n${p.lines.slice(-15).join('\n')}`);
    return 1;
  } finally {
    for (const p of directors.values()) await p.kill('SIGTERM').catch(() => undefined);
    for (const p of procs) await p.kill('SIGKILL', 0).catch(() => undefined);
    await lab.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
    say(`${stamp()} [8] cleaned up: namespaces, processes and files removed`);
  }
}
