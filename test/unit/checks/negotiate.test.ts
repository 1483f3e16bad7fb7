import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NegotiateCheck } from '../../../src/config/model.js';
import { probeNegotiate, requestPath, unescapeRequest } from '../../../checks/negotiate.js';
import { closedPort, common, ctx, httpServer, httpsServer, target, tcpServer } from './helpers.js';

const neg = (over: Partial<NegotiateCheck>): NegotiateCheck => ({
  ...common(),
  type: 'NEGOTIATE_CHECK',
  service: 'tcp',
  request: '',
  receive: '',
  httpMethod: 'GET',
  ...over,
});

describe('NEGOTIATE_CHECK helpers', () => {
  it('normalises requests', () => {
    expect(requestPath('')).toBe('/');
    expect(requestPath('status')).toBe('/status');
    expect(requestPath('http://x.example/a/b?c=1')).toBe('/a/b?c=1');
    expect(unescapeRequest('PING\\r\\n')).toBe('PING\r\n');
  });
});

describe('NEGOTIATE_CHECK http/https', () => {
  let srv: Awaited<ReturnType<typeof httpServer>>;
  let tls: Awaited<ReturnType<typeof httpsServer>>;
  beforeAll(async () => {
    srv = await httpServer((req, res) => {
      if (req.url === '/health') res.end(req.method === 'HEAD' ? undefined : 'status: OK');
      else {
        res.statusCode = 500;
        res.end('status: FAIL');
      }
    });
    tls = await httpsServer((_req, res) => res.end('secure OK'));
  });
  afterAll(async () => {
    await srv.close();
    await tls.close();
  });

  it('GET: 2xx and the body matches receive', async () => {
    expect((await probeNegotiate(neg({ service: 'http', request: '/health', receive: 'status: OK' }), target(srv.port), ctx())).up).toBe(true);
    const nomatch = await probeNegotiate(neg({ service: 'http', request: '/health', receive: 'READY' }), target(srv.port), ctx());
    expect(nomatch.reason).toContain('body does not match "READY"');
    const status = await probeNegotiate(neg({ service: 'http', request: '/other', receive: 'FAIL' }), target(srv.port), ctx());
    expect(status.reason).toContain('HTTP status 500 not in 200-299');
  });

  it('HEAD: matches against the headers; virtualhost is the Host header', async () => {
    srv.requests.length = 0;
    const r = await probeNegotiate(neg({ service: 'http', request: '/health', httpMethod: 'HEAD', receive: '200 OK', virtualhost: 'app.example' }), target(srv.port), ctx());
    expect(r.up).toBe(true);
    expect(srv.requests[0]!.headers.host).toBe('app.example');
  });

  it('https without certificate verification', async () => {
    expect((await probeNegotiate(neg({ service: 'https', request: '/', receive: 'secure' }), target(tls.port), ctx())).up).toBe(true);
  });
});

describe('NEGOTIATE_CHECK tcp and banner protocols', () => {
  it('tcp: writes the request and matches the answer; timeout and close are explained', async () => {
    const s = await tcpServer((sock) => sock.on('data', (d) => (d.toString() === 'PING\r\n' ? sock.write('+PONG\r\n') : sock.end('-ERR\r\n'))));
    try {
      expect((await probeNegotiate(neg({ request: 'PING\\r\\n', receive: '^\\+PONG' }), target(s.port), ctx())).up).toBe(true);
      const closed = await probeNegotiate(neg({ request: 'HELLO\\r\\n', receive: 'PONG' }), target(s.port), ctx());
      expect(closed.reason).toContain('did not match "PONG" before the connection closed');
      const slow = await probeNegotiate(neg({ ...common({ connectTimeoutMs: 200 }), request: 'PING\\r\\n', receive: 'NEVER' }), target(s.port), ctx());
      expect(slow.reason).toContain('within 200 ms');
      expect((await probeNegotiate(neg({}), target(s.port), ctx())).up).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('banner protocols: positive greeting, optional request, receive over everything', async () => {
    const pop = await tcpServer((sock) => {
      sock.write('+OK POP3 ready\r\n');
      sock.on('data', (d) => {
        if (d.toString().startsWith('CAPA')) sock.write('+OK capa follows\r\n');
        if (d.toString().startsWith('QUIT')) sock.end('+OK bye\r\n');
      });
    });
    const ftpBusy = await tcpServer((sock) => sock.write('421 Service not available\r\n'));
    const smtp = await tcpServer((sock) => sock.write('220-first\r\n220 mail ESMTP Postfix\r\n'));
    const imap = await tcpServer((sock) => sock.write('* OK IMAP4rev1 ready\r\n'));
    try {
      expect((await probeNegotiate(neg({ service: 'pop', request: 'CAPA', receive: 'capa follows' }), target(pop.port), ctx())).up).toBe(true);
      expect((await probeNegotiate(neg({ service: 'ftp' }), target(ftpBusy.port), ctx())).reason).toContain('negative greeting "421 Service not available"');
      expect((await probeNegotiate(neg({ service: 'smtp', receive: 'Postfix' }), target(smtp.port), ctx())).up).toBe(true);
      expect((await probeNegotiate(neg({ service: 'smtp', receive: 'Exim' }), target(smtp.port), ctx())).reason).toContain('answer does not match "Exim"');
      expect((await probeNegotiate(neg({ service: 'imap' }), target(imap.port), ctx())).up).toBe(true);
      expect((await probeNegotiate(neg({ service: 'nntp' }), target(imap.port), ctx())).reason).toContain('malformed greeting');
    } finally {
      await Promise.all([pop.close(), ftpBusy.close(), smtp.close(), imap.close()]);
    }
  });

  it('is down when nothing listens, or the regex is invalid', async () => {
    const port = await closedPort();
    expect((await probeNegotiate(neg({ service: 'smtp' }), target(port), ctx())).reason).toContain('connect ECONNREFUSED');
    expect((await probeNegotiate(neg({ receive: '[' }), target(port), ctx())).reason).toContain('invalid regex');
  });
});
