// End to end, LVS-DR over the nftables engine: `lvsd run` in a director namespace (VRRP MASTER
// holding the VIPs), real HTTP_GET health checks, real servers prepared with
// `lvsd realserver up --mode dr` (VIPs on lo, arp_ignore/arp_announce) answering the client
// directly, a client sending new connections. Scenarios: rr / wrr / sh distribution, a real
// server stopped (removed by its check, no client errors after the detection window) and
// restored, clean shutdown, and `lvsd realserver down` undoing the real-server setup.
import { describe, expect, it } from 'vitest';
import { isRoot } from '../../helpers/netns.js';
import { RS_NAMES, VIPS } from './lab.js';
import { lbScenarios, stopScenario } from './suite.js';

describe.skipIf(!isRoot)('lvsd end to end: DR over nftables, HTTP_GET checks (root)', () => {
  const lab = lbScenarios('dr');

  it('`lvsd realserver up` put the VIPs on lo with arp_ignore=1 / arp_announce=2', async () => {
    const L = lab();
    for (const n of RS_NAMES) {
      const lo = await L.lab.exec(n, 'ip', '-br', 'addr', 'show', 'dev', 'lo');
      for (const v of VIPS) expect(lo, n).toContain(`${v}/32`);
      expect((await L.lab.exec(n, 'sysctl', '-n', 'net.ipv4.conf.all.arp_ignore')).trim()).toBe('1');
      expect((await L.lab.exec(n, 'sysctl', '-n', 'net.ipv4.conf.all.arp_announce')).trim()).toBe('2');
    }
  });

  stopScenario(lab);

  it('`lvsd realserver down` takes the VIPs off lo and restores the sysctls', async () => {
    const L = lab();
    for (const n of RS_NAMES) {
      await L.realserverDown(n);
      const lo = await L.lab.exec(n, 'ip', '-br', 'addr', 'show', 'dev', 'lo');
      for (const v of VIPS) expect(lo, n).not.toContain(v);
      expect((await L.lab.exec(n, 'sysctl', '-n', 'net.ipv4.conf.all.arp_ignore')).trim()).toBe('0');
      expect((await L.lab.exec(n, 'sysctl', '-n', 'net.ipv4.conf.all.arp_announce')).trim()).toBe('0');
    }
  });
});
