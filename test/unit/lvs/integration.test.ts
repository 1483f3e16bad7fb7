// Manager + reconciler + memory engine, wired the way the daemon does it.
import { describe, expect, it } from 'vitest';
import { LvsManager } from '../../../src/lvs/manager.js';
import type { LvsAction } from '../../../src/lvs/types.js';
import { Reconciler, type ReconcilerTimer } from '../../../src/dataplane/reconciler.js';
import { MemoryEngine } from '../../../src/dataplane/memory.js';
import { tablesEqual } from '../../../src/dataplane/diff.js';
import { config, FIFO, rs, sorry, vs } from './fixtures.js';

class ManualTimer implements ReconcilerTimer {
  fn: (() => void) | undefined;
  setInterval(fn: () => void): unknown {
    this.fn = fn;
    return 1;
  }
  clearInterval(): void {
    this.fn = undefined;
  }
}

async function run(rec: Reconciler, m: LvsManager, actions: LvsAction[]): Promise<string[]> {
  const fifo: string[] = [];
  for (const a of actions) {
    if (a.kind === 'ops') await rec.push(m.desired(), a.ops);
    if (a.kind === 'fifo') fifo.push(a.line);
  }
  return fifo;
}

describe('manager + reconciler + memory engine', () => {
  it('keeps the kernel equal to the desired pools through checks, drift, reload and shutdown', async () => {
    const mk = (w2 = 1) =>
      config(
        [
          vs('10.0.0.1:80', { quorum: 2, sorryServer: sorry('10.0.9.9', 80), realServers: [rs('10.0.1.1', 80), rs('10.0.1.2', 80, { weight: w2 }), rs('10.0.1.3', 80, { alpha: true })] }),
        ],
        { global: FIFO },
      );
    const cfg = mk();
    const ids = cfg.virtualServers[0]!.realServers.map((r) => r.id);
    const engine = new MemoryEngine();
    const timer = new ManualTimer();
    const m = new LvsManager(cfg);
    const rec = new Reconciler({ engine, intervalMs: 1000, timer });

    const startActions = m.start(0);
    rec.setDesired(m.desired());
    await rec.start();
    expect(startActions[0]).toMatchObject({ kind: 'ops' });
    expect(tablesEqual(engine.snapshot(), m.desired())).toBe(true);
    expect(engine.snapshot().get('TCP:[10.0.0.1]:80')!.dests.size).toBe(2);

    // alpha server comes up, one goes down: still quorum (2)
    expect(await run(rec, m, m.onCheck({ rsId: ids[2]!, up: true, reason: 'ok' }, 1))).toEqual(['RS [10.0.1.3]:tcp:80 [10.0.0.1]:tcp:80 UP']);
    await run(rec, m, m.onCheck({ rsId: ids[0]!, up: false, reason: 'refused' }, 2));
    expect(tablesEqual(engine.snapshot(), m.desired())).toBe(true);

    // lose quorum: sorry server replaces the pool
    expect(await run(rec, m, m.onCheck({ rsId: ids[1]!, up: false, reason: 'refused' }, 3))).toEqual([
      'RS [10.0.1.2]:tcp:80 [10.0.0.1]:tcp:80 DOWN',
      'VS [10.0.0.1]:tcp:80 DOWN',
    ]);
    expect([...engine.snapshot().get('TCP:[10.0.0.1]:80')!.dests.keys()]).toEqual(['[10.0.9.9]:80']);

    // someone deletes the sorry server with ipvsadm: back within one interval
    engine.driftDelete('TCP:[10.0.0.1]:80', '[10.0.9.9]:80');
    timer.fn!();
    await rec.idle();
    expect(tablesEqual(engine.snapshot(), m.desired())).toBe(true);

    // back up, then a reload that only changes one weight: one edit-dest reaches the kernel
    await run(rec, m, m.onChecks([{ rsId: ids[0]!, up: true, reason: 'ok' }, { rsId: ids[1]!, up: true, reason: 'ok' }], 4));
    const n = engine.applied.length;
    await run(rec, m, m.reload(mk(3), 5));
    expect(engine.applied.slice(n).map((o) => o.op)).toEqual(['edit-dest']);
    expect(tablesEqual(engine.snapshot(), m.desired())).toBe(true);

    // shutdown removes what lvsd created
    m.shutdown(6);
    await rec.shutdown();
    expect(engine.snapshot().size).toBe(0);
  });
});
