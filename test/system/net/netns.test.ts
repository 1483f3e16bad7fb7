// The namespace harness itself: topology, settings, processes, teardown.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cleanupStaleLabs, isRoot, Lab } from '../../helpers/netns.js';

const nsExists = (ns: string): boolean => fs.existsSync(`/run/netns/${ns}`);

describe.skipIf(!isRoot)('netns lab harness (root)', () => {
  it('builds nodes on a bridge with fixed MACs and addresses, and tears everything down', async () => {
    const lab = await Lab.create({ nodes: ['d1', 'd2', { name: 'r1', host: 21, role: 'realserver' }] });
    try {
      const d1 = lab.node('d1');
      expect(d1).toMatchObject({ mac: '02:99:00:00:00:11', ipv4: '10.99.0.11', ipv4Cidr: '10.99.0.11/24', ipv6: null });
      const links = await lab.ipJson<{ address: string; operstate: string; addr_info: { family: string; local: string }[] }[]>('d1', 'addr', 'show', 'dev', 'eth0');
      expect(links[0]!.address).toBe('02:99:00:00:00:11');
      expect(links[0]!.addr_info.map((a) => `${a.family} ${a.local}`)).toEqual(['inet 10.99.0.11']); // IPv6 off by default
      const br = await lab.ipJson<{ linkinfo: { info_data: { stp_state: number; forward_delay: number; mcast_snooping: number } } }[]>(
        'sw',
        '-d',
        'link',
        'show',
        'br0',
      );
      expect(br[0]!.linkinfo.info_data).toMatchObject({ stp_state: 0, forward_delay: 0, mcast_snooping: 0 });
      expect((await lab.exec('r1', 'cat', '/proc/sys/net/ipv4/conf/eth0/arp_ignore')).trim()).toBe('1');
      expect((await lab.exec('d1', 'cat', '/proc/sys/net/ipv4/conf/eth0/rp_filter')).trim()).toBe('0');
      await lab.exec('d1', 'ping', '-c1', '-W2', '10.99.0.21');
      const bad = await lab.tryExec('d1', 'false');
      expect(bad.code).toBe(1);
      await expect(lab.exec('d1', 'sh', '-c', 'echo oops >&2; exit 3')).rejects.toThrow(/exit 3: oops/);

      // a spawned tree (sh + child sleep) is killed as a group
      const sleeper = lab.spawn('d2', 'sh', ['-c', 'sleep 300 & echo started; wait']);
      await sleeper.waitForLine(/started/);
      const pids = (await lab.exec('d2', 'sh', '-c', 'ip netns pids $(ip netns identify)')).trim().split(/\s+/);
      expect(pids.length).toBeGreaterThanOrEqual(2);
      const exit = await sleeper.kill();
      expect(exit.signal ?? exit.code).toBeTruthy();
    } finally {
      // a process left running on purpose: destroy() must find it through `ip netns pids`
      const orphan = lab.spawn('d1', 'sleep', ['300']);
      await lab.destroy();
      expect(orphan.hasExited).toBe(true);
    }
    expect(nsExists(lab.switchNs)).toBe(false);
    expect(nsExists(lab.node('d1').ns)).toBe(false);
  });

  it('IPv6 labs get EUI-64 link-locals (usable at once) and nodad globals', async () => {
    const lab = await Lab.create({ nodes: ['a', 'b'], ipv6: true });
    try {
      const a = lab.node('a');
      expect(a.linkLocal).toBe('fe80::99:ff:fe00:11');
      const info = await lab.ipJson<{ addr_info: { family: string; local: string; tentative?: boolean }[] }[]>('a', 'addr', 'show', 'dev', 'eth0');
      const v6 = info[0]!.addr_info.filter((x) => x.family === 'inet6');
      expect(v6.map((x) => x.local).sort()).toEqual(['fd99::11', 'fe80::99:ff:fe00:11']);
      expect(v6.some((x) => x.tentative)).toBe(false);
      await lab.exec('a', 'ping', '-6', '-c1', '-W2', 'fd99::12');
    } finally {
      await lab.destroy();
    }
  });

  it('the synchronous exit-time teardown kills lab processes and deletes the namespaces', async () => {
    const lab = await Lab.create({ nodes: ['x'] });
    const p = lab.spawn('x', 'sleep', ['300']);
    lab.destroySync();
    await p.exited;
    expect(nsExists(lab.node('x').ns)).toBe(false);
    expect(nsExists(lab.switchNs)).toBe(false);
    await lab.destroy(); // idempotent
  });

  it('removes namespaces left behind by a dead test process', () => {
    let pid = 4_000_000;
    while (fs.existsSync(`/proc/${pid}`)) pid++;
    const ns = `lvt${pid}xdead-n1`;
    execFileSync('ip', ['netns', 'add', ns]);
    cleanupStaleLabs();
    expect(nsExists(ns)).toBe(false);
  });

  it('refuses bad node names before touching the system', async () => {
    await expect(Lab.create({ nodes: ['sw'] })).rejects.toThrow(/bad lab node name/);
    await expect(Lab.create({ nodes: ['Bad_Name'] })).rejects.toThrow(/bad lab node name/);
  });
});
