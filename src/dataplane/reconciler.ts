// The reconciler: keeps the kernel equal to the desired table, touching only what is ours.
//
// - Ownership: it tracks the keys it created and the keys it adopted (service keys, and
//   "svcKey destKey" for dests). Kernel entries that are neither ours nor desired are never
//   touched, and foreign dests inside one of our services are left alone too.
// - Adoption: on every pass (the first one at start-up in particular) an entry already in the
//   kernel whose key is desired is kept as is (no flush, no delete + re-add), edited in place if
//   its settings differ, and becomes ours.
// - Drift repair: every interval it observes the kernel, restricts the observation to our keys
//   and the desired keys, and applies diffTables(that, desired): entries deleted behind our back
//   are re-added, edited ones set back, ours that are no longer desired removed.
// - Fast path: push(desired, ops) applies the manager's ops right away (a real server going down
//   must leave the pool now, not at the next interval); the periodic pass fixes whatever failed.
// - Failures (observe() or apply() throwing, ops refused) are logged and retried at the next
//   interval; nothing here throws to the caller.
// - Shutdown: removes only what it created (not what it adopted), or nothing with
//   keepOnShutdown (keepalived's -I / --dont-release-ipvs).
// The timer is injected, so tests drive it with a fake clock.
import type { ApplyResult, DataplaneEngine, DestSpec, Op, ServiceSpec, TableState } from './types.js';
import { describeOp, diffTables, type DiffOptions } from './diff.js';

