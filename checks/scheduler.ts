// The check scheduler: a pure state machine (time is an input, randomness injected) that says
// which probes to start, and turns probe results into checker and real-server transitions.
//
// Per checker (keepalived's rules, check_tcp.c/check_udp.c/check_dns.c/check_http.c):
//  - it starts up, or down with `alpha`; its first probe comes after a random delay in
//    [0, warmup] (default delay_loop) so that thousands of checkers do not start together;
//  - a success makes it up at once; the next probe is delay_loop after the result;
//  - while it is up, a failure is retried after delay_before_retry, `retry` times: it goes down
//    on the (retry+1)-th consecutive failure. While down, failures are not retried (delay_loop).
//  - FILE_CHECK has no retries, no alpha and no warmup: the file is the state.
// A real server is up while all its checkers are up (one without checkers is up). Its weight,
// when a checker is dynamic, is the configured weight adjusted as keepalived does (misc_dynamic:
// set to exit status - 2; FILE_CHECK dynamic: + value x weight), clamped to 0..65535.
// Identical checkers (same probeKey) share one state machine and one probe stream.
import type { CheckerSpec } from '../src/config/model.js';
import { probeKey } from './dedup.js';
import { MinHeap } from './heap.js';
import type { CheckedRealServer, CheckerInput } from './input.js';
import type { ProbeResult, ProbeTarget } from './types.js';

export interface RsState {
  rsId: string;
  vsId: string;
  up: boolean;
  reason: string;
  /** effective weight; present when a dynamic checker (misc_dynamic, FILE_CHECK dynamic) is configured */
  weight?: number;
}

/** Emitted when a real server's up/down state or effective weight changes (and once when it appears). */
export interface RsTransition extends RsState {
  /** first state of a real server just configured (not a change) */
  initial: boolean;
}

/** What survives a checker-process restart or a reload for one checker. */
export interface CheckerSnapshot {
  up: boolean;
  reason: string;
  weight?: number;
  weightDelta?: number;
}

export interface CheckerEvent {
  key: string;
  kind: 'up' | 'down' | 'retry' | 'failure';
  reason: string;
  /** checker_log_all_failures / log_all_failures */
  logAll: boolean;
}

export interface SchedulerEvents {
  rs: RsTransition[];
  checkers: CheckerEvent[];
  /** complete(): the checker's up/down state or dynamic weight changed */
  checkerChanged?: boolean;
}

export interface ProbeJob {
  key: string;
  spec: CheckerSpec;
  target: ProbeTarget;
}

interface Checker {
  key: string;
  job: ProbeJob;
  up: boolean;
  hasRun: boolean;
  retryIt: number;
  reason: string;
  weight?: number;
  weightDelta?: number;
  inFlight: boolean;
  /** the heap entry that is current for this checker (others are stale) */
  ticket: number;
  rsIds: Set<string>;
  logAll: boolean;
}

interface Rs {
  def: CheckedRealServer;
  keys: string[];
  dynamic: boolean;
  state: RsState;
}

export interface SchedulerOptions {
  /** most probes in flight at once */
  maxConcurrent: number;
  /** uniform [0, 1) */
  random: () => number;
}

const MAX_WEIGHT = 65535;

export class CheckScheduler {
  private checkers = new Map<string, Checker>();
  private rs = new Map<string, Rs>();
  private heap = new MinHeap<{ key: string; ticket: number }>();
  private ticketSeq = 0;
  private inFlight = 0;

  constructor(private readonly opts: SchedulerOptions) {}

  get running(): number {
    return this.inFlight;
  }

  get checkerCount(): number {
    return this.checkers.size;
  }

