// Parse + validate a generated config at the scale where keepalived's reload took 132 s
// (2,300 virtual servers, 37,000 real servers). Target: < 1 s and < 300 MB RSS.
//   node dist/bench/config/parse.js [VS] [RS] [RUNS]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsd-bench-'));
const file = path.join(dir, 'big.conf');
fs.writeFileSync(file, generate());
const bytes = fs.statSync(file).size;
const lines = fs.readFileSync(file, 'utf8').split('\n').length;

const times: number[] = [];
const cpus: number[] = [];
let vsCount = 0;
let rsCount = 0;
let diags = 0;
for (let i = 0; i < RUNS; i++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = loadConfig(file, { configId: 'bench', interfaceExists: () => true });
  const c = process.cpuUsage(c0);
  times.push(performance.now() - t0);
  cpus.push((c.user + c.system) / 1000);
  vsCount = r.config?.virtualServers.length ?? 0;
  rsCount = r.config?.virtualServers.reduce((a, v) => a + v.realServers.length, 0) ?? 0;
  diags = r.diagnostics.length;
}
fs.rmSync(dir, { recursive: true, force: true });
times.sort((a, b) => a - b);
cpus.sort((a, b) => a - b);
const maxRssMb = process.resourceUsage().maxRSS / 1024;
const median = times[Math.floor(times.length / 2)]!;

const rows: [string, string, string, string][] = [
  ['config size', `${(bytes / 1e6).toFixed(1)} MB, ${lines} lines`, '', ''],
  ['virtual / real servers', `${vsCount} / ${rsCount}`, `${VS} / ${RS}`, vsCount === VS && rsCount === RS ? 'ok' : 'MISMATCH'],
  ['diagnostics', String(diags), '0', diags === 0 ? 'ok' : 'CHECK'],
  ['parse+validate median', `${median.toFixed(0)} ms (min ${times[0]!.toFixed(0)}, max ${times.at(-1)!.toFixed(0)}, n=${RUNS})`, '< 1000 ms', median < 1000 ? 'PASS' : 'FAIL'],
  ['CPU time median (user+sys)', `${cpus[Math.floor(cpus.length / 2)]!.toFixed(0)} ms (load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores)`, '', ''],
  ['peak RSS (process)', `${maxRssMb.toFixed(0)} MB`, '< 300 MB', maxRssMb < 300 ? 'PASS' : 'FAIL'],
  ['keepalived reference', '132 s before PR #2320, 0.24 s after', '', ''],
];
const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['metric', 'measured', 'target', 'result'][i]!.length));
const fmt = (r: string[]): string => '| ' + r.map((c, i) => c.padEnd(w[i]!)).join(' | ') + ' |';
console.log(fmt(['metric', 'measured', 'target', 'result']));
console.log('|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|');
for (const r of rows) console.log(fmt(r));
