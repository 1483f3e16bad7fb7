// Drift repair against the real kernel: an entry removed behind lvsd's back with nft comes back
// within one reconcile interval; so does a whole deleted table. (IPVS: test/vm/scenarios.)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, isRoot, Lab, PROJECT_ROOT, type LabProcess } from '../../helpers/netns.js';

const INTERVAL_S = 1;
const CONF = `lvsd_defs {
  dataplane nftables
  reconcile_interval ${INTERVAL_S}
}
virtual_server 10.1.0.1 80 {
  lb_algo rr
  lb_kind NAT
  real_server 10.99.0.50 80 {
  }
  real_server 10.99.0.51 80 {
  }
}
`;

describe.skipIf(!isRoot)('drift repair with the nftables engine (root)', () => {
  let lab: Lab;
  let dir: string;
  let lvsd: LabProcess;
  const dests = async (): Promise<string[]> => {
    const r = await lab.tryExec('dir', 'nft', 'list', 'table', 'inet', 'lvsd');
    return [...r.stdout.matchAll(/10\.1\.0\.1 \. tcp \. 80 \. (10\.99\.0\.\d+) \. 80/g)].map((m) => m[1]!).sort();
  };
  const waitFor = async (want: string[], withinMs: number): Promise<number> => {
    const t0 = Date.now();
    for (;;) {
      if (JSON.stringify(await dests()) === JSON.stringify(want)) return Date.now() - t0;
      if (Date.now() - t0 > withinMs) throw new Error(`not repaired within ${withinMs} ms: ${JSON.stringify(await dests())}\n${lvsd.lines.slice(-10).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    await ensureBuilt(['dist/src/cli/main.js']);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsd-drift-'));
    fs.writeFileSync(path.join(dir, 'lvsd.conf'), CONF);
    lab = await Lab.create({ nodes: [{ name: 'dir', host: 1, role: 'director' }] });
    lvsd = lab.spawn('dir', process.execPath, [path.join(PROJECT_ROOT, 'bin/lvsd.js'), 'run', '-f', path.join(dir, 'lvsd.conf')]);
    await lvsd.waitForJson((o) => o['event'] === 'reconcile', { timeoutMs: 15_000 });
    expect(await dests()).toEqual(['10.99.0.50', '10.99.0.51']);
  }, 60_000);
  afterAll(async () => {
    await lvsd?.kill('SIGTERM', 5000);
    await lab?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a real server deleted with nft is back within one interval', async () => {
    await lab.exec('dir', 'nft', 'delete', 'element', 'inet', 'lvsd', 'dm4_0', '{ 10.1.0.1 . tcp . 80 . 10.99.0.51 . 80 }');
    expect(await dests()).toEqual(['10.99.0.50']);
    const ms = await waitFor(['10.99.0.50', '10.99.0.51'], INTERVAL_S * 1000 + 500);
    expect(ms).toBeLessThanOrEqual(INTERVAL_S * 1000 + 500);
  });

  it('a deleted table is rebuilt within one interval', async () => {
    await lab.exec('dir', 'nft', 'delete', 'table', 'inet', 'lvsd');
    expect(await dests()).toEqual([]);
    await waitFor(['10.99.0.50', '10.99.0.51'], INTERVAL_S * 1000 + 500);
  });

  it('a rule changed behind its back is rewritten (the engine hashes every rule it writes)', async () => {
    const listing = await lab.exec('dir', 'nft', '-a', 'list', 'chain', 'inet', 'lvsd', 'prerouting');
    const handle = /vmap @svc4 comment "h:[0-9a-f]+" # handle (\d+)/.exec(listing)![1]!;
    await lab.exec('dir', 'nft', 'delete', 'rule', 'inet', 'lvsd', 'prerouting', 'handle', handle);
    const t0 = Date.now();
    for (;;) {
      const now = await lab.exec('dir', 'nft', 'list', 'chain', 'inet', 'lvsd', 'prerouting');
      if (/ip daddr \. meta l4proto \. th dport vmap @svc4/.test(now)) break;
      if (Date.now() - t0 > INTERVAL_S * 1000 + 1500) throw new Error(`dispatch rule not restored:\n${now}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
});
