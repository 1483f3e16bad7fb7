// The client-side view of an outage: a new TCP connection plus `GET /` every `intervalMs` on a
// fixed schedule (a hung SYN never delays the next probe), each with a timeout. One JSON line per
// probe: {start, end, ok, server|error}, times in ms since the probe started (monotonic).
//   node probe.js HOST PORT [INTERVAL_MS] [TIMEOUT_MS] [DURATION_MS]
import net from 'node:net';

const host = process.argv[2] ?? '127.0.0.1';
const port = Number(process.argv[3] ?? 80);
const intervalMs = Number(process.argv[4] ?? 10);
const timeoutMs = Number(process.argv[5] ?? 250);
const durationMs = Number(process.argv[6] ?? 0);
const t0 = performance.now();

function probe(): void {
  const start = performance.now() - t0;
  let done = false;
  let data = '';
  const finish = (ok: boolean, detail: string): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    sock.destroy();
    const end = performance.now() - t0;
    process.stdout.write(JSON.stringify(ok ? { start: +start.toFixed(2), end: +end.toFixed(2), ok, server: detail } : { start: +start.toFixed(2), end: +end.toFixed(2), ok, error: detail }) + '\n');
  };
  const sock = net.connect({ host, port });
  const timer = setTimeout(() => finish(false, 'timeout'), timeoutMs);
  sock.on('connect', () => sock.write(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`));
  sock.on('data', (d) => (data += d.toString()));
  sock.on('end', () => {
    const body = data.split('\r\n\r\n')[1]?.trim();
    finish(!!body, body || 'empty answer');
  });
  sock.on('error', (e: NodeJS.ErrnoException) => finish(false, e.code ?? e.message));
}

let n = 0;
const tick = (): void => {
  probe();
  n++;
  const next = t0 + n * intervalMs - performance.now();
  if (durationMs && n * intervalMs >= durationMs) return;
  setTimeout(tick, Math.max(0, next));
};
tick();
process.on('SIGTERM', () => process.exit(0));
