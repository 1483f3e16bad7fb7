import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { PeriodicScript, vrrpScriptSpec } from '../../../src/daemon/periodic-script.js';
import { ScriptQueue } from '../../../src/daemon/script-queue.js';
import { ScriptRunner, type ScriptResult, type ScriptSpec } from '../../../src/daemon/scripts.js';
import type { VrrpScript } from '../../../src/config/model.js';

const ok = (ms = 0): ScriptResult => ({ code: 0, signal: null, timedOut: false, durationMs: ms });

/** A runner double: each call waits until released by the test. */
function manualRunner() {
  const calls: { spec: ScriptSpec; release: (r?: ScriptResult) => void }[] = [];
  let running = 0;
  let maxRunning = 0;
  const run = (spec: ScriptSpec): Promise<ScriptResult> =>
    new Promise((resolve) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      calls.push({
        spec,
        release: (r = ok()) => {
          running--;
          resolve(r);
        },
      });
    });
  return { run, calls, get maxRunning() { return maxRunning; } };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const spec = (command: string): ScriptSpec => ({ command, timeoutMs: 1000 });

describe('ScriptQueue', () => {
  it('runs one key strictly in order, batch by batch, script by script', async () => {
    const m = manualRunner();
    const q = new ScriptQueue(m.run);
    const done: string[] = [];
    void q.enqueue('VI_1', [spec('master'), spec('notify MASTER')]).then(() => done.push('b1'));
    void q.enqueue('VI_1', [spec('backup'), spec('notify BACKUP')]).then(() => done.push('b2'));
    await tick();
    expect(m.calls.map((c) => c.spec.command)).toEqual(['master']);
    m.calls[0]!.release();
    await tick();
    expect(m.calls.map((c) => c.spec.command)).toEqual(['master', 'notify MASTER']);
    m.calls[1]!.release();
    await tick();
    expect(done).toEqual(['b1']);
    expect(m.calls[2]!.spec.command).toBe('backup');
    m.calls[2]!.release();
    await tick();
    m.calls[3]!.release();
    await q.drain();
    expect(done).toEqual(['b1', 'b2']);
    expect(q.idle).toBe(true);
  });

  it('different keys run in parallel, bounded by maxConcurrent', async () => {
    const m = manualRunner();
    const q = new ScriptQueue(m.run, { maxConcurrent: 3 });
    for (let i = 0; i < 10; i++) void q.enqueue(`VI_${i}`, [spec(`s${i}`)]);
    await tick();
    expect(m.calls).toHaveLength(3);
    while (m.calls.some((c) => c)) {
      const pending = m.calls.splice(0);
      for (const c of pending) c.release();
      await tick();
      await tick();
      if (q.idle) break;
    }
    await q.drain();
    expect(m.maxRunning).toBe(3);
    expect(q.stats.scripts).toBe(10);
  });

  it('bounded: a stuck key drops its oldest waiting batch, keeps the newest', async () => {
    const m = manualRunner();
    const logs: string[] = [];
    const q = new ScriptQueue(m.run, { maxPendingPerKey: 2, log: (l, msg) => logs.push(`${l} ${msg}`) });
    const outcomes: string[] = [];
    const add = (n: string): void => {
      void q.enqueue('VI_1', [spec(n)], n).then((o) => outcomes.push(`${n}:${o.status}`));
    };
    add('MASTER'); // runs (and hangs)
    add('BACKUP');
    add('FAULT');
    add('MASTER2'); // BACKUP dropped
    add('BACKUP2'); // FAULT dropped
    await tick();
    expect(q.pending('VI_1')).toBe(2);
    expect(q.stats.dropped).toBe(2);
    expect(logs.filter((l) => l.startsWith('warn') && l.includes('dropped'))).toHaveLength(2);
    expect(logs[0]).toMatch(/running "MASTER"/);
    for (let i = 0; i < 3; i++) {
      m.calls[i]!.release();
      await tick();
      await tick();
    }
    await q.drain();
    expect(m.calls.map((c) => c.spec.command)).toEqual(['MASTER', 'MASTER2', 'BACKUP2']);
    expect(outcomes).toEqual(['BACKUP:dropped', 'FAULT:dropped', 'MASTER:done', 'MASTER2:done', 'BACKUP2:done']);
  });

  it('a failing or throwing runner does not stop the queue', async () => {
    const logs: string[] = [];
    let n = 0;
    const q = new ScriptQueue(
      async () => {
        n++;
        if (n === 1) throw new Error('boom');
        return { code: 1, signal: null, timedOut: false, durationMs: 1 };
      },
      { log: (l, m) => logs.push(`${l} ${m}`), onResult: () => { throw new Error('observer bug'); } },
    );
    const a = await q.enqueue('k', [spec('a')]);
    const b = await q.enqueue('k', [spec('b')]);
    expect(a).toMatchObject({ status: 'done', results: [{ error: 'boom' }] });
    expect(b).toMatchObject({ status: 'done', results: [{ code: 1 }] });
    expect(q.stats.failed).toBe(2);
    expect(logs.filter((l) => l.startsWith('warn'))).toHaveLength(2);
  });

  it('with real scripts: a slow notify_master finishes before the following notify_backup starts', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsd-queue-'));
    try {
      const log = path.join(dir, 'order');
      const mk = (name: string, body: string): string => {
        const p = path.join(dir, name);
        fs.writeFileSync(p, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
        return p;
      };
      const master = mk('master.sh', `echo start-master >> ${log}; sleep 0.3; echo end-master >> ${log}`);
      const backup = mk('backup.sh', `echo backup >> ${log}`);
      const runner = new ScriptRunner({ enableScriptSecurity: false });
      const q = new ScriptQueue((s) => runner.run(s));
      void q.enqueue('VI_1', [{ command: master, timeoutMs: 5000 }]);
      void q.enqueue('VI_1', [{ command: backup, timeoutMs: 5000 }]);
      await q.drain();
      expect(fs.readFileSync(log, 'utf8').split('\n').filter(Boolean)).toEqual(['start-master', 'end-master', 'backup']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('PeriodicScript (vrrp_script scheduling)', () => {
  afterEach(() => vi.useRealTimers());

  it('vrrpScriptSpec: timeout defaults to the interval', () => {
    const vs = { name: 'chk', script: '/bin/chk a', intervalMs: 2000, timeoutMs: 0, user: { user: 'u' } } as VrrpScript;
    expect(vrrpScriptSpec(vs)).toEqual({ command: '/bin/chk a', timeoutMs: 2000, user: { user: 'u' } });
    expect(vrrpScriptSpec({ ...vs, timeoutMs: 500, user: undefined } as VrrpScript)).toEqual({ command: '/bin/chk a', timeoutMs: 500 });
  });

  it('ticks at a fixed rate and never overlaps runs of the same script', async () => {
    vi.useFakeTimers();
    const m = manualRunner();
    const results: ScriptResult[] = [];
    const logs: string[] = [];
    const p = new PeriodicScript(m.run, spec('/bin/chk'), { intervalMs: 1000, onResult: (r) => results.push(r), log: (_l, msg) => logs.push(msg), name: 'chk' });
    p.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(m.calls).toHaveLength(1);
    // the run takes 2.5 intervals: the ticks at 1000 and 2000 are skipped
    await vi.advanceTimersByTimeAsync(2500);
    expect(m.calls).toHaveLength(1);
    expect(p.stats.skipped).toBe(2);
    expect(logs[0]).toMatch(/vrrp_script chk: still running/);
    m.calls[0]!.release({ code: 1, signal: null, timedOut: false, durationMs: 2500 });
    await vi.advanceTimersByTimeAsync(0);
    expect(results).toHaveLength(1);
    expect(p.running).toBe(false);
    await vi.advanceTimersByTimeAsync(500); // tick at 3000
    expect(m.calls).toHaveLength(2);
    m.calls[1]!.release();
    await vi.advanceTimersByTimeAsync(1000);
    expect(m.calls).toHaveLength(3);
    m.calls[2]!.release();
    p.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(m.calls).toHaveLength(3);
    expect(results.map((r) => r.code)).toEqual([1, 0, 0]);
  });

  it('runNow joins the run in progress instead of starting another', async () => {
    const m = manualRunner();
    const p = new PeriodicScript(m.run, spec('/bin/chk'), { intervalMs: 60_000, onResult: () => {} });
    const a = p.runNow();
    const b = p.runNow();
    expect(m.calls).toHaveLength(1);
    m.calls[0]!.release({ code: 0, signal: null, timedOut: false, durationMs: 3 });
    expect(await a).toEqual(await b);
    expect(p.stats.runs).toBe(1);
  });

  it('rejects a zero interval', () => {
    expect(() => new PeriodicScript(async () => ok(), spec('x'), { intervalMs: 0, onResult: () => {} })).toThrow(/interval/);
  });
});

afterAll(() => vi.useRealTimers());
