// What lvsd leaves in the data plane across runs: -I keeps, adopted entries survive a normal
// stop, lvs_flush_on_stop VS removes them, lvs_flush clears foreign entries at start.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, isRoot, Lab, PROJECT_ROOT } from '../../helpers/netns.js';

const BIN = path.join(PROJECT_ROOT, 'bin/lvsd.js');

describe.skipIf(!isRoot)('data plane across lvsd runs: -I, adoption, lvs_flush, lvs_flush_on_stop (root)', () => {
  let lab: Lab;
  let dir: string;
  const conf = (vip: string, global = ''): string => {
    const f = path.join(dir, `c${Math.random().toString(36).slice(2)}.conf`);
    fs.writeFileSync(
      f,
      `global_defs {\n  router_id flush\n${global}}\nlvsd_defs {\n  dataplane nftables\n}\nvirtual_server ${vip} 80 {\n  lb_algo rr\n  lb_kind NAT\n  real_server 10.99.0.50 80 {\n  }\n}\n`,
    );
    return f;
  };
  const services = async (): Promise<string[]> => {
    const out = await lab.tryExec('dir', 'nft', 'list', 'table', 'inet', 'lvsd');
    return [...out.stdout.matchAll(/(10\.1\.0\.\d+)/g)].map((m) => m[1]!).filter((v, i, a) => a.indexOf(v) === i).sort();
  };
  const run = async (file: string, ...flags: string[]): Promise<void> => {
    const p = lab.spawn('dir', process.execPath, [BIN, 'run', '-f', file, ...flags]);
    await p.waitForJson((o) => o['event'] === 'reconcile', { timeoutMs: 15_000 });
    const exit = await p.kill('SIGTERM', 10_000);
    expect(exit.code, p.lines.join('\n')).toBe(0);
  };

  beforeAll(async () => {
    await ensureBuilt(['dist/src/cli/main.js']);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsd-flush-'));
    lab = await Lab.create({ nodes: [{ name: 'dir', host: 1, role: 'director' }] });
  }, 60_000);
  afterAll(async () => {
    await lab?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('-I leaves what lvsd created; a later run adopts it and, at a normal stop, leaves it (it did not create it)', async () => {
    await run(conf('10.1.0.1'), '-I');
    expect(await services()).toEqual(['10.1.0.1']);
    await run(conf('10.1.0.1'));
    // the second run adopted 10.1.0.1 (it did not create it): adopted entries stay
    expect(await services()).toEqual(['10.1.0.1']);
  });

  it('lvs_flush_on_stop VS also removes configured entries lvsd adopted', async () => {
    await run(conf('10.1.0.1', '  lvs_flush_on_stop VS\n'));
    expect(await services()).toEqual([]);
    expect((await lab.exec('dir', 'nft', 'list', 'tables'))).not.toMatch(/table inet lvsd/);
  });

  it('an entry that is not configured is never touched, unless lvs_flush clears the table at start', async () => {
    await run(conf('10.1.0.2'), '-I');
    await run(conf('10.1.0.3'), '-I');
    expect(await services()).toEqual(['10.1.0.2', '10.1.0.3']);
    await run(conf('10.1.0.3', '  lvs_flush\n'), '-I');
    expect(await services()).toEqual(['10.1.0.3']);
    await run(conf('10.1.0.3', '  lvs_flush_on_stop\n'));
    expect(await services()).toEqual([]);
  });
});
