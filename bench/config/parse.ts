// Parse + validate a generated config at the scale where keepalived's reload took 132 s
// (2,300 virtual servers, 37,000 real servers). Target: < 1 s and < 300 MB RSS.
//   node dist/bench/config/parse.js [VS] [RS] [RUNS]   (each run is a fresh process)
import { table } from '../table.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/index.js';

const VS = Number(process.argv[2] ?? 2300);
const RS = Number(process.argv[3] ?? 37000);
const RUNS = Number(process.argv[4] ?? 5);

function generate(): string {
  const out: string[] = ['global_defs {\n  router_id bench\n  enable_script_security\n}\n'];
  out.push('vrrp_instance VI_1 {\n  state MASTER\n  interface eth0\n  virtual_router_id 51\n  priority 150\n  virtual_ipaddress {\n');
  for (let v = 0; v < VS; v++) out.push(`    10.${100 + (v >> 16)}.${(v >> 8) & 255}.${v & 255}/32\n`);
  out.push('  }\n}\n');
  let rsLeft = RS;
  for (let v = 0; v < VS; v++) {
    const n = Math.ceil(rsLeft / (VS - v));
    rsLeft -= n;
    out.push(`virtual_server 10.${100 + (v >> 16)}.${(v >> 8) & 255}.${v & 255} 80 {\n  delay_loop 5\n  lb_algo wrr\n  lb_kind NAT\n  protocol TCP\n`);
    for (let r = 0; r < n; r++) {
      const id = v * 64 + r;
      out.push(
        `  real_server 172.${16 + ((id >> 16) & 15)}.${(id >> 8) & 255}.${id & 255} 8080 {\n    weight ${1 + (r % 5)}\n    HTTP_GET {\n      url {\n        path /health\n        status_code 200\n      }\n      connect_timeout 2\n      retry 2\n      delay_before_retry 1\n    }\n  }\n`,
      );
    }
    out.push('}\n');
  }
  return out.join('');
}

// One parse per process: the cold path a daemon start takes (each trial a fresh Node, so JIT
// warm-up, heap growth and peak RSS are those of a real start).
if (process.argv[5] === '--child') {
  const file = process.argv[6]!;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = loadConfig(file, { configId: 'bench', interfaceExists: () => true });
  const c = process.cpuUsage(c0);
  const out = {
    wallMs: performance.now() - t0,
    cpuMs: (c.user + c.system) / 1000,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    vs: r.config?.virtualServers.length ?? 0,
    rs: r.config?.virtualServers.reduce((a, v) => a + v.realServers.length, 0) ?? 0,
    diags: r.diagnostics.length,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsd-bench-'));
const file = path.join(dir, 'big.conf');
fs.writeFileSync(file, generate());
const bytes = fs.statSync(file).size;
const lines = fs.readFileSync(file, 'utf8').split('\n').length;

interface Trial {
  wallMs: number;
  cpuMs: number;
  maxRssMb: number;
  vs: number;
  rs: number;
  diags: number;
}
const trials: Trial[] = [];
for (let i = 0; i < RUNS; i++) {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), String(VS), String(RS), '1', '--child', file], { encoding: 'utf8', maxBuffer: 1 << 20 });
  trials.push(JSON.parse(out.trim().split('\n').at(-1)!) as Trial);
}
fs.rmSync(dir, { recursive: true, force: true });
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const wall = trials.map((t) => t.wallMs);
const median = med(wall);
const rss = Math.max(...trials.map((t) => t.maxRssMb));
const { vs: vsCount, rs: rsCount, diags } = trials[0]!;

const rows: [string, string, string, string][] = [
  ['config size', `${(bytes / 1e6).toFixed(1)} MB, ${lines} lines`, '', ''],
  ['virtual / real servers', `${vsCount} / ${rsCount}`, `${VS} / ${RS}`, vsCount === VS && rsCount === RS ? 'ok' : 'MISMATCH'],
  ['diagnostics', String(diags), '0', diags === 0 ? 'ok' : 'CHECK'],
  ['parse+validate, cold process (median)', `${median.toFixed(0)} ms (min ${Math.min(...wall).toFixed(0)}, max ${Math.max(...wall).toFixed(0)}, n=${RUNS})`, '< 1000 ms', median < 1000 ? 'PASS' : 'FAIL'],
  ['CPU time (median, user+sys)', `${med(trials.map((t) => t.cpuMs)).toFixed(0)} ms (load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores)`, '', ''],
  ['peak RSS of a parsing process (max)', `${rss.toFixed(0)} MB`, '< 300 MB', rss < 300 ? 'PASS' : 'FAIL'],
  ['keepalived reference', '132 s before PR #2320, 0.24 s after', '', ''],
];
console.log(table(['metric', 'measured', 'target', 'result'], rows));
