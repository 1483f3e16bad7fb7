// The real keepalived (VRRP subsystem only) in a lab node, for interop tests. A TypeScript port
// of shared/tools/lab/ka/ka.sh:
//   keepalived -P -n -l -D -G -f CONF -p PID -r VRRPPID   (VRRP only, no fork, detailed log to the console)
// with its own pid files per node (lab gotcha 4: without them a second keepalived on the host
// thinks it is already running). keepalived logs to stderr; we run it through `sh -c 'exec ...
// 2>&1'` so its log lands in LabProcess.lines (the pid stays keepalived's parent's).
//
// - crash(): SIGKILL the VRRP child first, then the parent (gotcha 2: a SIGKILLed parent alone
//   makes the child shut down gracefully, sending priority 0 and removing the VIPs).
// - "gone" means no /proc entry or a zombie (gotcha 3: the orphaned VRRP child is re-parented to
//   PID 1, which reaps it slowly).
// - States are read from the log: "(VI_1) Entering MASTER STATE". keepalived's log timestamps
//   have 1 s resolution; measure timings on the wire instead.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Lab, LabProcess } from './netns.js';

const CANDIDATES = ['/usr/sbin/keepalived', '/sbin/keepalived', '/usr/local/sbin/keepalived', '/usr/bin/keepalived'];

/** Absolute path of the keepalived binary, or null when it is not installed. */
export const keepalivedBin: string | null = (() => {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean).map((d) => path.join(d, 'keepalived'));
  for (const p of [...dirs, ...CANDIDATES]) {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return null;
})();

const STATE_RE = /\(([^)\s]+)\) Entering ([A-Z]+) STATE/;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Running (not a zombie) according to /proc/PID/stat. */
export function pidRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the state follows the parenthesised command name, which may itself contain ") "
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function waitGone(pids: readonly number[], timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (pids.some(pidRunning)) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
}

export interface KeepalivedStartOptions {
  /** directory for the config, pid files (default: a new temp directory, removed by cleanup()) */
  dir?: string;
  /** how long to wait for both pid files (ms, default 5000) */
  timeoutMs?: number;
}

export class Keepalived {
  private constructor(
    readonly node: string,
    readonly dir: string,
    readonly proc: LabProcess,
    readonly parentPid: number,
    readonly vrrpPid: number,
    private readonly ownsDir: boolean,
  ) {}

  /**
   * Write `conf` to the run directory, check it with `keepalived -t` (any non-zero exit, warnings
   * included, is refused: gotcha 5), start keepalived in `node` and wait for its pid files.
   */
  static async start(lab: Lab, node: string, conf: string, opts: KeepalivedStartOptions = {}): Promise<Keepalived> {
    if (!keepalivedBin) throw new Error('keepalived is not installed');
    const ownsDir = !opts.dir;
    const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), `lvsd-ka-${node}-`));
    fs.mkdirSync(dir, { recursive: true });
    const confPath = path.join(dir, 'keepalived.conf');
    const pidFile = path.join(dir, 'keepalived.pid');
    const vrrpPidFile = path.join(dir, 'vrrp.pid');
    fs.rmSync(pidFile, { force: true });
    fs.rmSync(vrrpPidFile, { force: true });
    fs.writeFileSync(confPath, conf);
    const t = await lab.tryExec(node, keepalivedBin, '-t', '-f', confPath);
    if (t.code !== 0) throw new Error(`keepalived -t exit ${t.code} for ${confPath}:\n${t.stdout}${t.stderr}\n--- config ---\n${conf}`);
    const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    const cmd = `exec ${q(keepalivedBin)} -P -n -l -D -G -f ${q(confPath)} -p ${q(pidFile)} -r ${q(vrrpPidFile)} 2>&1`;
    const proc = lab.spawn(node, 'sh', ['-c', cmd]);
    const end = Date.now() + (opts.timeoutMs ?? 5000);
    const readPid = (f: string): number => {
      try {
        return Number(fs.readFileSync(f, 'utf8').trim()) || 0;
      } catch {
        return 0;
      }
    };
    for (;;) {
      const parent = readPid(pidFile);
      const child = readPid(vrrpPidFile);
      if (parent && child) return new Keepalived(node, dir, proc, parent, child, ownsDir);
      if (proc.hasExited || Date.now() > end) {
        await proc.kill('SIGKILL');
        throw new Error(`keepalived in ${node} did not write its pid files; log:\n${proc.lines.join('\n')}`);
      }
      await sleep(20);
    }
  }

  /** Log lines (stdout + stderr of keepalived). */
  get lines(): readonly string[] {
    return this.proc.lines;
  }

  /** Index to pass as `since`: only later log lines count. */
  mark(): number {
    return this.proc.mark();
  }

  /** States an instance entered, in log order (from line `since`). */
  states(instance: string, since = 0): string[] {
    const out: string[] = [];
    for (const l of this.proc.lines.slice(since)) {
      const m = STATE_RE.exec(l);
      if (m && m[1] === instance) out.push(m[2]!);
    }
    return out;
  }

  /** The last state an instance entered (undefined before its first "Entering ... STATE"). */
  state(instance: string): string | undefined {
    return this.states(instance).at(-1);
  }

  /** Wait for "(instance) Entering STATE STATE" after line `since`. */
  async waitState(instance: string, state: string, opts: { since?: number; timeoutMs?: number } = {}): Promise<void> {
    await this.proc.waitForLine(
      (l) => {
        const m = STATE_RE.exec(l);
        return !!m && m[1] === instance && m[2] === state;
      },
      { timeoutMs: opts.timeoutMs ?? 10_000, ...(opts.since !== undefined ? { since: opts.since } : {}) },
    );
  }

  get running(): boolean {
    return pidRunning(this.parentPid) || pidRunning(this.vrrpPid);
  }

  /** Crash: SIGKILL the VRRP child, then the parent (no priority-0 advert, VIPs stay). */
  async crash(timeoutMs = 5000): Promise<void> {
    for (const pid of [this.vrrpPid, this.parentPid]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (!(await waitGone([this.vrrpPid, this.parentPid], timeoutMs))) throw new Error(`keepalived in ${this.node} did not die`);
    await this.proc.exited;
  }

  /** Graceful stop: SIGTERM the parent (priority-0 advert, VIPs removed), wait for both processes. */
  async stop(timeoutMs = 10_000): Promise<void> {
    try {
      process.kill(this.parentPid, 'SIGTERM');
    } catch {
      // already gone
    }
    if (!(await waitGone([this.parentPid, this.vrrpPid], timeoutMs))) {
      await this.crash();
      throw new Error(`keepalived in ${this.node} did not stop within ${timeoutMs} ms`);
    }
    await this.proc.exited;
  }

  /** Kill whatever is left and remove the run directory (if start() created it). */
  async cleanup(): Promise<void> {
    if (this.running) await this.crash().catch(() => undefined);
    if (this.ownsDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
