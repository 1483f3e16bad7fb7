import { describe, expect, it } from 'vitest';
import { Reconciler, type ReconcilerLogLevel, type ReconcilerTimer } from '../../../src/dataplane/reconciler.js';
import { MemoryEngine } from '../../../src/dataplane/memory.js';
import { diffTables, tablesEqual } from '../../../src/dataplane/diff.js';
import type { DataplaneEngine, TableState } from '../../../src/dataplane/types.js';
import { dest, plain, svc, table } from './tables.js';

/** Interval timer driven by advance(ms). */
class FakeTimer implements ReconcilerTimer {
  now = 0;
  private nextId = 1;
  readonly timers = new Map<number, { fn: () => void; ms: number; at: number }>();
  setInterval(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { fn, ms, at: this.now + ms });
    return id;
  }
  clearInterval(h: unknown): void {
    this.timers.delete(h as number);
  }
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.timers.values()].filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.now = due.at;
      due.at += due.ms;
      due.fn();
    }
    this.now = end;
  }
}

const S1 = svc('10.0.0.1', 80);
const S2 = svc('10.0.0.2', 443);
const A = dest('10.1.0.1', 80);
const B = dest('10.1.0.2', 80);
const C = dest('10.1.0.3', 443);
const FOREIGN = svc('192.168.1.1', 25);

function setup(o: { initial?: TableState; desired?: TableState; keep?: boolean; atomic?: boolean; engine?: DataplaneEngine } = {}) {
  const engine = new MemoryEngine({ initial: o.initial ?? new Map(), atomic: o.atomic ?? false });
  const timer = new FakeTimer();
  const logs: { level: ReconcilerLogLevel; msg: string }[] = [];
  const rec = new Reconciler({ engine: o.engine ?? engine, intervalMs: 5000, timer, log: (level, msg) => logs.push({ level, msg }), keepOnShutdown: o.keep ?? false });
  rec.setDesired(o.desired ?? table([S1, [A, B]], [S2, [C]]));
  const tick = async (ms = 5000) => {
    timer.advance(ms);
    await rec.idle();
  };
  return { engine, timer, logs, rec, tick };
}

describe('Reconciler: start-up adoption', () => {
  it('adopts what already matches: no flush, no re-add, nothing applied', async () => {
    const desired = table([S1, [A, B]], [S2, [C]]);
    const { engine, rec } = setup({ initial: desired, desired });
    const r = await rec.start();
    expect(r.ops).toEqual([]);
    expect(engine.batches).toEqual([]);
    expect(rec.ownership()).toEqual({
      created: [],
      adopted: [S1.key, `${S1.key} ${A.key}`, `${S1.key} ${B.key}`, S2.key, `${S2.key} ${C.key}`].sort(),
    });
  });

  it('adopts a partly matching table by editing in place and adding what is missing', async () => {
    const { engine, rec } = setup({ initial: table([{ ...S1, scheduler: 'rr' }, [{ ...A, weight: 9 }]]) });
    await rec.start();
    expect(engine.applied.map((o) => `${o.op} ${o.svc.key}${'dest' in o ? ` ${o.dest.key}` : ''}`)).toEqual([
      `edit-service ${S1.key}`,
      `add-service ${S2.key}`,
      `add-dest ${S1.key} ${B.key}`,
      `add-dest ${S2.key} ${C.key}`,
      `edit-dest ${S1.key} ${A.key}`,
    ]);
    expect(tablesEqual(engine.snapshot(), table([S1, [A, B]], [S2, [C]]))).toBe(true);
    const own = rec.ownership();
    expect(own.adopted).toEqual([S1.key, `${S1.key} ${A.key}`]);
    expect(own.created).toEqual([`${S1.key} ${B.key}`, S2.key, `${S2.key} ${C.key}`].sort());
  });

  it('never touches foreign services, nor foreign dests inside our services', async () => {
    const foreignDest = dest('10.1.0.99', 80);
    const { engine, rec, tick } = setup({ initial: table([FOREIGN, [A]], [S1, [foreignDest]]) });
    await rec.start();
    await tick();
    await tick();
    const snap = engine.snapshot();
    expect(plain(new Map([[FOREIGN.key, snap.get(FOREIGN.key)!]]))).toEqual(plain(table([FOREIGN, [A]])));
    expect(snap.get(S1.key)!.dests.has(foreignDest.key)).toBe(true);
    expect(engine.applied.some((o) => o.svc.key === FOREIGN.key)).toBe(false);
    expect(engine.applied.some((o) => 'dest' in o && o.dest.key === foreignDest.key)).toBe(false);
  });
});