  /**
   * (Re)configure. Checkers whose key is unchanged keep their state and timers (keepalived
   * migrates checker state across a reload); `resume` seeds new checkers with a known state
   * (after a checker-process restart) instead of alpha/!alpha.
   */
  load(input: CheckerInput, now: number, resume: Record<string, CheckerSnapshot> = {}): SchedulerEvents {
    const out: SchedulerEvents = { rs: [], checkers: [] };
    const next = new Map<string, Checker>();
    const nextRs = new Map<string, Rs>();
    for (const def of input.realServers) {
      const keys: string[] = [];
      for (const spec of def.checkers) {
        const key = probeKey(spec, def.target, input.settings.trackFiles);
        keys.push(key);
        let c = next.get(key) ?? this.checkers.get(key);
        if (!c) {
          const snap = resume[key];
          const isFile = spec.type === 'FILE_CHECK';
          c = {
            key,
            job: { key, spec, target: def.target },
            up: snap ? snap.up : isFile ? true : !spec.alpha,
            hasRun: snap !== undefined,
            retryIt: 0,
            reason: snap ? snap.reason : spec.alpha && !isFile ? 'not checked yet (alpha)' : 'not checked yet',
            inFlight: false,
            ticket: 0,
            rsIds: new Set(),
            logAll: false,
          };
          if (snap?.weight !== undefined) c.weight = snap.weight;
          if (snap?.weightDelta !== undefined) c.weightDelta = snap.weightDelta;
          const warmup = isFile ? 0 : Math.max(0, spec.warmupMs);
          this.schedule(c, now + Math.floor(this.opts.random() * warmup));
        } else if (!next.has(key)) {
          c.rsIds = new Set();
          c.logAll = false;
          c.job = { key, spec, target: def.target };
        }
        c.logAll = c.logAll || spec.logAllFailures || input.settings.logAllFailures;
        c.rsIds.add(def.rsId);
        next.set(key, c);
      }
      const dynamic = def.checkers.some((s) => (s.type === 'MISC_CHECK' && s.dynamic) || (s.type === 'FILE_CHECK' && s.dynamic));
      const old = this.rs.get(def.rsId);
      nextRs.set(def.rsId, { def, keys, dynamic, state: old?.state ?? (null as unknown as RsState) });
    }
    for (const [key, c] of this.checkers) if (!next.has(key) && c.inFlight) this.inFlight--;
    this.checkers = next;
    this.rs = nextRs;
    for (const r of this.rs.values()) {
      const fresh = this.computeRs(r);
      const old = r.state as RsState | null;
      r.state = fresh;
      if (!old) out.rs.push({ ...fresh, initial: true });
      else if (fresh.up !== old.up || fresh.weight !== old.weight) out.rs.push({ ...fresh, initial: false });
    }
    return out;
  }

  /** Probes to start now (marked in flight), within the concurrency cap. */
  takeDue(now: number): ProbeJob[] {
    const jobs: ProbeJob[] = [];
    while (this.inFlight < this.opts.maxConcurrent) {
      const top = this.heap.peek();
      if (!top || top.at > now) break;
      this.heap.pop();
      const c = this.checkers.get(top.value.key);
      if (!c || c.ticket !== top.value.ticket || c.inFlight) continue;
      c.inFlight = true;
      c.ticket = 0;
      this.inFlight++;
      jobs.push(c.job);
    }
    return jobs;
  }

  /** When takeDue has something next: a time (maybe already past when at the cap), or null. */
  nextDueAt(): number | null {
    for (;;) {
      const top = this.heap.peek();
      if (!top) return null;
      const c = this.checkers.get(top.value.key);
      if (c && c.ticket === top.value.ticket && !c.inFlight) return top.at;
      this.heap.pop();
    }
  }

  get atCapacity(): boolean {
    return this.inFlight >= this.opts.maxConcurrent;
  }

  /** Probe a checker as soon as possible (e.g. its track file changed). */
  kick(key: string, now: number): void {
    const c = this.checkers.get(key);
    if (c && !c.inFlight) this.schedule(c, now);
  }

