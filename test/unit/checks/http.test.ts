import crypto from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { probeHttp, setHttpEngine } from '../../../checks/http.js';
import { buildRequest, ResponseParser } from '../../../checks/http-client.js';
import { closedPort, common, ctx, httpCheck, httpServer, httpsServer, target, tcpServer, url } from './helpers.js';

const md5 = (s: string): string => crypto.createHash('md5').update(s).digest('hex');

describe('HTTP response parser', () => {
  it('parses a response fed byte by byte, with Content-Length', () => {
    const p = new ResponseParser(false, true, 100);
    const raw = 'HTTP/1.0 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhelloEXTRA';
    for (const ch of raw) {
      if (p.done) break;
      p.push(Buffer.from(ch, 'latin1'));
    }
    expect(p.done).toBe(true);
    const r = p.result();
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('hello');
    expect(r.md5).toBe(md5('hello'));
  });

  it('decodes chunked bodies (HTTP/1.1) including chunk extensions', () => {
    const p = new ResponseParser(false, true, 100);
    p.push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n'));
    p.push(Buffer.from('6\r\n world\r\n0\r\n\r\n'));
    expect(p.done).toBe(true);
    expect(p.result().body.toString()).toBe('hello world');
    expect(p.result().md5).toBe(md5('hello world'));
  });

  it('reads to the end of the connection without a length', () => {
    const p = new ResponseParser(false, false, 3);
    p.push(Buffer.from('HTTP/1.0 404 Not Found\r\n\r\nabcdef'));
    expect(p.done).toBe(false);
    const r = p.end();
    expect(r.status).toBe(404);
    expect(r.bodyBytes).toBe(6);
    expect(r.body.toString()).toBe('abc');
  });

  it('rejects garbage early and explains truncated heads', () => {
    expect(() => new ResponseParser(false, false, 0).push(Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'))).toThrow(/invalid HTTP status line "SSH-2.0-OpenSSH_9.6"/);
    const p = new ResponseParser(false, false, 0);
    p.push(Buffer.from('HTTP/1.1 200 OK\r\nServer: x'));
    expect(() => p.end()).toThrow(/closed before the end of the HTTP response headers/);
    expect(() => new ResponseParser(false, false, 0).end()).toThrow(/without an HTTP response/);
    expect(() => new ResponseParser(false, false, 0).push(Buffer.from('HTTP/1.1 2x0 OK\r\n\r\n'))).toThrow(/invalid HTTP status line/);
    expect(() => new ResponseParser(false, false, 0).push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n'))).toThrow(/invalid Content-Length/);
  });

  it('builds keepalived-format requests for each http_protocol', () => {
    expect(buildRequest({ method: 'GET', path: '/x', host: 'h:80', version: '1.0' })).toBe('GET /x HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: h:80\r\n\r\n');
    expect(buildRequest({ method: 'GET', path: '/x', host: 'h', version: '1.0C' })).toBe('GET /x HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: h\r\n\r\n');
    expect(buildRequest({ method: 'GET', path: '/', host: 'h', version: '1.1' })).toMatch(/^GET \/ HTTP\/1\.1\r\n.*Connection: close\r\n/s);
  });
});

describe('HTTP_GET against a local server', () => {
  let srv: Awaited<ReturnType<typeof httpServer>>;
  beforeAll(async () => {
    srv = await httpServer((req, res) => {
      if (req.url === '/ok') res.end('hello world');
      else if (req.url === '/503') {
        res.statusCode = 503;
        res.end('busy');
      } else if (req.url === '/chunked') {
        res.write('part1-');
        setTimeout(() => res.end('part2'), 5);
      } else {
        res.statusCode = 404;
        res.end('nope');
      }
    });
  });
  afterAll(() => srv.close());
  afterEach(() => setHttpEngine('raw'));

  it('is up for 2xx and down for a status outside the ranges', async () => {
    const up = await probeHttp(httpCheck({ urls: [url({ path: '/ok' })] }), target(srv.port), ctx());
    expect(up.up).toBe(true);
    expect(up.reason).toContain('HTTP 200');
    const down = await probeHttp(httpCheck({ urls: [url({ path: '/503' })] }), target(srv.port), ctx());
    expect(down).toMatchObject({ up: false });
    expect(down.reason).toContain('HTTP status 503 not in 200-299');
    const allowed = await probeHttp(httpCheck({ urls: [url({ path: '/503', statusCodes: [[200, 200], [500, 599]] })] }), target(srv.port), ctx());
    expect(allowed.up).toBe(true);
  });

  it('checks the MD5 digest of the body (also for chunked HTTP/1.1 bodies)', async () => {
    const good = await probeHttp(httpCheck({ urls: [url({ path: '/ok', digest: md5('hello world') })] }), target(srv.port), ctx());
    expect(good.up).toBe(true);
    const bad = await probeHttp(httpCheck({ urls: [url({ path: '/ok', digest: md5('other') })] }), target(srv.port), ctx());
    expect(bad.up).toBe(false);
    expect(bad.reason).toMatch(/MD5 digest [0-9a-f]{32} of the body does not match/);
    const chunked = await probeHttp(
      httpCheck({ httpProtocol: '1.1', urls: [url({ path: '/chunked', digest: md5('part1-part2') })] }),
      target(srv.port),
      ctx(),
    );
    expect(chunked.up).toBe(true);
  });

  it('matches regex and regex_no_match', async () => {
    expect((await probeHttp(httpCheck({ urls: [url({ path: '/ok', regex: 'wor.d' })] }), target(srv.port), ctx())).up).toBe(true);
    const nomatch = await probeHttp(httpCheck({ urls: [url({ path: '/ok', regex: 'planet' })] }), target(srv.port), ctx());
    expect(nomatch.reason).toContain('body does not match regex "planet"');
    const inverted = await probeHttp(httpCheck({ urls: [url({ path: '/ok', regex: 'hello', regexNoMatch: true })] }), target(srv.port), ctx());
    expect(inverted.up).toBe(false);
    expect(inverted.reason).toContain('regex_no_match');
    expect((await probeHttp(httpCheck({ urls: [url({ path: '/ok', regex: 'HELLO', regexOptions: ['caseless'] })] }), target(srv.port), ctx())).up).toBe(true);
    const invalid = await probeHttp(httpCheck({ urls: [url({ path: '/ok', regex: '(' })] }), target(srv.port), ctx());
    expect(invalid.reason).toContain('invalid regex');
  });

  it('requires every url to pass', async () => {
    const r = await probeHttp(httpCheck({ urls: [url({ path: '/ok' }), url({ path: '/missing' })] }), target(srv.port), ctx());
    expect(r.up).toBe(false);
    expect(r.reason).toContain('/missing: HTTP status 404');
    expect((await probeHttp(httpCheck({ urls: [url({ path: '/ok' }), url({ path: '/503', statusCodes: [[503, 503]] })] }), target(srv.port), ctx())).up).toBe(true);
  });

  it('sends Host: url > checker > virtual server > address:port, and the protocol line asked for', async () => {
    srv.requests.length = 0;
    await probeHttp(httpCheck({ urls: [url({ path: '/ok' })] }), target(srv.port), ctx());
    await probeHttp(httpCheck({ urls: [url({ path: '/ok' })] }), target(srv.port, '127.0.0.1', { virtualhost: 'vs.example' }), ctx());
    await probeHttp(httpCheck({ virtualhost: 'chk.example', urls: [url({ path: '/ok' })] }), target(srv.port, '127.0.0.1', { virtualhost: 'vs.example' }), ctx());
    await probeHttp(httpCheck({ virtualhost: 'chk.example', urls: [url({ path: '/ok', virtualhost: 'url.example' })] }), target(srv.port), ctx());
    expect(srv.requests.map((r) => r.headers.host)).toEqual([`127.0.0.1:${srv.port}`, 'vs.example', 'chk.example', 'url.example']);
    expect(srv.requests[0]!.httpVersion).toBe('1.0');
    expect(srv.requests[0]!.headers.connection).toBeUndefined();
    expect(srv.requests[0]!.headers['user-agent']).toBe('KeepAliveClient');
    srv.requests.length = 0;
    await probeHttp(httpCheck({ httpProtocol: '1.1', urls: [url({ path: '/ok' })] }), target(srv.port), ctx());
    await probeHttp(httpCheck({ httpProtocol: '1.0C', urls: [url({ path: '/ok' })] }), target(srv.port), ctx());
    expect(srv.requests.map((r) => [r.httpVersion, r.headers.connection])).toEqual([['1.1', 'close'], ['1.0', 'close']]);
  });

  it('uses connect_ip/connect_port instead of the real server address', async () => {
    const r = await probeHttp(httpCheck({ ...common({ connectIp: '127.0.0.1', connectPort: srv.port }), urls: [url({ path: '/ok' })] }), target(1, '127.0.0.9'), ctx());
    expect(r.up).toBe(true);
  });

  it('binds the source address (bindto)', async () => {
    const seen: string[] = [];
    const s = await tcpServer((sock) => {
      seen.push(sock.remoteAddress ?? '');
      sock.end('HTTP/1.0 200 OK\r\n\r\n');
    });
    try {
      const r = await probeHttp(httpCheck({ ...common({ bindTo: '127.0.0.7' }), urls: [url()] }), target(s.port), ctx());
      expect(r.up).toBe(true);
      expect(seen).toEqual(['127.0.0.7']);
    } finally {
      await s.close();
    }
  });

  it('opens a fresh connection for every probe', async () => {
    const conns: number[] = [];
    const s = await tcpServer((sock) => {
      conns.push(sock.remotePort ?? 0);
      sock.on('data', () => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    });
    try {
      for (let i = 0; i < 3; i++) expect((await probeHttp(httpCheck({ httpProtocol: '1.1' }), target(s.port), ctx())).up).toBe(true);
      expect(conns).toHaveLength(3);
      expect(new Set(conns).size).toBe(3);
    } finally {
      await s.close();
    }
  });

  it('works the same with the undici engine', async () => {
    setHttpEngine('undici');
    expect((await probeHttp(httpCheck({ urls: [url({ path: '/ok', digest: md5('hello world') })] }), target(srv.port), ctx())).up).toBe(true);
    const down = await probeHttp(httpCheck({ urls: [url({ path: '/503' })] }), target(srv.port), ctx());
    expect(down.reason).toContain('HTTP status 503 not in 200-299');
    const port = await closedPort();
    expect((await probeHttp(httpCheck(), target(port), ctx())).reason).toContain(`connect ECONNREFUSED 127.0.0.1:${port}`);
  });
});

describe('HTTP_GET failure paths', () => {
  it('reports a refused connection', async () => {
    const port = await closedPort();
    const r = await probeHttp(httpCheck(), target(port), ctx());
    expect(r.up).toBe(false);
    expect(r.reason).toBe(`HTTP_GET 127.0.0.1:${port}/: connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('times out when the server never answers', async () => {
    const s = await tcpServer(() => {});
    try {
      const t0 = Date.now();
      const r = await probeHttp(httpCheck({ ...common({ connectTimeoutMs: 300 }), urls: [url()] }), target(s.port), ctx());
      expect(r.up).toBe(false);
      expect(r.reason).toContain('timeout after 300 ms waiting for the HTTP response');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      await s.close();
    }
  });

  it('calls a garbage answer down with the offending line', async () => {
    const s = await tcpServer((sock) => sock.end('220 mail.example ESMTP ready\r\n'));
    try {
      const r = await probeHttp(httpCheck(), target(s.port), ctx());
      expect(r.up).toBe(false);
      expect(r.reason).toContain('invalid HTTP status line "220 mail.example ESMTP ready"');
    } finally {
      await s.close();
    }
  });

  it('calls a connection closed without an answer down', async () => {
    const s = await tcpServer((sock) => sock.on('data', () => sock.end()));
    try {
      const r = await probeHttp(httpCheck(), target(s.port), ctx());
      expect(r.reason).toContain('connection closed without an HTTP response');
    } finally {
      await s.close();
    }
  });

  it('stops at once when aborted', async () => {
    const s = await tcpServer(() => {});
    try {
      const ac = new AbortController();
      const p = probeHttp(httpCheck({ ...common({ connectTimeoutMs: 10_000 }), urls: [url()] }), target(s.port), ctx({}, ac.signal));
      setTimeout(() => ac.abort(), 50);
      const r = await p;
      expect(r.up).toBe(false);
      expect(r.reason).toContain('aborted');
    } finally {
      await s.close();
    }
  });
});

describe('SSL_GET', () => {
  let srv: Awaited<ReturnType<typeof httpsServer>>;
  beforeAll(async () => {
    srv = await httpsServer((req, res) => {
      res.statusCode = req.url === '/ok' ? 200 : 500;
      res.end('secure');
    });
  });
  afterAll(() => srv.close());

  it('accepts a self-signed certificate (no verification, as keepalived) and checks the answer', async () => {
    const r = await probeHttp(httpCheck({ type: 'SSL_GET', urls: [url({ path: '/ok', digest: md5('secure') })] }), target(srv.port), ctx());
    expect(r.up).toBe(true);
    const bad = await probeHttp(httpCheck({ type: 'SSL_GET', urls: [url({ path: '/x' })] }), target(srv.port), ctx());
    expect(bad.reason).toContain('HTTP status 500');
  });

  it('sends SNI only with enable_sni (sni_name, else the virtualhost)', async () => {
    srv.snis.length = 0;
    await probeHttp(httpCheck({ type: 'SSL_GET', urls: [url({ path: '/ok' })] }), target(srv.port, '127.0.0.1', { virtualhost: 'vh.example' }), ctx());
    await probeHttp(httpCheck({ type: 'SSL_GET', enableSni: true, urls: [url({ path: '/ok' })] }), target(srv.port, '127.0.0.1', { virtualhost: 'vh.example' }), ctx());
    await probeHttp(httpCheck({ type: 'SSL_GET', enableSni: true, sniName: 'sni.example', urls: [url({ path: '/ok' })] }), target(srv.port), ctx());
    expect(srv.snis).toEqual([false, 'vh.example', 'sni.example']);
  });

  it('reports a TLS failure against a plain-text server', async () => {
    const s = await tcpServer((sock) => sock.on('data', () => sock.end('HTTP/1.0 400 Bad Request\r\n\r\n')));
    try {
      const r = await probeHttp(httpCheck({ type: 'SSL_GET' }), target(s.port), ctx());
      expect(r.up).toBe(false);
      expect(r.reason).toMatch(/TLS handshake failed|ECONNRESET|wrong version|packet length/i);
    } finally {
      await s.close();
    }
  });
});