describe('Reconciler: drift repair', () => {
  it('re-adds what was deleted behind its back and resets edited settings within one interval', async () => {
    const { engine, rec, tick } = setup();
    await rec.start();
    const want = table([S1, [A, B]], [S2, [C]]);
    engine.driftDelete(S1.key, A.key);
    engine.driftEditDest(S1.key, B.key, { weight: 50 });
    engine.driftDelete(S2.key);
    engine.driftEditService(S1.key, { scheduler: 'sh' });
    await tick(4999);
    expect(tablesEqual(engine.snapshot(), want)).toBe(false);
    await tick(1);
    expect(tablesEqual(engine.snapshot(), want)).toBe(true);
  });

  it('quiet ticks: nothing is applied once the kernel matches', async () => {
    const { engine, rec, tick } = setup();
    await rec.start();
    const n = engine.batches.length;
    for (let i = 0; i < 5; i++) await tick();
    expect(engine.batches.length).toBe(n);
    expect(engine.observeCount).toBe(6);
  });

  it('removes ours that are no longer desired, keeps foreign ones', async () => {
    const { engine, rec, tick } = setup({ initial: table([FOREIGN, []], [S1, [A]]) });
    await rec.start();
    rec.setDesired(table([S1, [B]]));
    await tick();
    expect(plain(engine.snapshot())).toEqual(plain(table([FOREIGN, []], [S1, [B]])));
  });

  it('removes only its own dest from a service that is not ours', async () => {
    const { engine, rec, tick } = setup({ initial: table([FOREIGN, []]), desired: new Map() });
    await rec.start();
    const want = table([FOREIGN, [A]]);
    await rec.push(want, diffTables(table([FOREIGN, []]), want));
    expect(rec.ownership().created).toEqual([`${FOREIGN.key} ${A.key}`]);
    rec.setDesired(new Map());
    await tick();
    expect(plain(engine.snapshot())).toEqual(plain(table([FOREIGN, []])));
  });
});

describe('Reconciler: failures', () => {
  it('logs a refused op and retries it at the next interval', async () => {
    const { engine, rec, tick, logs } = setup();
    engine.failNext((op) => op.op === 'add-dest' && op.dest.key === B.key, 'ENOMEM');
    const r = await rec.start();
    expect(r.failed).toHaveLength(1);
    expect(logs.some((l) => l.level === 'error' && l.msg.includes('ENOMEM') && l.msg.includes('retry'))).toBe(true);
    expect(engine.snapshot().get(S1.key)!.dests.has(B.key)).toBe(false);
    expect(rec.ownership().created).not.toContain(`${S1.key} ${B.key}`);
    await tick();
    expect(engine.snapshot().get(S1.key)!.dests.has(B.key)).toBe(true);
    expect(rec.ownership().created).toContain(`${S1.key} ${B.key}`);
  });

  it('survives observe() and apply() throwing', async () => {
    const { engine, rec, tick, logs } = setup();
    engine.failNextObserve('netlink dump interrupted');
    const r = await rec.start();
    expect(r.observed).toBe(false);
    expect(logs.at(-1)!.msg).toMatch(/cannot read the kernel table \(netlink dump interrupted\)/);
    const apply = engine.apply.bind(engine);
    let calls = 0;
    engine.apply = async (ops) => {
      if (calls++ === 0) throw new Error('socket closed');
      return apply(ops);
    };
    await tick();
    expect(logs.at(-1)!.msg).toMatch(/socket closed/);
    expect(engine.snapshot().size).toBe(0);
    await tick();
    expect(tablesEqual(engine.snapshot(), table([S1, [A, B]], [S2, [C]]))).toBe(true);
  });

  it('an all-or-nothing engine that refuses a batch claims nothing as created', async () => {
    const { engine, rec, tick } = setup({ atomic: true });
    engine.failNext((op) => op.op === 'add-dest', 'nft: syntax error');
    await rec.start();
    expect(engine.snapshot().size).toBe(0);
    expect(rec.ownership().created).toEqual([]);
    await tick();
    expect(rec.ownership().created).toHaveLength(5);
  });
});

