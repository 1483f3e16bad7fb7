// MISC_CHECK: run a program (no shell); its exit status is the verdict (keepalived):
//   0 => up; 1 => down; with misc_dynamic 2..255 => up with weight = status - 2; other => down.
// misc_timeout (default delay_loop) ends it: SIGTERM to its process group, SIGKILL 2 s later.
// The program runs as `user` [group] (else global script_user, else keepalived_script if that
// user exists, else ourselves), after keepalived's script security check.
import { settleOnce } from './cancel.js';
import { spawn } from 'node:child_process';
import type { MiscCheck } from '../src/config/model.js';
import { splitCommandLine } from './cmdline.js';
import { checkScript } from './script-security.js';
import type { ProbeContext, ProbeResult, ProbeTarget } from './types.js';
import { defaultScriptUser, resolveUser, type UidGid } from './users.js';

const KILL_GRACE_MS = 2000;

/** Pure rule: exit status / signal -> verdict. */
export function judgeExit(code: number | null, signal: NodeJS.Signals | null, dynamic: boolean): { up: boolean; reason: string; weight?: number } {
  if (signal) return { up: false, reason: `killed by ${signal}` };
  if (code === 0) return { up: true, reason: 'exit status 0' };
  if (dynamic && code !== null && code >= 2 && code <= 255) return { up: true, reason: `exit status ${code} (weight ${code - 2})`, weight: code - 2 };
  return { up: false, reason: `exit status ${code}` };
}

// script security verdicts are re-checked at most every 30 s per (script, uid, gid)
const verdictCache = new Map<string, { at: number; verdict: Awaited<ReturnType<typeof checkScript>> }>();
const warned = new Set<string>();

/** Where MISC_CHECK warnings go (the runner points this at its logger). */
let miscWarn: (msg: string) => void = (msg) => process.emitWarning(msg);
export function setMiscWarn(fn: (msg: string) => void): void {
  miscWarn = fn;
}

export async function probeMisc(spec: MiscCheck, _target: ProbeTarget, ctx: ProbeContext): Promise<ProbeResult> {
  const start = ctx.now();
  const fail = (reason: string): ProbeResult => ({ up: false, reason: `MISC_CHECK ${spec.path}: ${reason}`, latencyMs: ctx.now() - start });
  let argv: string[];
  try {
    argv = splitCommandLine(spec.path);
  } catch (err) {
    return fail((err as Error).message);
  }
  if (argv.length === 0) return fail('empty command line');
  let runAs: UidGid;
  try {
    const u = spec.user ?? ctx.settings.scriptUser;
    runAs = u ? resolveUser(u.user, u.group) : defaultScriptUser();
  } catch (err) {
    return fail((err as Error).message);
  }
  const key = `${argv[0]}|${runAs.uid}|${runAs.gid}|${ctx.settings.enableScriptSecurity}`;
  let cached = verdictCache.get(key);
  if (!cached || ctx.now() - cached.at > 30_000) {
    cached = { at: ctx.now(), verdict: await checkScript(argv[0]!, runAs, ctx.settings.enableScriptSecurity) };
    verdictCache.set(key, cached);
  }
  const v = cached.verdict;
  if (!v.ok) return fail(v.reason);
  if (v.warning && !warned.has(key)) {
    warned.add(key);
    miscWarn(v.warning);
  }
  const timeoutMs = spec.timeoutMs > 0 ? spec.timeoutMs : spec.delayLoopMs;
  return new Promise<ProbeResult>((resolve) => {
    const finish: (r: ProbeResult) => void = settleOnce(resolve, ctx.cancel, timeoutMs, {
      timeout: () => stop(`timeout after ${timeoutMs} ms (process group killed)`),
      abort: () => stop('aborted'),
    });
    const sameUser = runAs.uid === (process.getuid?.() ?? -1) && runAs.gid === (process.getgid?.() ?? -1);
    const child = spawn(v.path, argv.slice(1), {
      argv0: argv[0],
      stdio: 'ignore',
      // own process group, so a timeout can kill the script and everything it started
      detached: true,
      ...(sameUser ? {} : { uid: runAs.uid, gid: runAs.gid }),
      cwd: '/',
    });
    let exited = false;
    const killGroup = (sig: NodeJS.Signals): void => {
      if (exited || child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    const stop = (reason: string): void => {
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
      finish(fail(reason));
    };
    child.on('error', (err) => {
      exited = true;
      const e = err as NodeJS.ErrnoException;
      finish(fail(`cannot run (${e.syscall ?? 'spawn'} ${e.code ?? e.message})`));
    });
    child.on('exit', (code, signal) => {
      exited = true;
      const j = judgeExit(code, signal, spec.dynamic);
      const r: ProbeResult = { up: j.up, reason: `MISC_CHECK ${spec.path}: ${j.reason}`, latencyMs: ctx.now() - start };
      if (j.weight !== undefined) r.weight = j.weight;
      finish(r);
    });
    child.unref();
  });
}
