// Script runner for notify scripts (notify_master/backup/fault/stop/deleted, generic `notify`,
// notify_up/down, quorum_up/down), vrrp_script tracking and the notify-FIFO reader script.
//
// keepalived semantics kept (core/notify.c system_call_script, check_script_secure):
// - the command line is split like keepalived (checks/cmdline.ts) and exec'd directly, no shell;
//   the one exception is keepalived's SC_SYSTEM case, a command starting with "</" (a redirection
//   that tests whether a file can be opened, e.g. "</dev/tcp/127.0.0.1/80"): like keepalived it
//   goes to /bin/sh -c;
// - run as: the script's own `user` > global `script_user` > `keepalived_script` when that user
//   exists > ourselves (root). With enable_script_security and neither a configured user nor a
//   keepalived_script account, keepalived refuses the script ("Unable to set default user"):
//   so does lvsd;
// - the script security rule (checks/script-security.ts): with enable_script_security an unsafe
//   root script is refused, without it it runs and a warning is logged once;
// - own process group (setsid via `detached`), so a timeout kills everything the script started:
//   SIGTERM to the group, SIGKILL `killGraceMs` later; IFS, LD_PRELOAD and LD_LIBRARY_PATH are
//   removed from the environment, cwd is /, stdin is /dev/null;
// - supplementary groups are cleared when the user changes (libuv does setgroups(0) as keepalived
//   does without set_supplementary_groups).
// Not kept: keepalived's PR_SET_PDEATHSIG (Node cannot set it for a child); the daemon kills
// running scripts on shutdown instead (killAll).
//
// Nothing here throws or rejects: every failure is a ScriptResult with `error` set. A result with
// `error` and code === signal === null and timedOut false means the script did not start.
//
// The daemon should not use ScriptRunner directly but ScriptHost (script-host.ts), which runs it
// in a small helper process: Node's spawn() blocks for a fork() whose cost grows with the
// parent's memory (30 parallel spawns stalled a 376 MB process's event loop for 461 ms; through
// the helper, 5 ms). ScriptRunner is the engine inside the helper, and fine for small tools.
import { spawn, type ChildProcess } from 'node:child_process';
import type { ScriptUser } from '../config/model.js';
import { splitCommandLine } from '../../checks/cmdline.js';
import { checkScript, type FsLike, type ScriptVerdict } from '../../checks/script-security.js';
import { resolveUser, type AccountFiles, type UidGid } from '../../checks/users.js';

export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;

export interface ScriptResult {
  /** exit status; null when killed by a signal or never started */
  code: number | null;
  /** terminating signal name (SIGTERM, SIGKILL, ...) */
  signal: string | null;
  /** the timeout fired (the process group was killed) */
  timedOut: boolean;
  durationMs: number;
  /** why it could not run, or what went wrong around it */
  error?: string;
  /** the last bytes the script wrote to stdout/stderr (for logs) */
  output?: string;
}

export interface ScriptSpec {
  /** the command line as configured (keepalived quoting rules) */
  command: string;
  /** arguments appended after the configured ones (the generic `notify` gets 4) */
  args?: readonly string[];
  /** the script's own user (notify `user`, vrrp_script `user`, MISC_CHECK `user`) */
  user?: ScriptUser;
  /** kill the process group after this long; 0 = never (the FIFO reader script) */
  timeoutMs: number;
}

/** What the queue and the periodic runner need from a runner (ScriptRunner.run, or a test double). */
export type RunScript = (spec: ScriptSpec) => Promise<ScriptResult>;

/**
 * keepalived puts no time limit on notify scripts (they are fire-and-forget there); lvsd runs them
 * in order (script-queue.ts), so a hung one must end: this is the default limit for them.
 */
export const NOTIFY_TIMEOUT_MS = 60_000;

/** A notify action (src/vrrp/notify.ts, src/lvs/types.ts) as a run spec. */
export function notifyScriptSpec(
  a: { command: string; args?: readonly string[]; user?: ScriptUser; timeoutMs?: number },
  defaultTimeoutMs = NOTIFY_TIMEOUT_MS,
): ScriptSpec {
  return {
    command: a.command,
    timeoutMs: a.timeoutMs ?? defaultTimeoutMs,
    ...(a.args && a.args.length ? { args: a.args } : {}),
    ...(a.user ? { user: a.user } : {}),
  };
}

