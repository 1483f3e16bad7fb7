// Runs scripts in a small helper process (script-helper.ts) so that forking them never blocks the
// daemon's event loop (see script-helper.ts for the measurements). Same contract as ScriptRunner:
// run() never rejects, failures are results.
//
// The helper is started on first use (or by start()) and restarted on the next run after it
// died; runs in flight when it dies resolve with an error (their scripts may still be running:
// the helper can no longer report them). close() stops it, which kills running scripts.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FromHelper, HelperInit, ToHelper } from './script-ipc.js';
import type { LogFn, RunOptions, ScriptExecutor, ScriptResult, ScriptSpec } from './scripts.js';

export interface ScriptHostOptions extends HelperInit {
  log?: LogFn;
  /** compiled helper entry; default dist/src/daemon/script-helper.js */
  entry?: string;
  /** how long start() waits for the helper (default 10 s) */
  startTimeoutMs?: number;
}

/** The helper next to this module in dist/, or under dist/ when running from source. */
export function defaultHelperEntry(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'script-helper.js'), path.resolve(here, '../../dist/src/daemon/script-helper.js')];
  return candidates.find((c) => fs.existsSync(c)) ?? candidates[1]!;
}

interface Pending {
  resolve: (r: ScriptResult) => void;
  ro: RunOptions;
  started: number;
  onAbort?: () => void;
}

export class ScriptHost implements ScriptExecutor {
  private child: ChildProcess | null = null;
  private ready: Promise<void> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  readonly stats = { helperStarts: 0, helperDeaths: 0 };

  constructor(private readonly opts: ScriptHostOptions) {}

  get running(): number {
    return this.pending.size;
  }

  get helperPid(): number | null {
    return this.child?.pid ?? null;
  }

  private log(level: Parameters<LogFn>[0], msg: string): void {
    try {
      this.opts.log?.(level, msg);
    } catch {
      // ignore
    }
  }

  /** Start the helper now (rather than on the first run), e.g. while the daemon is still small. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('script host closed'));
    if (this.ready) return this.ready;
    const entry = this.opts.entry ?? defaultHelperEntry();
    const init: HelperInit = {
      enableScriptSecurity: this.opts.enableScriptSecurity,
      ...(this.opts.scriptUser ? { scriptUser: this.opts.scriptUser } : {}),
      ...(this.opts.killGraceMs !== undefined ? { killGraceMs: this.opts.killGraceMs } : {}),
      ...(this.opts.securityCacheMs !== undefined ? { securityCacheMs: this.opts.securityCacheMs } : {}),
      ...(this.opts.maxOutputBytes !== undefined ? { maxOutputBytes: this.opts.maxOutputBytes } : {}),
    };
    const p = new Promise<void>((resolve, reject) => {
      let child: ChildProcess;
      try {
        // own process group: a Ctrl-C or group signal is for the daemon, which stops the helper
        // after its notify_stop scripts; the helper still ends when the daemon's channel closes
        child = fork(entry, [], { execArgv: [], serialization: 'json', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true });
      } catch (e) {
        reject(e as Error);
        return;
      }
      this.child = child;
      this.stats.helperStarts++;
      const timer = setTimeout(() => {
        reject(new Error(`script helper ${entry} did not start in ${this.opts.startTimeoutMs ?? 10_000} ms`));
        child.kill('SIGKILL');
      }, this.opts.startTimeoutMs ?? 10_000);
      child.on('message', (m: FromHelper) => {
        if (m.t === 'ready') {
          clearTimeout(timer);
          resolve();
        } else this.onMessage(m);
      });
      child.on('error', (e) => this.log('warn', `script helper: ${e.message}`));
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`script helper exited during start (${signal ?? `code ${code}`})`));
        if (this.child === child) {
          this.child = null;
          this.ready = null;
        }
        if (!this.closed) {
          this.stats.helperDeaths++;
          this.log('error', `script helper exited (${signal ?? `code ${code}`}); ${this.pending.size} script run(s) lost, restarting on next use`);
        }
        for (const [id, p] of this.pending) this.settle(id, { code: null, signal: null, timedOut: false, durationMs: performance.now() - p.started, error: 'script helper exited' });
      });
      this.send({ t: 'init', opts: init });
    });
    this.ready = p;
    p.catch(() => {
      if (this.ready === p) this.ready = null;
    });
    return p;
  }

  private send(m: ToHelper): void {
    const c = this.child;
    if (c?.connected) c.send(m, (err) => err && this.log('warn', `script helper IPC: ${err.message}`));
  }

  private onMessage(m: FromHelper): void {
    switch (m.t) {
      case 'spawned': {
        const p = this.pending.get(m.id);
        try {
          p?.ro.onSpawn?.(m.pid);
        } catch {
          // caller bug
        }
        return;
      }
      case 'result':
        this.settle(m.id, m.result);
        return;
      case 'log':
        this.log(m.level, m.msg);
        return;
      default:
        return;
    }
  }

  private settle(id: number, r: ScriptResult): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (p.onAbort) p.ro.signal?.removeEventListener('abort', p.onAbort);
    p.resolve(r);
  }

  async run(spec: ScriptSpec, ro: RunOptions = {}): Promise<ScriptResult> {
    const started = performance.now();
    const fail = (error: string): ScriptResult => ({ code: null, signal: null, timedOut: false, durationMs: performance.now() - started, error });
    if (this.closed) return fail('script host closed');
    try {
      await this.start();
    } catch (e) {
      return fail(`cannot start the script helper: ${(e as Error).message}`);
    }
    if (ro.signal?.aborted) return fail('aborted before start');
    const id = this.nextId++;
    return new Promise<ScriptResult>((resolve) => {
      const p: Pending = { resolve, ro, started };
      if (ro.signal) {
        p.onAbort = () => this.send({ t: 'abort', id });
        ro.signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.pending.set(id, p);
      this.send({ t: 'run', id, spec: { command: spec.command, timeoutMs: spec.timeoutMs, ...(spec.args ? { args: [...spec.args] } : {}), ...(spec.user ? { user: spec.user } : {}) } });
    });
  }

  killAll(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.send({ t: 'killAll', signal });
  }

  /** Stop the helper: running scripts get SIGTERM (SIGKILL after the grace period). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    this.send({ t: 'stop' });
    const t = setTimeout(() => c.kill('SIGKILL'), (this.opts.killGraceMs ?? 2000) + 2000);
    await exited;
    clearTimeout(t);
  }
}

