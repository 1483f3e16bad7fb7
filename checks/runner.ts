// The I/O edge of the scheduler: one timer for the next due probe, probes started within the
// concurrency cap, results fed back, a watchdog for probes that never settle, and inotify-style
// watches that re-read FILE_CHECK files as soon as they change (as keepalived does).
import fs from 'node:fs';
import path from 'node:path';
import { Cancel } from './cancel.js';
import { probeKey as probeKeyOf } from './dedup.js';
import { closePingers } from './ping.js';
import { probe as realProbe } from './probe.js';
import { setMiscWarn } from './misc.js';
import type { CheckerInput } from './input.js';
import { CheckScheduler, type CheckerEvent, type CheckerSnapshot, type ProbeJob, type RsTransition } from './scheduler.js';
import type { ProbeContext, ProbeResult, ProbeSettings } from './types.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface RunnerOptions {
  onRs: (t: RsTransition) => void;
  /** a checker's up/down state or dynamic weight changed (for resuming after a restart) */
  onChecker?: (key: string, snap: CheckerSnapshot) => void;
  log?: (level: LogLevel, msg: string) => void;
  maxConcurrent?: number;
  probe?: (job: ProbeJob, ctx: ProbeContext) => Promise<ProbeResult>;
  now?: () => number;
  random?: () => number;
}

export interface RunnerStats {
  checkers: number;
  inFlight: number;
  started: number;
  completed: number;
  failed: number;
}

interface Running {
  deadline: number;
  settle: (r: ProbeResult) => void;
}

/**
 * Probes in flight at once: 2048, but never more than half the open-file limit (each probe holds
 * a socket; running out of descriptors would fail probes and take real servers down).
 */
