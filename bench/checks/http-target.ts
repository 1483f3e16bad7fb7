// Load target for the checker benchmark: a minimal HTTP/1.x responder on many ports (any
// 127.0.0.x address), in its own process so its CPU is not counted as the checker's.
// argv: firstPort count. Prints {"ready":true} then serves until killed.
import net from 'node:net';

const first = Number(process.argv[2] ?? 20000);
const count = Number(process.argv[3] ?? 100);
const RESPONSE = Buffer.from('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok');
let served = 0;

function onConn(sock: net.Socket): void {
  let seen = 0;
  sock.on('data', (d: Buffer) => {
    // the request ends with an empty line; the checker sends it in one write
    seen += d.length;
    if (d.includes('\r\n\r\n') || seen > 4096) {
      served++;
      sock.end(RESPONSE);
    }
  });
  sock.on('error', () => {});
}

let listening = 0;
for (let p = first; p < first + count; p++) {
  const srv = net.createServer({ noDelay: true }, onConn);
  srv.listen({ port: p, host: '0.0.0.0', backlog: 4096 }, () => {
    if (++listening === count) process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  });
  srv.on('error', (e) => {
    process.stderr.write(`listen ${p}: ${e.message}\n`);
    process.exit(1);
  });
}
setInterval(() => process.stdout.write(`${JSON.stringify({ served })}\n`), 1000).unref();
process.on('SIGTERM', () => process.exit(0));
