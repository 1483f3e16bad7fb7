// Notify FIFOs: global_defs notify_fifo / vrrp_notify_fifo / lvs_notify_fifo [+ *_fifo_script].
//
// As keepalived (core/notify.c fifo_open/fifo_close):
// - a missing FIFO is created (mode 0644 less umask, chowned to the FIFO's user when one is
//   configured) and unlinked again on close; an existing one is used as is;
// - it is opened O_RDWR|O_NONBLOCK|O_NOFOLLOW: holding a read end ourselves means opening never
//   waits for a reader and a write never fails with EPIPE; lines written while nobody reads wait
//   in the pipe (64 KiB);
// - something that is not a FIFO, or a FIFO owned by someone other than us or the FIFO's user,
//   is refused (a planted file or symlink);
// - the fifo script, if configured, is started with the FIFO path as its last argument.
// Better than keepalived:
// - when the pipe is full (slow or absent reader), lines are kept in a bounded in-memory
//   backlog and retried on a timer; past the bound the oldest whole lines are dropped and
//   counted. The daemon never blocks on a FIFO;
// - a fifo script that exits is restarted with backoff (keepalived only logs
//   "notify fifo script terminated").
// Node has no mkfifo(3): the FIFO is created by running mkfifo(1) once at start-up (coreutils;
// the only external program lvsd runs that is not a configured script).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { FifoSpec, GlobalDefs } from '../config/model.js';
import { resolveUser } from '../../checks/users.js';
import type { LogFn, ScriptExecutor, ScriptResult } from './scripts.js';
import { describeResult } from './scripts.js';

export interface NotifyFifoOptions {
  log?: LogFn;
  /** bytes kept while the pipe is full (default 256 KiB) */
  maxBacklogBytes?: number;
  /** how often a backlog is retried (default 50 ms) */
  retryMs?: number;
  /** runs the fifo script; without it a configured script is not started (logged) */
  runner?: ScriptExecutor;
  /** fifo script restart backoff (defaults 500 ms doubling to 30 s; reset after 60 s of life) */
  restartInitialMs?: number;
  restartMaxMs?: number;
  restartStableMs?: number;
  /** test seam: create a FIFO */
  mkfifo?: (file: string, mode: number) => Promise<void>;
}

export class FifoError extends Error {
  constructor(
    readonly fifo: string,
    message: string,
  ) {
    super(`notify fifo ${fifo}: ${message}`);
    this.name = 'FifoError';
  }
}

function runMkfifo(file: string, mode: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('mkfifo', ['-m', mode.toString(8), '--', file], { timeout: 10_000 }, (err, _out, stderr) => {
      if (err) reject(new Error(`mkfifo: ${(stderr || err.message).trim()}`));
      else resolve();
    });
  });
}

/** Make a string one FIFO line: no embedded line breaks, exactly one trailing '\n'. */
export function toFifoLine(line: string): string {
  return `${line.replace(/[\r\n]+$/, '').replace(/[\r\n]/g, ' ')}\n`;
}

export interface FifoStats {
  lines: number;
  bytes: number;
  /** lines dropped because the backlog was full (or the FIFO was closed) */
  dropped: number;
  /** writes that found the pipe full */
  full: number;
  backlogBytes: number;
  scriptStarts: number;
}

export class NotifyFifo {
  private fd: number;
  private readonly backlog: Buffer[] = [];
  /** bytes of backlog[0] already written (a partial write must be completed, never dropped) */
  private headOffset = 0;
  private backlogBytes = 0;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;
  private dropEpisode = false;
  private keeper: FifoScriptKeeper | null = null;
  readonly stats: FifoStats = { lines: 0, bytes: 0, dropped: 0, full: 0, backlogBytes: 0, scriptStarts: 0 };

  private constructor(
    readonly path: string,
    fd: number,
    /** we created the FIFO (and unlink it on close) */
    readonly created: boolean,
    private readonly opts: NotifyFifoOptions,
  ) {
    this.fd = fd;
  }

