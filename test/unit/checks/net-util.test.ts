import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { errReason, tcpSocket, udpConnected } from '../../../checks/net-util.js';
import { common, tcpServer } from './helpers.js';

const isRoot = process.getuid?.() === 0;

describe('probe sockets', () => {
  it('formats errors as "syscall CODE peer"', () => {
    const e = Object.assign(new Error('x'), { code: 'ECONNREFUSED', syscall: 'connect' });
    expect(errReason(e, '10.0.0.5:80')).toBe('connect ECONNREFUSED 10.0.0.5:80');
    expect(errReason(new Error('boom'), 'p')).toBe('boom (p)');
  });

  it.skipIf(!isRoot)('marks TCP and UDP probe packets with fwmark (SO_MARK) and binds bindto', async () => {
    const s = await tcpServer(() => {});
    const sock = tcpSocket(common({ fwmark: 42, bindTo: '127.0.0.9' }), '127.0.0.1', s.port);
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', () => resolve());
        sock.once('error', reject);
      });
      const ss = execFileSync('ss', ['-tnie', 'dst', `127.0.0.1:${s.port}`]).toString();
      expect(ss).toContain('127.0.0.9:');
      expect(ss).toContain('fwmark:0x2a');
      const udp = await udpConnected(common({ fwmark: 7 }), '127.0.0.1', 9);
      try {
        expect(execFileSync('ss', ['-unae', 'dst', '127.0.0.1:9']).toString()).toContain('fwmark:0x7');
      } finally {
        udp.close();
      }
    } finally {
      sock.destroy();
      await s.close();
    }
  });

  it('reports a bindto address that is not local', async () => {
    expect(() => tcpSocket(common({ fwmark: 1, bindTo: '192.0.2.55' }), '127.0.0.1', 9)).toThrow(/bind EADDRNOTAVAIL 192\.0\.2\.55:0/);
    await expect(udpConnected(common({ bindTo: '192.0.2.55' }), '127.0.0.1', 9)).rejects.toThrow(/bind EADDRNOTAVAIL 192\.0\.2\.55:0/);
    // node's own TCP path reports the same way, asynchronously
    const sock = tcpSocket(common({ bindTo: '192.0.2.55' }), '127.0.0.1', 9);
    const err = await new Promise<Error>((r) => sock.once('error', r));
    expect(errReason(err, '127.0.0.1:9')).toMatch(/EADDRNOTAVAIL/);
    void net;
  });
});
