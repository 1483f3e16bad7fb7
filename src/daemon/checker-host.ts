// Parent side of checker isolation: runs checks/process-main.js in a child process (default) or a
// worker thread, feeds it the checker configuration, and turns its reports into real-server
// transitions for the virtual-server manager.
//
// Robustness: the child sends a heartbeat every second; a child that dies or stays silent for
// heartbeatTimeoutMs is killed and restarted with exponential backoff. Meanwhile the last known
// states are kept, and the new child resumes every checker from its last state, so a checker
// restart never flaps a real server.
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CheckerInput } from '../../checks/input.js';
import type { ChildOptions, ChildStats, FromChild, ToChild } from '../../checks/ipc.js';
import type { CheckerSnapshot, RsState, RsTransition } from '../../checks/scheduler.js';

export type { CheckerInput } from '../../checks/input.js';
export { checkerInputFromConfig } from '../../checks/input.js';
export type { RsState, RsTransition } from '../../checks/scheduler.js';
export type { ChildStats } from '../../checks/ipc.js';

export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;

export interface CheckerHostOptions {
  /** 'process' (fork, default) or 'worker' (worker thread: own heap and GC, same process) */
  isolation?: 'process' | 'worker';
  /** compiled child entry; default dist/checks/process-main.js */
  entry?: string;
  heartbeatIntervalMs?: number;
  /** silence longer than this = hung child: killed and restarted (default 5000) */
  heartbeatTimeoutMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** a child that lived this long resets the backoff (default 60000) */
  stableAfterMs?: number;
  /** how long stop() waits for a clean exit before SIGKILL (default 5000) */
  stopTimeoutMs?: number;
  maxConcurrent?: number;
  httpEngine?: 'raw' | 'undici';
  /**
   * nice value of the checker process (process isolation): above the daemon's, so that when
   * the CPU is short the VRRP side wins (keepalived's checker_priority). Default 5.
   */
  nice?: number;
  log?: LogFn;
}

export interface RestartInfo {
  reason: string;
  attempt: number;
  delayMs: number;
}

/** The entry next to this module in dist/, or dist/ under the project root when running from source. */
export function defaultEntry(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../../checks/process-main.js'), path.resolve(here, '../../dist/checks/process-main.js')];
  return candidates.find((c) => fs.existsSync(c)) ?? candidates[0]!;
}

interface Child {
  send(m: ToChild): void;
  kill(): void;
  pid?: number;
  startedAt: number;
  lastHeard: number;
  /** silence is tolerated until then (a large configuration takes a while to load) */
  graceUntil: number;
  ready: boolean;
}

export interface CheckerHostEvents {
  transition: [RsTransition];
  /**
   * The transitions of one report of the child, after every `transition` of it: consumers that
   * recompute a pool per call take them at once (5,000 initial states are one report, not 5,000
   * pool recomputations on the VRRP loop).
   */
  transitions: [RsTransition[]];
  restart: [RestartInfo];
  stats: [ChildStats];
}

export class CheckerHost extends EventEmitter<CheckerHostEvents> {
  private child: Child | null = null;
  private input: CheckerInput | null = null;
  private rsIds = new Set<string>();
  private rs = new Map<string, RsState>();
  private checkerSnaps: Record<string, CheckerSnapshot> = {};
  private attempts = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private monitor: NodeJS.Timeout | null = null;
  private stopping = false;
  private stopWaiters: (() => void)[] = [];
  private lastStats: ChildStats | null = null;
  private restarts = 0;
  private readonly o: Required<Omit<CheckerHostOptions, 'maxConcurrent' | 'httpEngine' | 'log'>> & CheckerHostOptions;
  private readonly log: LogFn;

  constructor(opts: CheckerHostOptions = {}) {
    super();
    this.o = {
      isolation: 'process',
      entry: defaultEntry(),
      heartbeatIntervalMs: 1000,
      heartbeatTimeoutMs: 5000,
      backoffInitialMs: 500,
      backoffMaxMs: 30_000,
      stableAfterMs: 60_000,
      stopTimeoutMs: 5000,
      nice: 5,
      ...opts,
    };
    this.log = opts.log ?? (() => {});
  }