  /** Create (if missing) and open the FIFO, start its script. Throws FifoError. */
  static async open(spec: FifoSpec, opts: NotifyFifoOptions = {}): Promise<NotifyFifo> {
    const file = path.resolve(spec.path);
    const ourUid = process.getuid?.() ?? 0;
    let owner: { uid: number; gid: number } | null = null;
    if (spec.user) {
      try {
        owner = resolveUser(spec.user.user, spec.user.group);
      } catch (e) {
        throw new FifoError(file, (e as Error).message);
      }
    }
    let created = false;
    let st: fs.Stats | null = null;
    try {
      st = await fsp.lstat(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new FifoError(file, (e as Error).message);
    }
    if (!st) {
      try {
        await (opts.mkfifo ?? runMkfifo)(file, 0o644);
        created = true;
      } catch (e) {
        // lost a race with someone creating it: fine if it is a FIFO now (checked below)
        if (!fs.existsSync(file)) throw new FifoError(file, `cannot create: ${(e as Error).message}`);
      }
      if (created && owner && (owner.uid !== ourUid || owner.gid !== (process.getgid?.() ?? 0))) {
        try {
          await fsp.chown(file, owner.uid, owner.gid);
        } catch (e) {
          opts.log?.('warn', `notify fifo ${file}: cannot chown to ${owner.uid}:${owner.gid}: ${(e as Error).message}`);
        }
      }
    }
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW);
    } catch (e) {
      if (created) await fsp.unlink(file).catch(() => {});
      const code = (e as NodeJS.ErrnoException).code;
      throw new FifoError(file, code === 'ELOOP' ? 'is a symbolic link (refused)' : `cannot open: ${(e as Error).message}`);
    }
    const fst = fs.fstatSync(fd);
    if (!fst.isFIFO() || (fst.uid !== ourUid && fst.uid !== owner?.uid)) {
      fs.closeSync(fd);
      if (created) await fsp.unlink(file).catch(() => {});
      throw new FifoError(file, fst.isFIFO() ? `is owned by uid ${fst.uid}, not by us or the FIFO user (refused)` : 'exists and is not a FIFO');
    }
    const fifo = new NotifyFifo(file, fd, created, opts);
    if (spec.script) {
      if (!opts.runner) opts.log?.('warn', `notify fifo ${file}: fifo script ${spec.script} not started (no script runner)`);
      else {
        fifo.keeper = new FifoScriptKeeper(opts.runner, spec, file, opts, () => fifo.stats.scriptStarts++);
        fifo.keeper.start();
      }
    }
    return fifo;
  }

  /** pid of the running fifo script, if any */
  get scriptPid(): number | null {
    return this.keeper?.pid ?? null;
  }

  /**
   * Queue one line (a '\n' is added when missing). Returns false when it was dropped. Never
   * blocks and never throws.
   */
  write(line: string): boolean {
    if (this.closed) {
      this.stats.dropped++;
      return false;
    }
    const buf = Buffer.from(toFifoLine(line));
    this.stats.lines++;
    this.backlog.push(buf);
    this.backlogBytes += buf.length;
    this.flush();
    this.trim();
    this.stats.backlogBytes = this.backlogBytes;
    // written lines leave the backlog in order, so `buf` is either gone (written) or last (waiting)
    return this.backlog.length === 0 || this.backlog[this.backlog.length - 1] === buf;
  }

  private get maxBacklog(): number {
    return this.opts.maxBacklogBytes ?? 256 * 1024;
  }

  /** Drop the oldest whole lines (never the partly written head) until within the bound. */
  private trim(): void {
    let dropped = 0;
    while (this.backlogBytes > this.maxBacklog && this.backlog.length > (this.headOffset > 0 ? 1 : 0)) {
      const i = this.headOffset > 0 ? 1 : 0;
      const [b] = this.backlog.splice(i, 1);
      this.backlogBytes -= b!.length;
      dropped++;
    }
    if (dropped === 0) return;
    this.stats.dropped += dropped;
    if (!this.dropEpisode) {
      this.dropEpisode = true;
      this.log('warn', `notify fifo ${this.path}: reader too slow or absent, backlog over ${this.maxBacklog} bytes: dropping oldest lines (dropped so far: ${this.stats.dropped})`);
    }
  }

  /** Write as much of the backlog as the pipe takes; arm a retry for the rest. */
  private flush(): void {
    while (this.backlog.length > 0) {
      const head = this.backlog[0]!;
      let n: number;
      try {
        n = fs.writeSync(this.fd, head, this.headOffset, head.length - this.headOffset);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
          this.stats.full++;
          break;
        }
        if (code === 'EINTR') continue;
        // EBADF and friends: this FIFO is unusable; drop what we hold
        this.log('error', `notify fifo ${this.path}: write failed: ${(e as Error).message}; dropping ${this.backlog.length} lines`);
        this.stats.dropped += this.backlog.length;
        this.backlog.length = 0;
        this.backlogBytes = 0;
        this.headOffset = 0;
        break;
      }
      this.stats.bytes += n;
      this.headOffset += n;
      if (this.headOffset >= head.length) {
        this.backlog.shift();
        this.backlogBytes -= head.length;
        this.headOffset = 0;
      }
    }
    this.stats.backlogBytes = this.backlogBytes;
    if (this.backlog.length === 0 && this.dropEpisode) {
      this.dropEpisode = false;
      this.log('info', `notify fifo ${this.path}: reader caught up (${this.stats.dropped} lines dropped in total)`);
    }
    if (this.backlog.length > 0 && !this.retry && !this.closed) {
      this.retry = setTimeout(() => {
        this.retry = null;
        this.flush();
      }, this.opts.retryMs ?? 50);
      this.retry.unref();
    }
  }

  private log(level: Parameters<LogFn>[0], msg: string): void {
    try {
      this.opts.log?.(level, msg);
    } catch {
      // ignore
    }
  }

  /**
   * Stop the fifo script, try once more to write the backlog, close; unlink the FIFO if we
   * created it (first, as keepalived does, so a reader looping on open cannot reopen it).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.flush();
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    if (this.backlog.length) {
      this.stats.dropped += this.backlog.length;
      this.backlog.length = 0;
      this.backlogBytes = 0;
    }
    if (this.created) await fsp.unlink(this.path).catch(() => {});
    await this.keeper?.stop();
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = -1;
  }
}

/** Runs the fifo script (FIFO path appended), restarting it with backoff when it exits. */
class FifoScriptKeeper {
  private ac = new AbortController();
  private stopped = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  pid: number | null = null;

