// The one interface every health checker implements, and the data that crosses it.
//
// A probe is one attempt: connect/ask/run once and say up or down with a reason a human can act
// on. Probes never throw and never retry; retries, timers and state live in the scheduler.
import type { CheckerSpec, Family, ScriptUser, TrackFile } from '../src/config/model.js';
import type { Cancellation } from './cancel.js';

/** What a checker points at by default: the real server (connect_ip/connect_port override it). */
export interface ProbeTarget {
  address: string;
  port: number;
  family: Family;
  /** virtual server's `virtualhost` (HTTP Host fallback: url > checker > virtual server) */
  virtualhost?: string;
}

export interface ProbeResult {
  up: boolean;
  /** why: "connect ECONNREFUSED 10.0.0.5:80", "HTTP status 503 not in 200-299", "ok", ... */
  reason: string;
  latencyMs: number;
  /**
   * MISC_CHECK misc_dynamic: the weight this checker asks for (exit code - 2). keepalived applies it
   * as an increment of (weight - configured weight), i.e. with one dynamic checker the real server
   * weight becomes exactly this. Absent = unchanged.
   */
  weight?: number;
  /** FILE_CHECK dynamic: value x weight, added to the real server's configured weight. */
  weightDelta?: number;
}

/** Settings from global_defs that change how probes run. */
export interface ProbeSettings {
  enableScriptSecurity: boolean;
  /** global script_user: default user for MISC_CHECK scripts */
  scriptUser?: ScriptUser;
  /** track_file definitions (FILE_CHECK refers to them by name) */
  trackFiles: Record<string, TrackFile>;
}

export interface ProbeContext {
  /** cancelled when the checker stops: a probe must then finish quickly (down, "aborted") */
  cancel: Cancellation;
  settings: ProbeSettings;
  /** monotonic ms clock (injectable for tests) */
  now(): number;
}

export type Prober<S extends CheckerSpec = CheckerSpec> = (
  spec: S,
  target: ProbeTarget,
  ctx: ProbeContext,
) => Promise<ProbeResult>;

/** Address actually probed: connect_ip/connect_port win over the real server's. */
export function effectiveTarget(spec: CheckerSpec, target: ProbeTarget): { address: string; port: number; family: Family } {
  const address = spec.connectIp ?? target.address;
  const port = spec.connectPort ?? target.port;
  const family: Family = address.includes(':') ? 'inet6' : 'inet';
  return { address, port, family };
}

/** "10.0.0.5:80" / "[fd00::5]:80" */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