  /** Start the checker child with this configuration. */
  start(input: CheckerInput): void {
    this.input = input;
    this.rsIds = new Set(input.realServers.map((r) => r.rsId));
    this.stopping = false;
    this.spawn();
    this.monitor = setInterval(() => this.watch(), Math.max(100, Math.min(this.o.heartbeatIntervalMs, this.o.heartbeatTimeoutMs / 2)));
    this.monitor.unref();
  }

  /** Reload: unchanged checkers keep their state; removed real servers are forgotten. */
  update(input: CheckerInput): void {
    this.input = input;
    this.rsIds = new Set(input.realServers.map((r) => r.rsId));
    for (const id of [...this.rs.keys()]) if (!this.rsIds.has(id)) this.rs.delete(id);
    if (this.child?.ready) this.sendLoad(this.child);
  }

  /** Last known state of a real server (kept across checker restarts). */
  state(rsId: string): RsState | undefined {
    return this.rs.get(rsId);
  }

  states(): RsState[] {
    return [...this.rs.values()];
  }

  get stats(): ChildStats | null {
    return this.lastStats;
  }

  get childPid(): number | undefined {
    return this.child?.pid;
  }

  get restartCount(): number {
    return this.restarts;
  }

  /** Clean shutdown: the child aborts its probes (scripts get SIGTERM) and exits. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.monitor) clearInterval(this.monitor);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const c = this.child;
    if (!c) return;
    const exited = new Promise<void>((resolve) => this.stopWaiters.push(resolve));
    c.send({ t: 'stop' });
    const t = setTimeout(() => {
      this.log('warn', 'checker child did not stop in time; killing it');
      c.kill();
    }, this.o.stopTimeoutMs);
    await exited;
    clearTimeout(t);
  }

  private sendLoad(c: Child): void {
    // loading is synchronous in the child: allow ~1 ms per real server on top of the timeout
    c.graceUntil = Date.now() + this.o.heartbeatTimeoutMs + (this.input?.realServers.length ?? 0);
    c.send(this.loadMessage());
  }

  private loadMessage(): ToChild {
    const options: ChildOptions = { heartbeatIntervalMs: this.o.heartbeatIntervalMs };
    if (this.o.maxConcurrent) options.maxConcurrent = this.o.maxConcurrent;
    if (this.o.httpEngine) options.httpEngine = this.o.httpEngine;
    return { t: 'load', input: this.input!, resume: this.checkerSnaps, options };
  }

  private spawn(): void {
    const now = Date.now();
    const onMessage = (m: FromChild): void => this.onMessage(child, m);
    const onExit = (why: string): void => this.onExit(child, why);
    let child: Child;
    try {
      child = this.o.isolation === 'worker' ? this.spawnWorker(onMessage, onExit, now) : this.spawnProcess(onMessage, onExit, now);
    } catch (err) {
      this.log('error', `cannot start the checker ${this.o.isolation}: ${(err as Error).message}`);
      this.child = null;
      this.scheduleRestart(`start failed: ${(err as Error).message}`, now);
      return;
    }
    this.child = child;
  }

  private spawnProcess(onMessage: (m: FromChild) => void, onExit: (why: string) => void, now: number): Child {
    const cp: ChildProcess = fork(this.o.entry, [], {
      // own process group: a group signal is for the daemon, which stops checks in order; the
      // child still ends when the daemon's channel closes
      detached: true,
      execArgv: [],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let gone = false;
    if (cp.pid !== undefined && this.o.nice !== 0) {
      try {
        os.setPriority(cp.pid, Math.min(19, os.getPriority(process.pid) + this.o.nice));
      } catch (err) {
        this.log('warn', `cannot renice the checker process: ${(err as Error).message}`);
      }
    }
    cp.on('message', (m) => onMessage(m as FromChild));
    cp.on('error', (err) => {
      if (!gone) this.log('warn', `checker process error: ${err.message}`);
    });
    cp.on('exit', (code, signal) => {
      gone = true;
      onExit(signal ? `killed by ${signal}` : `exited with code ${code}`);
    });
    return {
      pid: cp.pid,
      startedAt: now,
      lastHeard: now,
      graceUntil: 0,
      ready: false,
      send: (m) => {
        if (cp.connected) cp.send(m, (err) => err && this.log('warn', `checker IPC send failed: ${err.message}`));
      },
      kill: () => {
        if (!gone) cp.kill('SIGKILL');
      },
    };
  }

  private spawnWorker(onMessage: (m: FromChild) => void, onExit: (why: string) => void, now: number): Child {
    const w = new Worker(this.o.entry);
    let gone = false;
    w.on('message', onMessage);
    w.on('error', (err) => this.log('error', `checker worker error: ${err.stack ?? err.message}`));
    w.on('exit', (code) => {
      gone = true;
      onExit(`worker exited with code ${code}`);
    });
    return {
      pid: process.pid,
      startedAt: now,
      lastHeard: now,
      graceUntil: 0,
      ready: false,
      send: (m) => {
        if (!gone) w.postMessage(m);
      },
      kill: () => {
        if (!gone) void w.terminate();
      },
    };
  }

  private onMessage(child: Child, m: FromChild): void {
    if (child !== this.child) return;
    child.lastHeard = Date.now();
    switch (m.t) {
      case 'ready':
        child.ready = true;
        if (this.input) this.sendLoad(child);
        break;
      case 'hb':
        this.lastStats = m.stats;
        if (Date.now() - child.startedAt > this.o.stableAfterMs) this.attempts = 0;
        this.emit('stats', m.stats);
        break;
      case 'snapshot':
        // sent when a load is done: normal heartbeat rules again
        child.graceUntil = 0;
        this.checkerSnaps = m.checkers;
        break;
      case 'events': {
        for (const [key, snap] of m.checkers) this.checkerSnaps[key] = snap;
        const batch: RsTransition[] = [];
        for (const t of m.rs) {
          const fwd = this.onRs(t);
          if (fwd) batch.push(fwd);
        }
        if (batch.length) this.emit('transitions', batch);
        break;
      }
      case 'log':
        this.log(m.level, m.msg);
        break;
      case 'stopped':
        break;
    }
  }

  /** Forward a transition only when it changes what the consumer knows; returns what was forwarded. */
  private onRs(t: RsTransition): RsTransition | undefined {
    // a late report for a real server removed by a reload
    if (!this.rsIds.has(t.rsId)) return undefined;
    const prev = this.rs.get(t.rsId);
    const { initial: _i, ...state } = t;
    this.rs.set(t.rsId, state);
    let fwd: RsTransition | undefined;
    if (!prev) fwd = { ...state, initial: true };
    else if (prev.up !== t.up || prev.weight !== t.weight) fwd = { ...state, initial: false };
    if (fwd) this.emit('transition', fwd);
    return fwd;
  }

