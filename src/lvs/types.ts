// What goes into and comes out of the virtual-server manager.
import type { Op } from '../dataplane/types.js';

/** A real server's health changed (or its dynamic weight did), as the check scheduler reports it. */
export interface RsTransition {
  /** RealServer.id */
  rsId: string;
  up: boolean;
  /** human-readable cause, e.g. "connect ECONNREFUSED 10.0.0.5:80" */
  reason: string;
  /**
   * dynamic weight (MISC_CHECK misc_dynamic, FILE_CHECK with weight), already combined by the
   * checks side; absent = the configured weight applies
   */
  weight?: number;
}

/** State of a real server when the manager first sees it (start-up, or new on reload). */
export interface RsInitialState {
  up: boolean;
  weight?: number;
}

export type NotifyEvent = 'notify_up' | 'notify_down' | 'quorum_up' | 'quorum_down';

export type LogLevel = 'info' | 'warn' | 'error';

/**
 * The manager's output, for the daemon to carry out in order:
 * - ops: data-plane operations (push them to the reconciler / engine);
 * - script: run `cmd` (the command line as written in the config, to be split like every
 *   keepalived script) with `args` appended (always empty for these notifies, as in keepalived);
 * - fifo: write `line` + '\n' to the LVS notify FIFO (and the global notify FIFO, as keepalived);
 * - log: a log line.
 */
export type LvsAction =
  | { kind: 'ops'; ops: Op[] }
  | { kind: 'script'; event: NotifyEvent; cmd: string; args: string[]; vsId: string; rsId?: string }
  | { kind: 'fifo'; line: string }
  | { kind: 'log'; level: LogLevel; msg: string; vsId?: string; rsId?: string };

export interface RsStatus {
  rsId: string;
  /** keepalived's name, e.g. [10.0.0.5]:tcp:80 */
  name: string;
  alive: boolean;
  configuredWeight: number;
  /** dynamic weight if any, else the configured one */
  effectiveWeight: number;
  /** weight it has in the kernel now, undefined = not in the pool */
  poolWeight?: number;
  reason: string;
  sinceMs: number;
}

export interface VsStatus {
  vsId: string;
  name: string;
  quorumUp: boolean;
  quorum: number;
  hysteresis: number;
  /** total effective weight of alive real servers */
  aliveWeight: number;
  sorryActive: boolean;
  services: string[];
  sinceMs: number;
  realServers: RsStatus[];
}
