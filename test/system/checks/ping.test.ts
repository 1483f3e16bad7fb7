// PING_CHECK in a namespace lab: IPv4 and IPv6, ping sockets and raw sockets, a silent address,
// and an ICMP error from the target.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, isRoot, Lab } from '../../helpers/netns.js';

const agent = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/ping-agent.mjs');

interface Out {
  address: string;
  mode?: string;
  socketMode?: string;
  ok?: boolean;
  up?: boolean;
  reason?: string;
  error?: string;
  done?: boolean;
}

describe.skipIf(!isRoot)('PING_CHECK in a namespace lab (root)', () => {
  let lab: Lab;
  beforeAll(async () => {
    await ensureBuilt(['dist/checks/ping.js']);
    lab = await Lab.create({ nodes: ['dir', { name: 'rs', role: 'realserver' }, 'nogrp'], ipv6: true });
    // no ping-socket permission on this node: the checker must fall back to a raw socket
    await lab.exec('nogrp', 'sysctl', '-qw', 'net.ipv4.ping_group_range=1 0');
  }, 60_000);
  afterAll(async () => {
    await lab?.destroy();
  });

  async function run(node: string, jobs: object[]): Promise<Out[]> {
    const p = lab.spawnNode(node, agent, [JSON.stringify(jobs)]);
    const out: Out[] = [];
    await p.waitForJson<Out>((o) => {
      if (!o.done) out.push(o);
      return o.done === true;
    }, { timeoutMs: 20_000 });
    return out;
  }

  it('gets echo replies over IPv4 and IPv6 with ping and raw sockets', async () => {
    const rs = lab.node('rs');
    // IPv6 needs DAD to finish on both ends
    await lab.exec('dir', 'ping', '-6', '-c1', '-W3', rs.ipv6!).catch(() => undefined);
    const out = await run('dir', [
      { address: rs.ipv4, timeoutMs: 2000, mode: 'dgram' },
      { address: rs.ipv4, timeoutMs: 2000, mode: 'raw' },
      { address: rs.ipv6, timeoutMs: 2000, mode: 'dgram' },
      { address: rs.ipv6, timeoutMs: 2000, mode: 'raw' },
      { address: rs.ipv4, timeoutMs: 2000 },
    ]);
    expect(out.slice(0, 4).map((o) => [o.socketMode, o.ok])).toEqual([['dgram', true], ['raw', true], ['dgram', true], ['raw', true]]);
    expect(out[4]).toMatchObject({ up: true, reason: expect.stringMatching(/echo reply in [\d.]+ ms/) });
  });

  it('falls back to a raw socket when ping sockets are not allowed', async () => {
    const out = await run('nogrp', [{ address: lab.node('rs').ipv4, timeoutMs: 2000, mode: undefined }]);
    expect(out[0]).toMatchObject({ up: true });
    const forced = await run('nogrp', [{ address: lab.node('rs').ipv4, timeoutMs: 500, mode: 'dgram' }]);
    expect(forced[0]!.error).toMatch(/cannot open an ICMP ping socket \(EACCES\)/);
  });

  it('is down after the timeout when nobody answers', async () => {
    const t0 = Date.now();
    const out = await run('dir', [{ address: '10.99.0.98', timeoutMs: 700 }]);
    expect(out[0]).toMatchObject({ up: false, reason: 'PING_CHECK 10.99.0.98: no echo reply within 700 ms' });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('reports an ICMP error quoting our echo request (raw socket)', async () => {
    const rs = lab.node('rs');
    await lab.exec('rs', 'nft', 'add table inet lvsdping');
    await lab.exec('rs', 'nft', 'add chain inet lvsdping in { type filter hook input priority 0; }');
    await lab.exec('rs', 'nft', 'add rule inet lvsdping in icmp type echo-request reject with icmp type admin-prohibited');
    try {
      const out = await run('dir', [{ address: rs.ipv4, timeoutMs: 2000, mode: 'raw' }]);
      expect(out[0]).toMatchObject({ ok: false, reason: 'ICMP destination unreachable (administratively prohibited)' });
    } finally {
      await lab.exec('rs', 'nft', 'delete table inet lvsdping');
    }
  });
});