/** Exit status 0 within the timeout. */
export function scriptSucceeded(r: ScriptResult): boolean {
  return r.code === 0 && !r.timedOut && r.error === undefined;
}

/** One line for logs: "exit 1", "killed by SIGKILL after timeout", "not run: ...". */
export function describeResult(r: ScriptResult): string {
  const out = r.output ? `: ${r.output.trim().split('\n').slice(-3).join(' | ')}` : '';
  if (r.code === null && r.signal === null && !r.timedOut) return `not run: ${r.error ?? 'unknown error'}`;
  const how = r.timedOut ? `timed out after ${Math.round(r.durationMs)} ms${r.signal ? ` (${r.signal})` : ''}` : r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
  return `${how}${r.error ? ` (${r.error})` : ''}${out}`;
}

// ---- pure parts --------------------------------------------------------------------------

export interface RunAsResult {
  ok: boolean;
  ids?: UidGid;
  /** which rule chose the user, for logs */
  source?: 'script' | 'script_user' | 'keepalived_script' | 'self';
  error?: string;
}

/**
 * Who a script runs as (keepalived set_script_uid_gid / get_default_script_user):
 * the script's user > global script_user > keepalived_script when it exists > ourselves; but
 * with enable_script_security a missing keepalived_script (and no configured user) is an error.
 */
export function resolveRunAs(
  own: ScriptUser | undefined,
  globalUser: ScriptUser | undefined,
  enableScriptSecurity: boolean,
  accounts?: AccountFiles,
  self: UidGid = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
): RunAsResult {
  const chosen = own ?? globalUser;
  if (chosen) {
    try {
      return { ok: true, ids: resolveUser(chosen.user, chosen.group, accounts), source: own ? 'script' : 'script_user' };
    } catch (e) {
      return { ok: false, error: `script user: ${(e as Error).message}` };
    }
  }
  try {
    return { ok: true, ids: resolveUser('keepalived_script', undefined, accounts), source: 'keepalived_script' };
  } catch {
    if (enableScriptSecurity)
      return {
        ok: false,
        error: 'no script user: enable_script_security is set, no script_user is configured and user keepalived_script does not exist (set e.g. "script_user root")',
      };
    return { ok: true, ids: self, source: 'self' };
  }
}

export interface Invocation {
  /** what to execute: argv[0] as written, or /bin/sh for the "</file" redirection form */
  file: string;
  argv: string[];
  /** keepalived's SC_SYSTEM form: run by /bin/sh -c, no script security check */
  viaShell: boolean;
}

