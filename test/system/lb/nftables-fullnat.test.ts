// End to end, full NAT (lvsd_fullnat: DNAT to the real server + SNAT to the director's VRRP
// address) over the nftables engine: `lvsd run` in a director namespace, real HTTP_GET health
// checks, real servers with no route to the client at all, a client sending new connections.
// Scenarios: rr / wrr / sh distribution, a real server stopped (removed by its check, no client
// errors after the detection window) and restored, clean shutdown. See lab.ts for the topology.
import { describe, expect, it } from 'vitest';
import { isRoot } from '../../helpers/netns.js';
import { lbScenarios, stopScenario } from './suite.js';

describe.skipIf(!isRoot)('lvsd end to end: full NAT over nftables, HTTP_GET checks (root)', () => {
  const lab = lbScenarios('fullnat');

  it('the real servers have no route to the client: every answer came back through the SNAT', async () => {
    const r = await lab().lab.tryExec('rs1', 'ip', 'route', 'get', '10.99.0.10');
    expect(r.code).not.toBe(0);
  });

  stopScenario(lab);
});
