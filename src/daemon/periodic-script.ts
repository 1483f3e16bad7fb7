// vrrp_script scheduling: run a script every `interval`, never two runs of it at once.
//
// keepalived (vrrp_scheduler.c vrrp_script_thread) ticks at a fixed rate; a tick that finds the
// previous run still going is skipped with a log line ("already running ... skipping run"). The
// timeout (vrrp_script `timeout`, or the interval when 0) is enforced by the runner, so a hung
// script ends at its timeout and costs at most the ticks in between. Results go to `onResult`;
// rise/fall and weights are the pure tracker's job (src/vrrp/trackers.ts ScriptCounter).
import type { VrrpScript } from '../config/model.js';
import type { LogFn, RunScript, ScriptResult, ScriptSpec } from './scripts.js';

/** The run spec of a vrrp_script: keepalived's timeout defaults to the interval. */
export function vrrpScriptSpec(s: VrrpScript): ScriptSpec {
  return { command: s.script, timeoutMs: s.timeoutMs > 0 ? s.timeoutMs : s.intervalMs, ...(s.user ? { user: s.user } : {}) };
}

export interface PeriodicScriptOptions {
  intervalMs: number;
  /** delay before the first run (default 0: at once) */
  initialDelayMs?: number;
  onResult: (r: ScriptResult) => void;
  log?: LogFn;
  /** label for logs (the vrrp_script name) */
  name?: string;
}

export class PeriodicScript {
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<ScriptResult> | null = null;
  private started = false;
  readonly stats = { runs: 0, skipped: 0 };

  constructor(
    private readonly run: RunScript,
    private readonly spec: ScriptSpec,
    private readonly opts: PeriodicScriptOptions,
  ) {
    if (!(opts.intervalMs > 0)) throw new Error(`vrrp_script ${opts.name ?? spec.command}: interval must be > 0`);
  }

  get running(): boolean {
    return this.inFlight !== null;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.schedule(this.opts.initialDelayMs ?? 0);
  }

  /** Stop ticking; a run in progress finishes (its result is still delivered). */
  stop(): void {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Run now unless a run is in progress, in which case that run's result is returned. */
  runNow(): Promise<ScriptResult> {
    if (this.inFlight) return this.inFlight;
    this.stats.runs++;
    const p = this.run(this.spec)
      .catch((e: unknown): ScriptResult => ({ code: null, signal: null, timedOut: false, durationMs: 0, error: (e as Error).message }))
      .then((r) => {
        this.inFlight = null;
        try {
          this.opts.onResult(r);
        } catch (e) {
          this.log('error', `result handler failed: ${(e as Error).message}`);
        }
        return r;
      });
    this.inFlight = p;
    return p;
  }

  private log(level: Parameters<LogFn>[0], msg: string): void {
    try {
      this.opts.log?.(level, `vrrp_script ${this.opts.name ?? this.spec.command}: ${msg}`);
    } catch {
      // ignore
    }
  }

  private schedule(delayMs: number): void {
    if (!this.started) return;
    this.timer = setTimeout(() => this.tick(), delayMs);
  }

  private tick(): void {
    this.timer = null;
    // fixed rate: the next tick is armed before this run starts, as keepalived does
    this.schedule(this.opts.intervalMs);
    if (this.inFlight) {
      this.stats.skipped++;
      this.log('info', 'still running, skipping this interval');
      return;
    }
    void this.runNow();
  }
}