describe('Reconciler: push fast path', () => {
  it('applies the manager ops at once; a refused one is repaired by the next pass', async () => {
    const { engine, rec, tick, logs } = setup();
    await rec.start();
    const before = table([S1, [A, B]], [S2, [C]]);
    const after = table([S1, [A, { ...B, weight: 0 }]], [S2, []]);
    engine.failNext((op) => op.op === 'del-dest');
    const r = await rec.push(after, diffTables(before, after));
    expect(r.applied).toBe(1);
    expect(engine.snapshot().get(S1.key)!.dests.get(B.key)!.weight).toBe(0);
    expect(logs.some((l) => l.level === 'warn' && l.msg.includes('del-dest'))).toBe(true);
    await tick();
    expect(tablesEqual(engine.snapshot(), after)).toBe(true);
  });

  it('before start, push only records the desired table', async () => {
    const { engine, rec } = setup({ desired: new Map() });
    const want = table([S1, [A]]);
    expect(await rec.push(want, diffTables(new Map(), want))).toEqual({ applied: 0, failed: [] });
    expect(engine.batches).toEqual([]);
    await rec.start();
    expect(tablesEqual(engine.snapshot(), want)).toBe(true);
  });
});

describe('Reconciler: shutdown', () => {
  it('removes only what it created, not what it adopted, and stops the timer', async () => {
    const { engine, rec, tick, timer } = setup({ initial: table([FOREIGN, []], [S1, [A]]) });
    await rec.start();
    const r = await rec.shutdown();
    expect(r.ops.map((o) => `${o.op} ${o.svc.key}${'dest' in o ? ` ${o.dest.key}` : ''}`)).toEqual([`del-dest ${S1.key} ${B.key}`, `del-service ${S2.key}`]);
    expect(plain(engine.snapshot())).toEqual(plain(table([FOREIGN, []], [S1, [A]])));
    expect(timer.timers.size).toBe(0);
    const n = engine.observeCount;
    await tick(60_000);
    expect(engine.observeCount).toBe(n);
    expect(await rec.reconcileNow()).toMatchObject({ observed: false, ops: [] });
  });

  it('keeps everything with keepOnShutdown (keepalived -I) or keep: true', async () => {
    for (const [keep, opt] of [[true, undefined], [false, true]] as const) {
      const { engine, rec, logs } = setup({ keep });
      await rec.start();
      const r = await rec.shutdown(opt === undefined ? {} : { keep: opt });
      expect(r.ops).toEqual([]);
      expect(engine.snapshot().size).toBe(2);
      expect(logs.at(-1)!.msg).toMatch(/leaving 5 kernel entries we created in place/);
    }
  });

  it('removes blindly when the kernel cannot be read at shutdown', async () => {
    const { engine, rec } = setup();
    await rec.start();
    engine.failNextObserve();
    const r = await rec.shutdown();
    expect(r.observed).toBe(false);
    expect(engine.snapshot().size).toBe(0);
  });
});

describe('Reconciler: interval', () => {
  it('setIntervalMs re-arms the timer', async () => {
    const { engine, rec, tick } = setup();
    await rec.start();
    rec.setIntervalMs(1000);
    const n = engine.observeCount;
    for (let i = 0; i < 3; i++) await tick(1000);
    expect(engine.observeCount).toBe(n + 3);
    await tick(4000);
    expect(engine.observeCount).toBe(n + 4);
  });

  it('does not pile up passes while one is running', async () => {
    const engine = new MemoryEngine();
    const slow: DataplaneEngine = {
      name: 'memory',
      observe: async () => {
        await new Promise<void>((r) => setTimeout(r, 5));
        return engine.observe();
      },
      apply: (ops) => engine.apply(ops),
      limitations: () => [],
      close: async () => {},
    };
    const { rec, timer } = setup({ engine: slow });
    await rec.start();
    timer.advance(5000);
    timer.advance(5000);
    timer.advance(5000);
    await rec.idle();
    expect(engine.observeCount).toBe(2);
  });
});
