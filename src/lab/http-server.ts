// A tiny HTTP/1.0 server for labs and the demo: answers every request with its node name, so a
// client can see which real server (or director) answered. `node http-server.js NAME [PORT]`.
import http from 'node:http';

const name = process.argv[2] ?? 'server';
const port = Number(process.argv[3] ?? 80);

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
  res.end(`${name}\n`);
  req.socket.setKeepAlive(false);
});
server.keepAliveTimeout = 0;
server.listen(port, '0.0.0.0', () => process.stdout.write(JSON.stringify({ event: 'listening', name, port }) + '\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