  private onExit(child: Child, why: string): void {
    if (child !== this.child) return;
    this.child = null;
    if (this.stopping) {
      for (const w of this.stopWaiters.splice(0)) w();
      return;
    }
    this.scheduleRestart(why, child.startedAt);
  }

  private scheduleRestart(why: string, startedAt: number): void {
    if (this.stopping) return;
    if (Date.now() - startedAt > this.o.stableAfterMs) this.attempts = 0;
    const delayMs = Math.min(this.o.backoffMaxMs, this.o.backoffInitialMs * 2 ** this.attempts);
    this.attempts++;
    this.restarts++;
    this.log('warn', `checker ${this.o.isolation} ${why}; restarting in ${delayMs} ms (last known states kept)`);
    this.emit('restart', { reason: why, attempt: this.attempts, delayMs });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.stopping) this.spawn();
    }, delayMs);
  }

  private watch(): void {
    const c = this.child;
    if (!c || this.stopping) return;
    const silent = Date.now() - c.lastHeard;
    if (silent > this.o.heartbeatTimeoutMs && Date.now() > c.graceUntil) {
      this.log('error', `checker ${this.o.isolation} silent for ${silent} ms (hung?); killing it`);
      // onExit restarts it; until then it must not count as heard from
      c.lastHeard = Infinity;
      c.kill();
    }
  }
}