  /** A probe finished. Results for checkers removed meanwhile are ignored. */
  complete(key: string, result: ProbeResult, now: number): SchedulerEvents {
    const out: SchedulerEvents = { rs: [], checkers: [] };
    const c = this.checkers.get(key);
    if (!c || !c.inFlight) return out;
    c.inFlight = false;
    this.inFlight--;
    const spec = c.job.spec;
    const wasUp = c.up;
    const oldWeight = c.weight;
    const oldDelta = c.weightDelta;
    if (result.up) {
      c.retryIt = 0;
      c.up = true;
      c.hasRun = true;
      c.reason = result.reason;
      if (result.weight !== undefined) c.weight = result.weight;
      if (spec.type === 'FILE_CHECK') c.weightDelta = result.weightDelta;
      if (!wasUp) out.checkers.push({ key, kind: 'up', reason: result.reason, logAll: c.logAll });
      this.schedule(c, now + spec.delayLoopMs);
    } else if (c.up && c.retryIt < this.retries(spec)) {
      c.retryIt++;
      out.checkers.push({ key, kind: 'retry', reason: result.reason, logAll: c.logAll });
      this.schedule(c, now + spec.delayBeforeRetryMs);
    } else {
      c.retryIt = 0;
      c.up = false;
      c.hasRun = true;
      c.reason = result.reason;
      // a failed FILE_CHECK stops contributing weight (keepalived zeroes cur_weight)
      if (spec.type === 'FILE_CHECK') c.weightDelta = undefined;
      out.checkers.push({ key, kind: wasUp ? 'down' : 'failure', reason: result.reason, logAll: c.logAll });
      this.schedule(c, now + spec.delayLoopMs);
    }
    if (c.up !== wasUp || c.weight !== oldWeight || c.weightDelta !== oldDelta) {
      out.checkerChanged = true;
      for (const rsId of c.rsIds) {
        const r = this.rs.get(rsId);
        if (!r) continue;
        const fresh = this.computeRs(r);
        const old = r.state;
        r.state = fresh;
        if (fresh.up !== old.up || fresh.weight !== old.weight) out.rs.push({ ...fresh, initial: false });
      }
    }
    return out;
  }

  /** Current states, with the latest probe reasons (computed on demand, not per probe). */
  rsStates(): RsState[] {
    return [...this.rs.values()].map((r) => this.computeRs(r));
  }

  checkerSnapshots(): Record<string, CheckerSnapshot> {
    const out: Record<string, CheckerSnapshot> = {};
    for (const c of this.checkers.values()) if (c.hasRun) out[c.key] = this.snapshotOf(c);
    return out;
  }

  snapshotOf(key: string | Checker): CheckerSnapshot {
    const c = typeof key === 'string' ? this.checkers.get(key)! : key;
    const s: CheckerSnapshot = { up: c.up, reason: c.reason };
    if (c.weight !== undefined) s.weight = c.weight;
    if (c.weightDelta !== undefined) s.weightDelta = c.weightDelta;
    return s;
  }

  checkerInfo(key: string): { spec: CheckerSpec; target: ProbeTarget; rsIds: string[] } | undefined {
    const c = this.checkers.get(key);
    return c && { spec: c.job.spec, target: c.job.target, rsIds: [...c.rsIds] };
  }

  private retries(spec: CheckerSpec): number {
    return spec.type === 'FILE_CHECK' ? 0 : Math.max(0, spec.retry);
  }

  private schedule(c: Checker, at: number): void {
    c.ticket = ++this.ticketSeq;
    this.heap.push(at, { key: c.key, ticket: c.ticket });
  }

  private computeRs(r: Rs): RsState {
    const cs = r.keys.map((k) => this.checkers.get(k)!);
    const down = cs.filter((c) => !c.up);
    const up = down.length === 0;
    const reasons = [...new Set((up ? cs : down).map((c) => c.reason))];
    const s: RsState = {
      rsId: r.def.rsId,
      vsId: r.def.vsId,
      up,
      reason: cs.length === 0 ? 'no checkers' : reasons.join('; '),
    };
    if (r.dynamic) {
      let w = r.def.weight;
      for (const c of new Set(cs)) {
        if (c.job.spec.type === 'MISC_CHECK' && c.job.spec.dynamic && c.weight !== undefined) w += c.weight - r.def.weight;
        if (c.job.spec.type === 'FILE_CHECK' && c.job.spec.dynamic && c.weightDelta !== undefined) w += c.weightDelta;
      }
      s.weight = Math.min(MAX_WEIGHT, Math.max(0, w));
    }
    return s;
  }
}