/** keepalived cmd_str: arguments single-quoted, a leading redirection kept raw. */
function shellCommand(words: readonly string[]): string {
  return words
    .map((w, i) => (i === 0 && (w.startsWith('<') || w.startsWith('>')) ? w : `'${w.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}

/** Split the command line and append the extra arguments. Throws on bad quoting or an empty line. */
export function buildInvocation(command: string, args: readonly string[] = []): Invocation {
  const words = splitCommandLine(command);
  if (words.length === 0) throw new Error('empty command line');
  const all = [...words, ...args];
  if (/^<[ \t]*\//.test(words[0]!)) return { file: '/bin/sh', argv: ['/bin/sh', '-c', shellCommand(all)], viaShell: true };
  return { file: words[0]!, argv: all, viaShell: false };
}

const UNSAFE_ENV = ['IFS', 'LD_PRELOAD', 'LD_LIBRARY_PATH'];

export function scriptEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env = { ...base };
  for (const k of UNSAFE_ENV) delete env[k];
  return env;
}

// ---- the runner --------------------------------------------------------------------------

export interface ScriptRunnerOptions {
  enableScriptSecurity: boolean;
  /** global_defs script_user */
  scriptUser?: ScriptUser;
  log?: LogFn;
  /** SIGTERM -> SIGKILL delay on timeout/abort (default 2000 ms) */
  killGraceMs?: number;
  /** security verdicts are re-checked after this long (default 30 s), so a fixed script is picked up */
  securityCacheMs?: number;
  /** how much of stdout+stderr to keep for logs (default 2048 bytes; 0 = discard) */
  maxOutputBytes?: number;
  /** test seams */
  accounts?: AccountFiles;
  fs?: FsLike;
  clock?: () => number;
}

/** What runs scripts: ScriptRunner (in this process) or ScriptHost (in a small helper process). */
export interface ScriptExecutor {
  run(spec: ScriptSpec, ro?: RunOptions): Promise<ScriptResult>;
  /** signal every running script's process group */
  killAll(signal?: NodeJS.Signals): void;
  readonly running: number;
}

export interface RunOptions {
  /** abort = kill the process group as on timeout (shutdown) */
  signal?: AbortSignal;
  /** called once the process is spawned (the FIFO keeper records the pid) */
  onSpawn?: (pid: number) => void;
}

interface Live {
  child: ChildProcess;
  pgid: number;
}

export class ScriptRunner implements ScriptExecutor {
  private readonly verdicts = new Map<string, { at: number; verdict: ScriptVerdict }>();
  private readonly warned = new Set<string>();
  private readonly live = new Set<Live>();
  private readonly clock: () => number;
  /** started / refused (never ran) / timed out */
  readonly stats = { started: 0, refused: 0, timedOut: 0 };

  constructor(private readonly opts: ScriptRunnerOptions) {
    this.clock = opts.clock ?? (() => performance.now());
  }

  /** Scripts currently running. */
  get running(): number {
    return this.live.size;
  }

  private log(level: Parameters<LogFn>[0], msg: string): void {
    try {
      this.opts.log?.(level, msg);
    } catch {
      // a broken logger must not break script handling
    }
  }

  private async verdictFor(inv: Invocation, ids: UidGid): Promise<ScriptVerdict> {
    const enforce = this.opts.enableScriptSecurity;
    const key = `${inv.file}\0${ids.uid}\0${ids.gid}\0${enforce}`;
    const now = this.clock();
    const hit = this.verdicts.get(key);
    if (hit && now - hit.at < (this.opts.securityCacheMs ?? 30_000)) return hit.verdict;
    const verdict = await checkScript(inv.file, ids, enforce, ...(this.opts.fs ? [this.opts.fs] : []));
    this.verdicts.set(key, { at: now, verdict });
    if (verdict.ok && verdict.warning && !this.warned.has(key)) {
      this.warned.add(key);
      this.log('warn', `${verdict.warning}; enable_script_security would refuse it`);
    }
    return verdict;
  }

  /** Run once. Never rejects. */
  async run(spec: ScriptSpec, ro: RunOptions = {}): Promise<ScriptResult> {
    const start = this.clock();
    const notRun = (error: string): ScriptResult => {
      this.stats.refused++;
      return { code: null, signal: null, timedOut: false, durationMs: this.clock() - start, error };
    };
    let inv: Invocation;
    try {
      inv = buildInvocation(spec.command, spec.args);
    } catch (e) {
      return notRun(`${(e as Error).message}: ${JSON.stringify(spec.command)}`);
    }
    const who = resolveRunAs(spec.user, this.opts.scriptUser, this.opts.enableScriptSecurity, this.opts.accounts);
    if (!who.ok) return notRun(who.error!);
    const ids = who.ids!;
    let file = inv.file;
    if (!inv.viaShell) {
      let verdict: ScriptVerdict;
      try {
        verdict = await this.verdictFor(inv, ids);
      } catch (e) {
        return notRun(`script security check failed: ${(e as Error).message}`);
      }
      if (!verdict.ok) return notRun(verdict.reason);
      file = verdict.path;
    }
    if (ro.signal?.aborted) return notRun('aborted before start');
    return this.spawnAndWait(spec, inv, file, ids, start, ro);
  }

  private spawnAndWait(spec: ScriptSpec, inv: Invocation, file: string, ids: UidGid, start: number, ro: RunOptions): Promise<ScriptResult> {
    const sameUser = ids.uid === (process.getuid?.() ?? -1) && ids.gid === (process.getgid?.() ?? -1);
    const maxOut = this.opts.maxOutputBytes ?? 2048;
    const grace = this.opts.killGraceMs ?? 2000;
    return new Promise<ScriptResult>((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(file, inv.argv.slice(1), {
          argv0: inv.argv[0],
          // own process group (and session): the timeout kills the whole tree
          detached: true,
          stdio: ['ignore', maxOut > 0 ? 'pipe' : 'ignore', maxOut > 0 ? 'pipe' : 'ignore'],
          cwd: '/',
          env: scriptEnv(),
          ...(sameUser ? {} : { uid: ids.uid, gid: ids.gid }),
        });
      } catch (e) {
        // synchronous spawn failures (bad arguments such as a NUL byte)
        this.stats.refused++;
        resolve({ code: null, signal: null, timedOut: false, durationMs: this.clock() - start, error: `cannot run: ${(e as Error).message}` });
        return;
      }
      const entry: Live = { child, pgid: child.pid ?? -1 };
      let output = Buffer.alloc(0);
      const collect = (d: Buffer): void => {
        output = Buffer.concat([output, d]);
        if (output.length > maxOut) output = output.subarray(output.length - maxOut);
      };
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      child.stdout?.on('error', () => {});
      child.stderr?.on('error', () => {});

      let done = false;
      let timedOut = false;
      let error: string | undefined;
      let exitInfo: { code: number | null; signal: string | null } | null = null;
      let timer: NodeJS.Timeout | undefined;
      let lateTimer: NodeJS.Timeout | undefined;
      let closeTimer: NodeJS.Timeout | undefined;

      const killGroup = (sig: NodeJS.Signals): void => {
        if (entry.pgid <= 0) return;
        try {
          process.kill(-entry.pgid, sig);
        } catch {
          // group already gone
        }
      };
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearTimeout(lateTimer);
        clearTimeout(closeTimer);
        ro.signal?.removeEventListener('abort', onAbort);
        this.live.delete(entry);
        child.stdout?.destroy();
        child.stderr?.destroy();
        const r: ScriptResult = {
          code: exitInfo?.code ?? null,
          signal: exitInfo?.signal ?? null,
          timedOut,
          durationMs: this.clock() - start,
        };
        if (error !== undefined) r.error = error;
        if (output.length > 0) r.output = output.toString('utf8');
        resolve(r);
      };
      const stop = (why: 'timeout' | 'abort'): void => {
        if (done || exitInfo) return;
        if (why === 'timeout') {
          timedOut = true;
          this.stats.timedOut++;
        } else error = 'aborted';
        killGroup('SIGTERM');
        // SIGKILL the group even if the leader exits meanwhile: its children must go too
        setTimeout(() => killGroup('SIGKILL'), grace).unref();
        // a process that survives SIGKILL (uninterruptible sleep) must not hold up the caller
        lateTimer = setTimeout(() => {
          error = `${error ? `${error}; ` : ''}did not exit ${grace + 1000} ms after SIGTERM`;
          finish();
        }, grace + 1000);
      };
      const onAbort = (): void => stop('abort');

      child.on('error', (e: NodeJS.ErrnoException) => {
        // spawn failed (ENOENT, EACCES, EPERM for uid/gid, ENOEXEC): nothing runs
        if (exitInfo) return;
        this.stats.refused++;
        error = `cannot run ${file}: ${e.code ?? e.message}${e.code === 'ENOEXEC' ? ' (no #! line?)' : ''}`;
        exitInfo = { code: null, signal: null };
        finish();
      });
      child.on('exit', (code, signal) => {
        exitInfo = { code, signal };
        // give the pipes a moment to deliver the last output; a background child of the script
        // may hold them open forever, so do not wait for 'close' beyond that
        closeTimer = setTimeout(finish, 100);
      });
      child.on('close', () => {
        if (exitInfo) finish();
      });
      if (child.pid === undefined) return; // 'error' follows
      this.stats.started++;
      this.live.add(entry);
      if (spec.timeoutMs > 0) timer = setTimeout(() => stop('timeout'), spec.timeoutMs);
      ro.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        ro.onSpawn?.(child.pid);
      } catch {
        // caller bug: ignore
      }
    });
  }

  /** Signal every running script's process group (shutdown). */
  killAll(signal: NodeJS.Signals = 'SIGTERM'): number {
    let n = 0;
    for (const l of this.live) {
      try {
        process.kill(-l.pgid, signal);
        n++;
      } catch {
        // gone
      }
    }
    return n;
  }
}