export interface ReconcilerTimer {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const systemTimer: ReconcilerTimer = {
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
};

export type ReconcilerLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type ReconcilerLog = (level: ReconcilerLogLevel, msg: string, fields?: Record<string, unknown>) => void;

export interface ReconcilerOptions {
  engine: DataplaneEngine;
  /** lvsd_defs reconcile_interval */
  intervalMs: number;
  timer?: ReconcilerTimer;
  log?: ReconcilerLog;
  /** leave what we created in the kernel at shutdown (keepalived -I / --dont-release-ipvs) */
  keepOnShutdown?: boolean;
  diff?: DiffOptions;
}

export interface ReconcileReport {
  /** false when the kernel could not be read (nothing was changed) */
  observed: boolean;
  ops: Op[];
  applied: number;
  failed: ApplyResult['failed'];
  /** keys adopted during this pass */
  adopted: string[];
}

type Owner = 'created' | 'adopted';

/** What we own under one service key; the specs are kept so we can delete them even blind. */
interface Owned {
  svc?: Owner;
  spec: ServiceSpec;
  dests: Map<string, { owner: Owner; spec: DestSpec }>;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class Reconciler {
  private desired: TableState = new Map();
  private readonly owned = new Map<string, Owned>();
  private chain: Promise<unknown> = Promise.resolve();
  private handle: unknown;
  private intervalMs: number;
  private phase: 'new' | 'running' | 'stopped' = 'new';
  private tickQueued = false;
  private readonly engine: DataplaneEngine;
  private readonly timer: ReconcilerTimer;
  private readonly log: ReconcilerLog;

  constructor(private readonly opts: ReconcilerOptions) {
    this.engine = opts.engine;
    this.timer = opts.timer ?? systemTimer;
    this.log = opts.log ?? (() => {});
    this.intervalMs = opts.intervalMs;
  }

  /** Replace the desired table; the next pass (or push) brings the kernel there. Treated as read-only. */
  setDesired(desired: TableState): void {
    this.desired = desired;
  }

  /** First pass (adoption), then the periodic timer. */
  async start(): Promise<ReconcileReport> {
    if (this.phase !== 'new') return this.emptyReport(true);
    this.phase = 'running';
    const report = await this.serial(() => this.pass());
    if (this.phase === 'running') this.arm();
    return report;
  }

  /** Change the interval (config reload). */
  setIntervalMs(ms: number): void {
    if (ms === this.intervalMs) return;
    this.intervalMs = ms;
    if (this.phase === 'running') {
      this.timer.clearInterval(this.handle);
      this.arm();
    }
  }

  /** New desired table plus the ops that lead there from the previous one, applied now. */
  async push(desired: TableState, ops: Op[]): Promise<ApplyResult> {
    this.desired = desired;
    if (this.phase !== 'running' || ops.length === 0) return { applied: 0, failed: [] };
    return this.serial(async () => {
      if (this.phase !== 'running') return { applied: 0, failed: [] };
      const r = await this.applyOps(ops);
      for (const f of r.failed) this.log('warn', `kernel refused ${describeOp(f.op)}: ${f.error}; will retry at the next reconcile`, { op: f.op.op, service: f.op.svc.key });
      return r;
    });
  }

  /** One observe + repair pass now (serialised with everything else). */
  reconcileNow(): Promise<ReconcileReport> {
    if (this.phase !== 'running') return Promise.resolve(this.emptyReport(false));
    return this.serial(() => this.pass());
  }

  /** Stop the timer; remove what we created unless keep (or keepOnShutdown) is set. */
  async shutdown(opts: { keep?: boolean } = {}): Promise<ReconcileReport> {
    if (this.phase === 'stopped') return this.emptyReport(false);
    const wasRunning = this.phase === 'running';
    this.phase = 'stopped';
    if (wasRunning) this.timer.clearInterval(this.handle);
    return this.serial(async () => {
      const keep = opts.keep ?? this.opts.keepOnShutdown ?? false;
      const n = this.ownership().created.length;
      if (keep || n === 0) {
        if (n > 0) this.log('info', `leaving ${n} kernel entr${n === 1 ? 'y' : 'ies'} we created in place at shutdown`);
        return this.emptyReport(true);
      }
      let observed: TableState | undefined;
      try {
        observed = await this.engine.observe();
      } catch (e) {
        this.log('warn', `cannot read the kernel table at shutdown (${errText(e)}); removing our entries blindly`);
      }
      const ops = this.removalOps(observed);
      const r = await this.applyOps(ops);
      for (const f of r.failed) this.log('warn', `at shutdown the kernel refused ${describeOp(f.op)}: ${f.error}`);
      return { observed: observed !== undefined, ops, applied: r.applied, failed: r.failed, adopted: [] };
    });
  }

  /** Resolves when everything queued so far (passes, pushes) has finished. */
  async idle(): Promise<void> {
    await this.chain;
  }

  /** Keys we own ("svcKey" and "svcKey destKey"), for status output and tests. */
  ownership(): { created: string[]; adopted: string[] } {
    const out = { created: [] as string[], adopted: [] as string[] };
    for (const [k, o] of this.owned) {
      if (o.svc) out[o.svc].push(k);
      for (const [dk, d] of o.dests) out[d.owner].push(`${k} ${dk}`);
    }
    out.created.sort();
    out.adopted.sort();
    return out;
  }

  // ---- internals ----

  private arm(): void {
    this.handle = this.timer.setInterval(() => this.tick(), this.intervalMs);
  }

  private tick(): void {
    if (this.phase !== 'running' || this.tickQueued) return;
    this.tickQueued = true;
    void this.serial(() => this.pass()).finally(() => {
      this.tickQueued = false;
    });
  }

  /** Run `fn` after everything queued before it; never rejects the chain. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private ownsSvc(k: string): boolean {
    return this.owned.get(k)?.svc !== undefined;
  }

  private ownsDest(k: string, dk: string): boolean {
    return this.owned.get(k)?.dests.has(dk) === true;
  }

  private entry(spec: ServiceSpec): Owned {
    let o = this.owned.get(spec.key);
    if (!o) {
      o = { spec, dests: new Map() };
      this.owned.set(spec.key, o);
    }
    return o;
  }

  private markSvc(spec: ServiceSpec, owner: Owner): void {
    const o = this.entry(spec);
    o.spec = spec;
    o.svc = owner;
  }

  private markDest(spec: ServiceSpec, dest: DestSpec, owner: Owner): void {
    this.entry(spec).dests.set(dest.key, { owner, spec: dest });
  }

  private forgetSvc(k: string): void {
    this.owned.delete(k);
  }

  private forgetDest(k: string, dk: string): void {
    const o = this.owned.get(k);
    if (!o) return;
    o.dests.delete(dk);
    if (o.svc === undefined && o.dests.size === 0) this.owned.delete(k);
  }

  private async pass(): Promise<ReconcileReport> {
    let observed: TableState;
    try {
      observed = await this.engine.observe();
    } catch (e) {
      this.log('error', `cannot read the kernel table (${errText(e)}); will retry at the next reconcile`);
      return this.emptyReport(false);
    }
    const desired = this.desired;
    // forget ours that vanished from the kernel and are not wanted any more
    for (const [k, o] of [...this.owned]) {
      const seen = observed.get(k);
      const want = desired.get(k);
      if (!seen && !want) {
        this.forgetSvc(k);
        continue;
      }
      for (const dk of [...o.dests.keys()]) if (!seen?.dests.has(dk) && !want?.dests.has(dk)) this.forgetDest(k, dk);
    }
    // the part of the kernel we may touch: ours, plus what is desired (adopted now if not ours yet)
    const adoptedNow: string[] = [];
    const mine: TableState = new Map();
    const strayDests: Op[] = [];
    for (const [k, s] of observed) {
      const want = desired.get(k);
      if (!want && !this.owned.has(k)) continue;
      if (want && !this.ownsSvc(k)) {
        this.markSvc(s.svc, 'adopted');
        adoptedNow.push(k);
      }
      const dests = new Map<string, DestSpec>();
      for (const [dk, d] of s.dests) {
        if (want?.dests.has(dk)) {
          if (!this.ownsDest(k, dk)) {
            this.markDest(s.svc, d, 'adopted');
            adoptedNow.push(`${k} ${dk}`);
          }
        } else if (!this.ownsDest(k, dk)) continue;
        dests.set(dk, d);
      }
      if (!want && !this.ownsSvc(k)) {
        // a service that is not ours holding dests of ours that are no longer wanted: remove just those
        for (const d of dests.values()) strayDests.push({ op: 'del-dest', svc: s.svc, dest: d });
        continue;
      }
      mine.set(k, { svc: s.svc, dests });
    }
    if (adoptedNow.length > 0) this.log('info', `adopted ${adoptedNow.length} kernel entr${adoptedNow.length === 1 ? 'y' : 'ies'} already in place`, { keys: adoptedNow.slice(0, 20) });
    const ops = diffTables(mine, desired, this.opts.diff);
    // before the diff's service deletions, after its additions (same place as the diff's del-dests)
    const firstDel = ops.findIndex((o) => o.op === 'del-dest' || o.op === 'del-service');
    ops.splice(firstDel < 0 ? ops.length : firstDel, 0, ...strayDests);
    if (ops.length === 0) return { observed: true, ops, applied: 0, failed: [], adopted: adoptedNow };
    this.log('info', `reconcile: ${ops.length} change(s) to bring the kernel to the desired state`, { ops: ops.slice(0, 20).map(describeOp) });
    const r = await this.applyOps(ops);
    for (const f of r.failed) this.log('error', `kernel refused ${describeOp(f.op)}: ${f.error}; will retry at the next reconcile`, { op: f.op.op, service: f.op.svc.key });
    return { observed: true, ops, applied: r.applied, failed: r.failed, adopted: adoptedNow };
  }

  /** engine.apply with ownership bookkeeping; never throws. */
  private async applyOps(ops: Op[]): Promise<ApplyResult> {
    if (ops.length === 0) return { applied: 0, failed: [] };
    let r: ApplyResult;
    try {
      r = await this.engine.apply(ops);
    } catch (e) {
      const error = errText(e);
      this.log('error', `applying ${ops.length} change(s) failed: ${error}; will retry at the next reconcile`);
      return { applied: 0, failed: ops.map((op) => ({ op, error })) };
    }
    const failedRefs = new Set<Op>(r.failed.map((f) => f.op));
    const failedText = new Set(r.failed.map((f) => describeOp(f.op)));
    // an all-or-nothing engine (nftables) that refused the batch reports fewer outcomes than ops
    const noneApplied = r.applied === 0 && r.failed.length > 0;
    if (!noneApplied && r.applied + r.failed.length !== ops.length) {
      this.log('warn', `engine reported ${r.applied} applied + ${r.failed.length} failed for ${ops.length} ops; the next reconcile will verify`);
    }
    for (const op of ops) {
      if (noneApplied || failedRefs.has(op) || failedText.has(describeOp(op))) continue;
      this.account(op);
    }
    return r;
  }

  private account(op: Op): void {
    const k = op.svc.key;
    switch (op.op) {
      case 'add-service':
        this.markSvc(op.svc, 'created');
        break;
      case 'edit-service':
        if (this.owned.has(k)) this.entry(op.svc).spec = op.svc;
        break;
      case 'del-service':
        this.forgetSvc(k);
        break;
      case 'add-dest':
        this.markDest(op.svc, op.dest, 'created');
        break;
      case 'edit-dest': {
        const d = this.owned.get(k)?.dests.get(op.dest.key);
        if (d) d.spec = op.dest;
        break;
      }
      case 'del-dest':
        this.forgetDest(k, op.dest.key);
        break;
    }
  }

  /** Deletes for what we created: our dests in services we did not create, then our services. */
  private removalOps(observed: TableState | undefined): Op[] {
    const destOps: Op[] = [];
    const svcOps: Op[] = [];
    for (const [k, o] of this.owned) {
      const seen = observed?.get(k);
      if (observed && !seen) continue;
      if (o.svc === 'created') {
        if (this.opts.diff?.explicitDestDeletes) {
          for (const d of seen ? seen.dests.values() : [...o.dests.values()].map((x) => x.spec)) destOps.push({ op: 'del-dest', svc: o.spec, dest: d });
        }
        svcOps.push({ op: 'del-service', svc: o.spec });
        continue;
      }
      for (const [dk, d] of o.dests) {
        if (d.owner !== 'created' || (seen && !seen.dests.has(dk))) continue;
        destOps.push({ op: 'del-dest', svc: o.spec, dest: d.spec });
      }
    }
    return [...destOps, ...svcOps];
  }

  private emptyReport(observed: boolean): ReconcileReport {
    return { observed, ops: [], applied: 0, failed: [], adopted: [] };
  }
}
