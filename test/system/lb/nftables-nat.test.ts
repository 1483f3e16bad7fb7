// End to end, LVS-NAT over the nftables engine: `lvsd run` in a director namespace (VRRP MASTER
// holding the VIPs and the real servers' gateway address), real HTTP_GET health checks, real
// servers that route through the director, a client sending new connections. Scenarios: rr /
// wrr / sh distribution, a real server stopped (removed by its check, no client errors after the
// detection window) and restored, clean shutdown. See lab.ts for the topology.
import { describe, expect, it } from 'vitest';
import { isRoot } from '../../helpers/netns.js';
import { GATEWAY_VIP } from './lab.js';
import { lbScenarios, stopScenario } from './suite.js';

describe.skipIf(!isRoot)('lvsd end to end: NAT over nftables, HTTP_GET checks (root)', () => {
  const lab = lbScenarios('nat');

  it('the real servers reach the client only through the director`s gateway VIP', async () => {
    const L = lab();
    expect(await L.lab.exec('rs1', 'ip', 'route', 'get', '10.99.0.10')).toContain(`via ${GATEWAY_VIP}`);
    expect(await L.lab.exec('dir', 'ip', '-br', 'addr', 'show', 'dev', 'eth0')).toContain(`${GATEWAY_VIP}/24`);
  });

  stopScenario(lab);
});