  constructor(
    private readonly runner: ScriptExecutor,
    private readonly spec: FifoSpec,
    private readonly fifoPath: string,
    private readonly opts: NotifyFifoOptions,
    private readonly onStart: () => void,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  private log(level: Parameters<LogFn>[0], msg: string): void {
    try {
      this.opts.log?.(level, msg);
    } catch {
      // ignore
    }
  }

  private async run(): Promise<void> {
    const initial = this.opts.restartInitialMs ?? 500;
    const max = this.opts.restartMaxMs ?? 30_000;
    const stable = this.opts.restartStableMs ?? 60_000;
    let backoff = initial;
    while (!this.stopped) {
      const t0 = performance.now();
      const r: ScriptResult = await this.runner.run(
        { command: this.spec.script!, args: [this.fifoPath], timeoutMs: 0, ...(this.spec.user ? { user: this.spec.user } : {}) },
        {
          signal: this.ac.signal,
          onSpawn: (pid) => {
            this.pid = pid;
            this.onStart();
          },
        },
      );
      this.pid = null;
      if (this.stopped) break;
      if (performance.now() - t0 >= stable) backoff = initial;
      this.log('warn', `notify fifo ${this.fifoPath}: fifo script ${this.spec.script} ${describeResult(r)}; restarting in ${backoff} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, backoff);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
      backoff = Math.min(max, backoff * 2);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ac.abort();
    this.wake?.();
    await this.loop;
  }
}

// ---- the three FIFOs of global_defs ------------------------------------------------------

/**
 * notify_fifo receives VRRP and LVS lines, vrrp_notify_fifo VRRP lines, lvs_notify_fifo LVS
 * lines (keepalived writes an event to the global and to the specific FIFO). A path configured
 * twice is opened once and written once. A FIFO that cannot be opened is logged and skipped,
 * as keepalived does: notifications are never a reason not to run.
 */
export class NotifyFifos {
  private constructor(
    private readonly vrrpTargets: NotifyFifo[],
    private readonly lvsTargets: NotifyFifo[],
    readonly all: NotifyFifo[],
  ) {}

  static async open(g: Pick<GlobalDefs, 'notifyFifo' | 'vrrpNotifyFifo' | 'lvsNotifyFifo'>, opts: NotifyFifoOptions = {}): Promise<NotifyFifos> {
    const byPath = new Map<string, NotifyFifo | null>();
    const get = async (spec: FifoSpec | undefined): Promise<NotifyFifo | null> => {
      if (!spec) return null;
      const key = path.resolve(spec.path);
      if (byPath.has(key)) return byPath.get(key)!;
      let f: NotifyFifo | null = null;
      try {
        f = await NotifyFifo.open(spec, opts);
      } catch (e) {
        opts.log?.('error', `${(e as Error).message}; continuing without it`);
      }
      byPath.set(key, f);
      return f;
    };
    const global = await get(g.notifyFifo);
    const vrrp = await get(g.vrrpNotifyFifo);
    const lvs = await get(g.lvsNotifyFifo);
    const uniq = (xs: (NotifyFifo | null)[]): NotifyFifo[] => [...new Set(xs.filter((x): x is NotifyFifo => x !== null))];
    return new NotifyFifos(uniq([global, vrrp]), uniq([global, lvs]), uniq([global, vrrp, lvs]));
  }

  /** A VRRP line (src/vrrp/notify.ts fifoLine). */
  vrrp(line: string): void {
    for (const f of this.vrrpTargets) f.write(line);
  }

  /** An LVS line (src/lvs: VS/RS UP|DOWN). */
  lvs(line: string): void {
    for (const f of this.lvsTargets) f.write(line);
  }

  get hasVrrp(): boolean {
    return this.vrrpTargets.length > 0;
  }

  get hasLvs(): boolean {
    return this.lvsTargets.length > 0;
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((f) => f.close()));
  }
}
