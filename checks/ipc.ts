// Messages between the daemon (src/daemon/checker-host.ts) and the checker process/worker
// (checks/process-main.ts). Plain data: it crosses a fork IPC channel or a worker port.
import type { CheckerInput } from './input.js';
import type { CheckerSnapshot, RsTransition } from './scheduler.js';

export interface ChildOptions {
  maxConcurrent?: number;
  httpEngine?: 'raw' | 'undici';
  heartbeatIntervalMs?: number;
}

export type ToChild =
  | { t: 'load'; input: CheckerInput; resume?: Record<string, CheckerSnapshot>; options?: ChildOptions }
  | { t: 'stop' };

export interface ChildStats {
  pid: number;
  checkers: number;
  inFlight: number;
  started: number;
  completed: number;
  failed: number;
  /** process.cpuUsage() totals since the child started, microseconds */
  cpuUserUs: number;
  cpuSystemUs: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** how late the heartbeat timer fired: event-loop lag of the checker */
  loopLagMs: number;
}

export type FromChild =
  | { t: 'ready'; pid: number }
  /** batched: transitions of one event-loop turn */
  | { t: 'events'; rs: RsTransition[]; checkers: [string, CheckerSnapshot][] }
  /** every checker that has run, after a load (replaces the parent's copy) */
  | { t: 'snapshot'; checkers: Record<string, CheckerSnapshot> }
  | { t: 'hb'; stats: ChildStats }
  | { t: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; msg: string }
  | { t: 'stopped' };
