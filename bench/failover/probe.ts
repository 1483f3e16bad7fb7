// User-style availability probe (port of shared/tools/lab/bench/probe.js): every INTERVAL ms a
// NEW TCP connection to HOST:PORT, "GET / HTTP/1.0", read the body (the answering node's name).
// Probes start on a fixed schedule, independent of each other, so a hung SYN never delays the
// next one.
//   node dist/bench/failover/probe.js HOST [PORT=80] [INTERVAL_MS=10] [TIMEOUT_MS=250]
// stdout: one line per probe "start_ms<TAB>end_ms<TAB>result" (wall-clock ms, sub-ms from
// performance.now()); result = node name | ERR:<code> | TIMEOUT. SIGTERM/SIGINT: flush and exit.
// stdin "align T" (wall-clock ms): shift the schedule so that a probe starts at T (+ k intervals),
// which lets the benchmark give two compared trials the same probe phase around the failure.
import net from 'node:net';
import readline from 'node:readline';
import { performance } from 'node:perf_hooks';

const host = process.argv[2];
const port = Number(process.argv[3] ?? 80);
const interval = Number(process.argv[4] ?? 10);
const timeout = Number(process.argv[5] ?? 250);
if (!host) {
  console.error('usage: probe.js HOST [PORT] [INTERVAL_MS] [TIMEOUT_MS]');
  process.exit(2);
}

const t0 = performance.timeOrigin;
const now = (): number => t0 + performance.now();
const out: string[] = [];
let stopping = false;
let inflight = 0;

function probe(): void {
  const start = now();
  inflight++;
  let done = false;
  let buf = '';
  const s = net.connect({ host: host!, port });
  const finish = (res: string): void => {
    if (done) return;
    done = true;
    inflight--;
    clearTimeout(timer);
    s.destroy();
    out.push(`${start.toFixed(3)}\t${now().toFixed(3)}\t${res}`);
  };
  const timer = setTimeout(() => finish('TIMEOUT'), timeout);
  s.setNoDelay(true);
  s.on('connect', () => s.write('GET / HTTP/1.0\r\nHost: vip\r\n\r\n'));
  s.on('data', (d) => {
    buf += d.toString('latin1');
  });
  s.on('end', () => {
    const i = buf.indexOf('\r\n\r\n');
    finish(i >= 0 && buf.startsWith('HTTP/1.0 200') ? buf.slice(i + 4).trim() : 'ERR:BADRESP');
  });
  s.on('error', (e: NodeJS.ErrnoException) => finish(`ERR:${e.code ?? e.message}`));
}

// fixed-rate, drift-free schedule
let next = now();
let timer: NodeJS.Timeout | undefined;
function tick(): void {
  if (stopping) return;
  probe();
  next += interval;
  timer = setTimeout(tick, Math.max(0, next - now()));
}
tick();

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const m = /^align ([\d.]+)$/.exec(line.trim());
  if (!m || stopping) return;
  const t = Number(m[1]);
  const n = now();
  next = t - Math.floor((t - n) / interval) * interval; // ≡ t (mod interval), in [n, n + interval)
  clearTimeout(timer);
  timer = setTimeout(tick, Math.max(0, next - now()));
});

function flush(): void {
  if (out.length) process.stdout.write(`${out.join('\n')}\n`);
  out.length = 0;
}
setInterval(flush, 200).unref();
function stop(): void {
  stopping = true;
  const wait = Date.now() + timeout + 50;
  const w = setInterval(() => {
    if (inflight === 0 || Date.now() > wait) {
      clearInterval(w);
      flush();
      process.exit(0);
    }
  }, 10);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
