// CheckerHost hands the transitions of one report of the checker child to its consumer at once
// ('transitions'), so that the virtual-server manager recomputes a pool once per report and not
// once per real server (5,000 initial states would otherwise be O(n^2) work on the VRRP loop).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CheckerHost } from '../../../src/daemon/checker-host.js';
import type { CheckerInput } from '../../../checks/input.js';
import type { RsTransition } from '../../../checks/scheduler.js';
import { ensureBuilt } from '../../helpers/netns.js';
import { common, httpCheck, httpServer, target, url } from '../checks/helpers.js';

const N = 300;

function input(port: number): CheckerInput {
  const chk = httpCheck({ ...common({ delayLoopMs: 60_000, retry: 0, warmupMs: 0, connectTimeoutMs: 2000, alpha: true }), urls: [url()] });
  return {
    // distinct virtual hosts: distinct probes (no dedup), one real server each
    realServers: Array.from({ length: N }, (_, i) => ({
      rsId: `vs:TCP:[10.0.0.1]:80/rs:[127.0.0.1]:${i}`,
      vsId: 'vs:TCP:[10.0.0.1]:80',
      target: target(port, '127.0.0.1', { virtualhost: `rs${i}.test` }),
      weight: 1,
      checkers: [chk],
    })),
    settings: { enableScriptSecurity: false, trackFiles: {}, logAllFailures: false },
  };
}

const hosts: CheckerHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.stop();
});

describe.each(['process', 'worker'] as const)('CheckerHost transitions batches (%s isolation)', (isolation) => {
  beforeAll(() => ensureBuilt(['dist/checks/process-main.js']), 120_000);

  it('one batch per report, in the order and with the content of the single events', async () => {
    const srv = await httpServer((_q, res) => res.end());
    const host = new CheckerHost({ isolation });
    hosts.push(host);
    const singles: RsTransition[] = [];
    const batches: RsTransition[][] = [];
    host.on('transition', (t) => singles.push(t));
    host.on('transitions', (ts) => {
      // emitted after the singles of the same report
      expect(singles.slice(-ts.length)).toEqual(ts);
      batches.push(ts);
    });
    try {
      host.start(input(srv.port));
      const end = Date.now() + 15_000;
      while (singles.filter((t) => t.up).length < N && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(singles.filter((t) => t.up)).toHaveLength(N);
      // alpha: every real server starts down; the load reports all of them at once
      expect(batches[0]).toHaveLength(N);
      expect(batches[0]!.every((t) => t.initial && !t.up)).toBe(true);
      expect(batches.flat()).toEqual(singles);
    } finally {
      await srv.close();
    }
  });
});
