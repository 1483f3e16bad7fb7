// Tiny HTTP/1.0 server for the failover benchmark (port of shared/tools/lab/bench/srv.js):
// answers every request with its node name and closes.
//   node dist/bench/failover/srv.js NAME [PORT=80] [HOST=0.0.0.0]
import net from 'node:net';

const name = process.argv[2] ?? 'unknown';
const port = Number(process.argv[3] ?? 80);
const host = process.argv[4] ?? '0.0.0.0';
const body = `${name}\n`;
const resp = `HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;

const srv = net.createServer((s) => {
  s.on('error', () => {});
  let got = '';
  s.on('data', (d) => {
    got += d.toString('latin1');
    if (got.includes('\r\n\r\n')) s.end(resp);
  });
  s.setTimeout(2000, () => s.destroy());
});
srv.listen({ port, host, backlog: 1024 }, () => console.log(`srv ${name} listening on ${host}:${port}`));
process.on('SIGTERM', () => process.exit(0));
