// Ordered notify scripts.
//
// keepalived forks notify scripts fire-and-forget, so after a quick MASTER -> BACKUP flap the
// notify_backup script can run before (or alongside) the notify_master that preceded it
// (keepalived issues #584, #996; its answer was the notify FIFO). lvsd runs them through a
// per-key serial queue instead: one key per VRRP instance / sync group (or per real server /
// virtual server for notify_up/down, quorum_up/down). Within a key, batches run one at a time in
// the order they were queued, and the scripts of a batch (the state's own script, then the
// generic `notify`) run one after the other; different keys run in parallel, at most
// `maxConcurrent` scripts at once over all keys (a failover of hundreds of instances must not fork
// hundreds of processes at the same moment).
//
// Bounded: a key holds at most `maxPendingPerKey` batches waiting behind the running one. When a
// script is stuck (it can only be stuck until its timeout) and more events arrive, the OLDEST
// waiting batch is dropped with a warning: the newest state is the one that must be reported.
import { describeResult, scriptSucceeded, type LogFn, type RunScript, type ScriptResult, type ScriptSpec } from './scripts.js';

export type QueueOutcome = { status: 'done'; results: ScriptResult[] } | { status: 'dropped' };

export interface ScriptQueueOptions {
  /** batches waiting per key behind the running one (default 8) */
  maxPendingPerKey?: number;
  /** scripts running at once over all keys (default 32) */
  maxConcurrent?: number;
  log?: LogFn;
  /** every finished script (for metrics/logs beyond the default) */
  onResult?: (key: string, label: string, spec: ScriptSpec, result: ScriptResult) => void;
}

interface Batch {
  label: string;
  specs: readonly ScriptSpec[];
  resolve: (o: QueueOutcome) => void;
}

interface KeyState {
  waiting: Batch[];
  busy: boolean;
  /** label of the batch in progress, for the "stuck" warning */
  current?: string;
  since?: number;
}

export class ScriptQueue {
  private readonly keys = new Map<string, KeyState>();
  private active = 0;
  /** callers waiting for a global slot, FIFO */
  private readonly slotWaiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  readonly stats = { queued: 0, batches: 0, scripts: 0, failed: 0, dropped: 0 };

  constructor(
    private readonly run: RunScript,
    private readonly opts: ScriptQueueOptions = {},
  ) {}

  /**
   * Queue one event's scripts under `key`. The promise resolves when they have run (or the batch
   * was dropped); it never rejects. Callers may ignore it (fire-and-forget, but ordered).
   */
  enqueue(key: string, specs: readonly ScriptSpec[], label = specs.map((s) => s.command).join(' + ')): Promise<QueueOutcome> {
    if (specs.length === 0) return Promise.resolve({ status: 'done', results: [] });
    return new Promise<QueueOutcome>((resolve) => {
      let ks = this.keys.get(key);
      if (!ks) {
        ks = { waiting: [], busy: false };
        this.keys.set(key, ks);
      }
      this.stats.queued++;
      ks.waiting.push({ label, specs, resolve });
      const max = Math.max(0, this.opts.maxPendingPerKey ?? 8);
      while (ks.busy && ks.waiting.length > max) {
        const old = ks.waiting.shift()!;
        this.stats.dropped++;
        const stuck = ks.current !== undefined ? `; running "${ks.current}" for ${Math.round(performance.now() - (ks.since ?? 0))} ms` : '';
        this.log('warn', `script queue ${key}: ${max} batches already waiting${stuck}: dropped "${old.label}"`);
        old.resolve({ status: 'dropped' });
      }
      if (!ks.busy) void this.pump(key, ks);
    });
  }

  /** Batches waiting (not counting the running one) for a key, or over all keys. */
  pending(key?: string): number {
    if (key !== undefined) return this.keys.get(key)?.waiting.length ?? 0;
    let n = 0;
    for (const ks of this.keys.values()) n += ks.waiting.length;
    return n;
  }

  /** True when nothing runs or waits. */
  get idle(): boolean {
    return this.keys.size === 0;
  }

  /** Resolves when every key has drained (shutdown: wait for STOP scripts). */
  drain(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private log(level: Parameters<LogFn>[0], msg: string): void {
    try {
      this.opts.log?.(level, msg);
    } catch {
      // ignore logger failures
    }
  }

  private async slot(): Promise<void> {
    const max = Math.max(1, this.opts.maxConcurrent ?? 32);
    if (this.active < max) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    // the releaser handed its slot over: `active` is unchanged
  }

  private release(): void {
    const next = this.slotWaiters.shift();
    if (next) next();
    else this.active--;
  }

  private async pump(key: string, ks: KeyState): Promise<void> {
    ks.busy = true;
    try {
      for (let b = ks.waiting.shift(); b; b = ks.waiting.shift()) {
        ks.current = b.label;
        ks.since = performance.now();
        const results: ScriptResult[] = [];
        for (const spec of b.specs) {
          await this.slot();
          let r: ScriptResult;
          try {
            r = await this.run(spec);
          } catch (e) {
            // the runner never rejects; a test double or a future runner might
            r = { code: null, signal: null, timedOut: false, durationMs: 0, error: (e as Error).message };
          } finally {
            this.release();
          }
          results.push(r);
          this.stats.scripts++;
          if (!scriptSucceeded(r)) {
            this.stats.failed++;
            this.log('warn', `script ${JSON.stringify(spec.command)} (${key}): ${describeResult(r)}`);
          } else this.log('debug', `script ${JSON.stringify(spec.command)} (${key}): exit 0 in ${Math.round(r.durationMs)} ms`);
          try {
            this.opts.onResult?.(key, b.label, spec, r);
          } catch {
            // observer failure must not stop the queue
          }
        }
        this.stats.batches++;
        b.resolve({ status: 'done', results });
      }
    } finally {
      ks.busy = false;
      ks.current = undefined;
      this.keys.delete(key);
      if (this.keys.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}
