import { describe, expect, it } from 'vitest';
import type { SmtpCheck, TcpCheck } from '../../../src/config/model.js';
import { probeSmtp } from '../../../checks/smtp.js';
import { probeTcp } from '../../../checks/tcp.js';
import { closedPort, common, ctx, target, tcpServer } from './helpers.js';

const tcp = (over: Partial<TcpCheck> = {}): TcpCheck => ({ ...common(), type: 'TCP_CHECK', ...over });
const smtp = (over: Partial<SmtpCheck> = {}): SmtpCheck => ({ ...common(), type: 'SMTP_CHECK', heloName: 'lvsd.test', ...over });

describe('TCP_CHECK', () => {
  it('is up when the connection completes, then closes it', async () => {
    let closed = 0;
    const s = await tcpServer((sock) => sock.on('close', () => closed++));
    try {
      const r = await probeTcp(tcp(), target(s.port), ctx());
      expect(r).toMatchObject({ up: true });
      expect(r.latencyMs).toBeGreaterThanOrEqual(0);
      await new Promise((res) => setTimeout(res, 50));
      expect(s.connections).toBe(1);
      expect(closed).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('is down on a refused connection, with the errno and peer', async () => {
    const port = await closedPort();
    const r = await probeTcp(tcp(), target(port), ctx());
    expect(r).toMatchObject({ up: false, reason: `TCP_CHECK: connect ECONNREFUSED 127.0.0.1:${port}` });
  });

  it('is down when the source address cannot be bound', async () => {
    const port = await closedPort();
    const r = await probeTcp(tcp(common({ bindTo: '192.0.2.1' }) as TcpCheck), target(port), ctx());
    expect(r.up).toBe(false);
    expect(r.reason).toMatch(/EADDRNOTAVAIL/);
  });
});

/** A scripted SMTP server: greeting, then answers per command. */
async function smtpServer(greeting: string | null, helo: (line: string) => string) {
  const seen: string[] = [];
  const s = await tcpServer((sock) => {
    if (greeting !== null) sock.write(greeting);
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        seen.push(line);
        if (line.startsWith('HELO')) sock.write(helo(line));
        else if (line === 'QUIT') sock.end('221 bye\r\n');
      }
    });
  });
  return Object.assign(s, { seen });
}

describe('SMTP_CHECK', () => {
  it('reads a (multi-line) 220 banner, sends HELO helo_name, wants 250, then QUIT', async () => {
    const s = await smtpServer('220-mail.test ESMTP\r\n220 ready\r\n', () => '250 hello\r\n');
    try {
      const r = await probeSmtp(smtp(), target(s.port), ctx());
      expect(r.up).toBe(true);
      await new Promise((res) => setTimeout(res, 50));
      expect(s.seen).toEqual(['HELO lvsd.test', 'QUIT']);
    } finally {
      await s.close();
    }
  });

  it('is down on a non-220 banner, a rejected HELO, garbage, or silence', async () => {
    const busy = await smtpServer('421 too busy\r\n', () => '250 ok\r\n');
    const rejects = await smtpServer('220 ready\r\n', () => '550 go away\r\n');
    const garbage = await smtpServer('HTTP/1.1 400 Bad Request\r\n', () => '');
    const silent = await smtpServer(null, () => '');
    try {
      expect((await probeSmtp(smtp(), target(busy.port), ctx())).reason).toContain('SMTP banner code 421, expected 220');
      expect((await probeSmtp(smtp(), target(rejects.port), ctx())).reason).toContain('HELO lvsd.test answered 550, expected 250');
      expect((await probeSmtp(smtp(), target(garbage.port), ctx())).reason).toContain('malformed SMTP banner');
      const t = await probeSmtp(smtp(common({ connectTimeoutMs: 200 }) as SmtpCheck), target(silent.port), ctx());
      expect(t.up).toBe(false);
      expect(t.reason).toContain('timeout after 200 ms waiting for SMTP banner');
    } finally {
      await Promise.all([busy.close(), rejects.close(), garbage.close(), silent.close()]);
    }
  });

  it('defaults helo_name to the host name', async () => {
    const s = await smtpServer('220 ready\r\n', () => '250 ok\r\n');
    try {
      expect((await probeSmtp(smtp({ heloName: '' }), target(s.port), ctx())).up).toBe(true);
      const os = await import('node:os');
      expect(s.seen[0]).toBe(`HELO ${os.hostname()}`);
    } finally {
      await s.close();
    }
  });

  it('is down when nothing listens', async () => {
    const port = await closedPort();
    expect((await probeSmtp(smtp(), target(port), ctx())).reason).toContain(`connect ECONNREFUSED 127.0.0.1:${port}`);
  });
});