export function defaultConcurrency(limitsText?: string): number {
  let soft = Infinity;
  try {
    const text = limitsText ?? fs.readFileSync('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    if (m && m[1] !== 'unlimited') soft = Number(m[1]);
  } catch {
    /* not Linux: keep the default */
  }
  return Math.max(16, Math.min(2048, Math.floor(soft / 2)));
}

/** Longest a probe may take before the watchdog calls it failed: its own timeouts plus slack. */
function probeBudgetMs(job: ProbeJob): number {
  const s = job.spec;
  const slack = 5000;
  if (s.type === 'MISC_CHECK') return (s.timeoutMs > 0 ? s.timeoutMs : s.delayLoopMs) + slack;
  if (s.type === 'HTTP_GET' || s.type === 'SSL_GET') return s.connectTimeoutMs * 3 * Math.max(1, s.urls.length) + slack;
  if (s.type === 'SMTP_CHECK' || s.type === 'NEGOTIATE_CHECK') return s.connectTimeoutMs * 6 + slack;
  return s.connectTimeoutMs * 2 + slack;
}

export class CheckRunner {
  private sched: CheckScheduler;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private running = new Map<number, Running & { key: string; abort: Cancel }>();
  private runSeq = 0;
  private watchdog: NodeJS.Timeout;
  private watchers = new Map<string, fs.FSWatcher>();
  private fileKeys = new Map<string, Set<string>>();
  private settings: ProbeSettings = { enableScriptSecurity: false, trackFiles: {} };
  private stopped = false;
  private readonly now: () => number;
  private readonly doProbe: (job: ProbeJob, ctx: ProbeContext) => Promise<ProbeResult>;
  private readonly log: (level: LogLevel, msg: string) => void;
  private counters = { started: 0, completed: 0, failed: 0 };

  constructor(private readonly opts: RunnerOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.log = opts.log ?? (() => {});
    this.doProbe = opts.probe ?? ((job, ctx) => realProbe(job.spec, job.target, ctx));
    this.sched = new CheckScheduler({ maxConcurrent: opts.maxConcurrent ?? defaultConcurrency(), random: opts.random ?? Math.random });
    setMiscWarn((m) => this.log('warn', m));
    this.watchdog = setInterval(() => this.sweep(), 1000);
    this.watchdog.unref();
  }

  load(input: CheckerInput, resume?: Record<string, CheckerSnapshot>): void {
    if (this.stopped) return;
    this.settings = { enableScriptSecurity: input.settings.enableScriptSecurity, scriptUser: input.settings.scriptUser, trackFiles: input.settings.trackFiles };
    const ev = this.sched.load(input, this.now(), resume);
    this.watchFiles(input);
    this.emit(ev.rs, ev.checkers);
    this.pump();
  }

  stats(): RunnerStats {
    return { checkers: this.sched.checkerCount, inFlight: this.running.size, ...this.counters };
  }

  rsStates(): ReturnType<CheckScheduler['rsStates']> {
    return this.sched.rsStates();
  }

  checkerSnapshots(): Record<string, CheckerSnapshot> {
    return this.sched.checkerSnapshots();
  }

  /** Stop scheduling, abort probes in flight (scripts get SIGTERM), close shared sockets. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    clearInterval(this.watchdog);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    for (const r of this.running.values()) r.abort.abort();
    const deadline = Date.now() + 3000;
    while (this.running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    closePingers();
  }

  private pump(): void {
    if (this.stopped) return;
    const now = this.now();
    const jobs = this.sched.takeDue(now);
    for (const job of jobs) this.start(job, now);
    this.arm();
  }

  private arm(): void {
    if (this.stopped || this.sched.atCapacity) return;
    const at = this.sched.nextDueAt();
    if (at === null) return;
    if (this.timer && at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.pump();
    }, Math.max(0, at - this.now()));
  }

  private start(job: ProbeJob, now: number): void {
    this.counters.started++;
    const ac = new Cancel();
    const ctx: ProbeContext = { cancel: ac, settings: this.settings, now: this.now };
    let settled = false;
    const id = ++this.runSeq;
    const settle = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      this.running.delete(id);
      this.finish(job.key, r);
    };
    this.running.set(id, { key: job.key, deadline: now + probeBudgetMs(job), settle, abort: ac });
    this.doProbe(job, ctx).then(settle, (err: unknown) =>
      settle({ up: false, reason: `${job.spec.type}: internal error: ${(err as Error)?.message ?? String(err)}`, latencyMs: 0 }),
    );
  }

  private finish(key: string, r: ProbeResult): void {
    this.counters.completed++;
    if (!r.up) this.counters.failed++;
    if (this.stopped) return;
    const ev = this.sched.complete(key, r, this.now());
    if (ev.checkerChanged && this.opts.onChecker) this.opts.onChecker(key, this.sched.snapshotOf(key));
    if (ev.rs.length || ev.checkers.length) this.emit(ev.rs, ev.checkers);
    this.pump();
  }

  private emit(rs: RsTransition[], checkers: CheckerEvent[]): void {
    for (const e of checkers) {
      const info = this.sched.checkerInfo(e.key);
      const who = info ? `${e.key.split(' ').slice(0, 2).join(' ')} (${info.rsIds.join(', ')})` : e.key;
      if (e.kind === 'up') this.log('info', `checker ${who} UP: ${e.reason}`);
      else if (e.kind === 'down') this.log('info', `checker ${who} DOWN: ${e.reason}`);
      else if (e.logAll) this.log('info', `checker ${who} ${e.kind === 'retry' ? 'failed, will retry' : 'still failing'}: ${e.reason}`);
    }
    for (const t of rs) this.opts.onRs(t);
  }

  private sweep(): void {
    const now = this.now();
    for (const r of [...this.running.values()]) {
      if (now > r.deadline) {
        this.log('warn', `probe ${r.key} did not finish in time; counted as failed`);
        r.settle({ up: false, reason: 'probe did not finish in time (internal watchdog)', latencyMs: 0 });
      }
    }
  }

  private watchFiles(input: CheckerInput): void {
    const byFile = new Map<string, Set<string>>();
    for (const rs of input.realServers)
      for (const spec of rs.checkers) {
        if (spec.type !== 'FILE_CHECK') continue;
        const tf = input.settings.trackFiles[spec.trackFile];
        if (!tf) continue;
        const file = path.resolve(tf.file);
        const set = byFile.get(file) ?? new Set<string>();
        // the key is computed the same way the scheduler does
        set.add(this.keyFor(spec, rs.target, input));
        byFile.set(file, set);
      }
    this.fileKeys = byFile;
    const dirs = new Set([...byFile.keys()].map((f) => path.dirname(f)));
    for (const [dir, w] of this.watchers)
      if (!dirs.has(dir)) {
        w.close();
        this.watchers.delete(dir);
      }
    for (const dir of dirs) {
      if (this.watchers.has(dir)) continue;
      try {
        const w = fs.watch(dir, { persistent: false }, (_ev, name) => {
          const keys = name ? this.fileKeys.get(path.join(dir, name.toString())) : undefined;
          if (!keys) return;
          for (const k of keys) this.sched.kick(k, this.now());
          this.pump();
        });
        w.on('error', () => {
          w.close();
          this.watchers.delete(dir);
        });
        this.watchers.set(dir, w);
      } catch (err) {
        this.log('warn', `cannot watch ${dir} for track file changes (${(err as NodeJS.ErrnoException).code}); re-read every delay_loop`);
      }
    }
  }

  private keyFor(spec: ProbeJob['spec'], target: ProbeJob['target'], input: CheckerInput): string {
    return probeKeyOf(spec, target, input.settings.trackFiles);
  }
}
