// The virtual-server manager (pure; `now` is an input, the output is a list of actions).
//
// From the config and the real servers' check transitions it keeps, per virtual server, the alive
// state of each real server and the quorum state, derives the desired kernel pool (pool.ts) and
// emits the operations that move the kernel from the previous desired pool to the new one, the
// notify scripts and the notify-FIFO lines, in this deterministic order per call:
//   1. one `ops` action (all data-plane changes of the call),
//   2. in event order: logs; for a real server state change its notify_up/notify_down script then
//      its FIFO line; for a quorum change the quorum_up/quorum_down script then the FIFO line.
//
// keepalived behaviours kept on purpose (ipwrapper.c):
// - a real server without checkers is always up; with an alpha checker it starts down;
// - the first failure reported for a real server that is already down (alpha) still notifies DOWN;
// - at start-up a VS notifies only if it starts with quorum down and has a sorry server;
// - omega: notifiers run at shutdown (alive real servers DOWN, then the VS DOWN).
// Done better than keepalived on reload (§1.10): one quorum evaluation per VS after the new config
// is in place (keepalived can notify twice), only the minimal diff reaches the kernel, dynamic
// weights survive as long as the real server still has a dynamic checker.
import type { Config, RealServer, VirtualServer } from '../config/model.js';
import type { ServiceSpec, TableState } from '../dataplane/types.js';
import { diffTables } from '../dataplane/diff.js';
import { LvsNames, fifoRsLine, fifoVsLine } from './format.js';
import { aliveWeight, effectiveWeight, poolTable, poolWeight, sorryActive, type RsView } from './pool.js';
import { initialQuorumUp, nextQuorumUp, quorumParams, type QuorumParams } from './quorum.js';
import { clampWeight, servicesFor } from './specs.js';
import type { LogLevel, LvsAction, RsInitialState, RsStatus, RsTransition, VsStatus } from './types.js';

export interface LvsManagerOptions {
  /**
   * initial state of a real server seen for the first time (the checks side knows, e.g. a
   * FILE_CHECK's current file); undefined or absent = defaultInitialState
   */
  initialState?: (rs: RealServer, vs: VirtualServer) => RsInitialState | undefined;
}

/** keepalived: no checkers = always up; any alpha checker = down until a check succeeds. */
export function defaultInitialState(rs: RealServer): RsInitialState {
  return { up: rs.checkers.length === 0 || !rs.checkers.some((c) => c.alpha) };
}

/** Whether a real server has a checker that can set its weight (the weight survives a reload). */
function hasDynamicChecker(rs: RealServer): boolean {
  return rs.checkers.some((c) => (c.type === 'MISC_CHECK' && c.dynamic) || c.type === 'FILE_CHECK');
}

interface RsRuntime extends RsView {
  rs: RealServer;
  alive: boolean;
  dynWeight?: number;
  /** a check result arrived since this real server was created */
  reported: boolean;
  reason: string;
  sinceMs: number;
}

interface VsRuntime {
  vs: VirtualServer;
  /** the services this VS provides (a service claimed by an earlier VS is left to that VS) */
  services: ServiceSpec[];
  q: QuorumParams;
  quorumUp: boolean;
  sinceMs: number;
  rs: Map<string, RsRuntime>;
  /** desired pool as last emitted */
  table: TableState;
  /**
   * Sum of the alive real servers' weights, kept up to date by transition(); undefined = not
   * known yet (computed on first use). A batch of 5,000 results would otherwise re-sum the whole
   * pool 5,000 times on the VRRP event loop.
   */
  aliveSum?: number;
}

export class LvsManager {
  private cfg: Config;
  private names: LvsNames;
  private vss = new Map<string, VsRuntime>();
  private rsIndex = new Map<string, VsRuntime>();
  private state: 'new' | 'running' | 'stopped' = 'new';
  private readonly opts: LvsManagerOptions;

  constructor(cfg: Config, opts: LvsManagerOptions = {}) {
    this.cfg = cfg;
    this.names = new LvsNames(cfg);
    this.opts = opts;
  }

  /** Build the initial pools: everything to add, plus the start-up notifies. */
  start(now: number): LvsAction[] {
    if (this.state !== 'new') return [log('warn', 'LVS manager already started')];
    this.state = 'running';
    const out: LvsAction[] = [];
    this.vss = this.build(this.cfg, new Map(), now, out);
    this.index();
    for (const vr of this.vss.values()) {
      vr.quorumUp = initialQuorumUp(aliveWeight(vr.rs.values()), vr.q);
      if (!vr.quorumUp && vr.vs.sorryServer) this.startDown(vr, out);
      vr.table = this.pool(vr);
    }
    return withOps(diffTables(new Map(), this.desired()), out);
  }

  /** One check transition. */
  onCheck(t: RsTransition, now: number): LvsAction[] {
    return this.onChecks([t], now);
  }

  /** Several check transitions, applied in order; one ops action for all of them. */
  onChecks(ts: RsTransition[], now: number): LvsAction[] {
    if (this.state !== 'running') return [log('warn', `LVS manager is ${this.state}: ignoring ${ts.length} check result(s)`)];
    const out: LvsAction[] = [];
    const touched = new Set<VsRuntime>();
    for (const t of ts) this.transition(t, now, out, touched);
    const before: TableState = new Map();
    const after: TableState = new Map();
    for (const vr of touched) {
      for (const [k, s] of vr.table) before.set(k, s);
      vr.table = this.pool(vr);
      for (const [k, s] of vr.table) after.set(k, s);
    }
    return withOps(diffTables(before, after), out);
  }

  /**
   * Replace the config. Virtual servers and real servers that still exist (same stable id) keep
   * their alive/quorum state; new real servers start as at start-up (alpha = down); the kernel
   * gets only the difference.
   */
  reload(cfg: Config, now: number): LvsAction[] {
    if (this.state !== 'running') {
      if (this.state === 'new') {
        this.cfg = cfg;
        this.names = new LvsNames(cfg);
        return [];
      }
      return [log('warn', 'LVS manager is stopped: ignoring reload')];
    }
    const out: LvsAction[] = [];
    const oldNames = this.names;
    const old = this.vss;
    const oldDesired = this.desired();
    this.cfg = cfg;
    this.names = new LvsNames(cfg);
    const next = this.build(cfg, old, now, out);

    for (const [id, ovr] of old) {
      if (next.has(id)) continue;
      out.push(log('info', `Removing Virtual Server ${oldNames.vs(id)}`, id));
      for (const rr of ovr.rs.values()) if (rr.alive) this.rsNotifies(ovr, { ...rr, alive: false }, out, oldNames);
      if (ovr.quorumUp) this.vsNotifies({ ...ovr, quorumUp: false }, out, oldNames);
    }
    for (const [id, vr] of next) {
      const ovr = old.get(id);
      if (!ovr) {
        vr.quorumUp = initialQuorumUp(aliveWeight(vr.rs.values()), vr.q);
        if (!vr.quorumUp && vr.vs.sorryServer) this.startDown(vr, out);
      } else {
        for (const [rsId, orr] of ovr.rs) {
          if (vr.rs.has(rsId)) continue;
          out.push(log('info', `service ${oldNames.rs(id, orr.rs)} no longer exist`, id, rsId));
          if (orr.alive) this.rsNotifies(ovr, { ...orr, alive: false }, out, oldNames);
        }
        for (const [rsId, rr] of vr.rs) {
          const orr = ovr.rs.get(rsId);
          if (orr && !orr.alive && rr.alive) {
            out.push(log('info', `Adding service ${this.names.rs(id, rr.rs)} to VS ${this.names.vs(id)} (no checkers)`, id, rsId));
            this.rsNotifies(vr, rr, out);
          }
        }
        vr.quorumUp = ovr.quorumUp;
        vr.sinceMs = ovr.sinceMs;
        this.evalQuorum(vr, now, out);
      }
      vr.table = this.pool(vr);
    }
    this.vss = next;
    this.index();
    return withOps(diffTables(oldDesired, this.desired()), out);
  }

  /**
   * Stop: omega notifiers (keepalived clear_services). The kernel entries are the reconciler's
   * business (it removes what it created unless told to keep it).
   */
  shutdown(now: number): LvsAction[] {
    if (this.state !== 'running') {
      this.state = 'stopped';
      return [];
    }
    this.state = 'stopped';
    const out: LvsAction[] = [];
    for (const vr of this.vss.values()) {
      out.push(log('info', `Shutting down VS ${this.names.vs(vr.vs.id)}`, vr.vs.id));
      if (!vr.vs.omega) continue;
      for (const rr of vr.rs.values()) {
        if (!rr.alive) continue;
        rr.alive = false;
        rr.sinceMs = now;
        this.rsNotifies(vr, rr, out);
      }
      vr.quorumUp = false;
      vr.sinceMs = now;
      this.vsNotifies(vr, out);
    }
    return out;
  }

  /** The whole desired table (services of every virtual server). Treat as read-only. */
  desired(): TableState {
    const t: TableState = new Map();
    for (const vr of this.vss.values()) for (const [k, s] of vr.table) t.set(k, s);
    return t;
  }

  status(): VsStatus[] {
    return [...this.vss.values()].map((vr) => ({
      vsId: vr.vs.id,
      name: this.names.vs(vr.vs.id),
      quorumUp: vr.quorumUp,
      quorum: vr.q.quorum,
      hysteresis: vr.q.hysteresis,
      aliveWeight: aliveWeight(vr.rs.values()),
      sorryActive: sorryActive(vr.vs, vr.quorumUp),
      services: vr.services.map((s) => s.key),
      sinceMs: vr.sinceMs,
      realServers: [...vr.rs.values()].map((rr): RsStatus => {
        const s: RsStatus = {
          rsId: rr.rs.id,
          name: this.names.rs(vr.vs.id, rr.rs),
          alive: rr.alive,
          configuredWeight: rr.rs.weight,
          effectiveWeight: effectiveWeight(rr),
          reason: rr.reason,
          sinceMs: rr.sinceMs,
        };
        const pw = poolWeight(vr.vs, rr, vr.quorumUp);
        if (pw !== undefined) s.poolWeight = pw;
        return s;
      }),
    }));
  }

  // ---- internals ----

  /** Runtimes for `cfg`, carrying state over from `old` (matched by stable id). */
  private build(cfg: Config, old: Map<string, VsRuntime>, now: number, out: LvsAction[]): Map<string, VsRuntime> {
    const claimed = new Map<string, string>();
    const next = new Map<string, VsRuntime>();
    for (const vs of cfg.virtualServers) {
      if (next.has(vs.id)) {
        out.push(log('error', `virtual server ${vs.id} is defined twice; ignoring the second one`, vs.id));
        continue;
      }
      const { services, problems } = servicesFor(vs, cfg);
      for (const p of problems) out.push(log('error', p, vs.id));
      const mine: ServiceSpec[] = [];
      for (const s of services) {
        const owner = claimed.get(s.key);
        if (owner !== undefined) {
          out.push(log('error', `service ${s.key} of ${vs.id} is already provided by ${owner}; ignored for ${vs.id}`, vs.id));
          continue;
        }
        claimed.set(s.key, vs.id);
        mine.push(s);
      }
      const q = quorumParams(vs);
      for (const n of q.notes) out.push(log('warn', n, vs.id));
      const ovr = old.get(vs.id);
      const rs = new Map<string, RsRuntime>();
      for (const r of vs.realServers) {
        if (rs.has(r.id)) {
          out.push(log('error', `real server ${r.id} is duplicated; ignoring the second one`, vs.id, r.id));
          continue;
        }
        rs.set(r.id, this.rsRuntime(vs, r, ovr?.rs.get(r.id), now));
      }
      next.set(vs.id, { vs, services: mine, q, quorumUp: false, sinceMs: now, rs, table: new Map() });
    }
    return next;
  }

  private rsRuntime(vs: VirtualServer, rs: RealServer, prev: RsRuntime | undefined, now: number): RsRuntime {
    if (prev) {
      const alive = rs.checkers.length === 0 ? true : prev.alive;
      const r: RsRuntime = { rs, alive, reported: prev.reported, reason: prev.reason, sinceMs: alive === prev.alive ? prev.sinceMs : now };
      if (prev.dynWeight !== undefined && hasDynamicChecker(rs)) r.dynWeight = prev.dynWeight;
      return r;
    }
    const init = (rs.checkers.length > 0 ? this.opts.initialState?.(rs, vs) : undefined) ?? defaultInitialState(rs);
    const r: RsRuntime = { rs, alive: init.up, reported: false, reason: init.up ? 'initial state' : 'alpha: down until checked', sinceMs: now };
    if (init.weight !== undefined) r.dynWeight = clampWeight(init.weight);
    return r;
  }

  private index(): void {
    this.rsIndex.clear();
    for (const vr of this.vss.values()) for (const id of vr.rs.keys()) this.rsIndex.set(id, vr);
  }

  private pool(vr: VsRuntime): TableState {
    return poolTable(vr.vs, vr.services, vr.rs.values(), vr.quorumUp);
  }

  private transition(t: RsTransition, now: number, out: LvsAction[], touched: Set<VsRuntime>): void {
    const vr = this.rsIndex.get(t.rsId);
    const rr = vr?.rs.get(t.rsId);
    if (!vr || !rr) {
      out.push(log('warn', `check result for unknown real server ${t.rsId} ignored`, undefined, t.rsId));
      return;
    }
    const vsId = vr.vs.id;
    if (rr.rs.checkers.length === 0) {
      out.push(log('warn', `check result for ${this.names.rs(vsId, rr.rs)} ignored: it has no checkers and is always up`, vsId, t.rsId));
      return;
    }
    touched.add(vr);
    const contribution = (): number => (rr.alive ? effectiveWeight(rr) : 0);
    const before = contribution();
    const oldW = effectiveWeight(rr);
    if (t.weight === undefined) delete rr.dynWeight;
    else rr.dynWeight = clampWeight(t.weight);
    const newW = effectiveWeight(rr);
    if (newW !== oldW) {
      out.push(log('info', `Changing weight from ${oldW} to ${newW} for ${rr.alive ? '' : 'in'}active service ${this.names.rs(vsId, rr.rs)} of VS ${this.names.vs(vsId)}`, vsId, t.rsId));
    }
    const firstReport = !rr.reported;
    rr.reported = true;
    if (rr.alive !== t.up) {
      rr.alive = t.up;
      rr.reason = t.reason;
      rr.sinceMs = now;
      const inhibit = rr.rs.policy.inhibitOnFailure;
      const verb = t.up ? (inhibit ? 'Enabling' : 'Adding') : inhibit ? 'Disabling' : 'Removing';
      const prep = inhibit ? 'of' : t.up ? 'to' : 'from';
      out.push(log('info', `${verb} service ${this.names.rs(vsId, rr.rs)} ${prep} VS ${this.names.vs(vsId)} (${t.reason})`, vsId, t.rsId));
      this.rsNotifies(vr, rr, out);
    } else {
      rr.reason = t.reason;
      // keepalived update_svr_checker_state: the first result of an alpha checker that fails
      // confirms a state the server already had, and still notifies DOWN
      if (firstReport && !t.up) this.rsNotifies(vr, rr, out);
    }
    if (vr.aliveSum !== undefined) vr.aliveSum += contribution() - before;
    this.evalQuorum(vr, now, out);
  }

  private evalQuorum(vr: VsRuntime, now: number, out: LvsAction[]): void {
    const sum = (vr.aliveSum ??= aliveWeight(vr.rs.values()));
    const next = nextQuorumUp(vr.quorumUp, sum, vr.q);
    if (next === vr.quorumUp) return;
    const { quorum: Q, hysteresis: H } = vr.q;
    const vsId = vr.vs.id;
    const name = this.names.vs(vsId);
    vr.quorumUp = next;
    vr.sinceMs = now;
    if (next) out.push(log('info', `Gained quorum ${Q}+${H}=${Q + H} <= ${sum} for VS ${name}`, vsId));
    else out.push(log('info', `Lost quorum ${Q}-${H}=${Q - H} > ${sum} for VS ${name}`, vsId));
    const ss = vr.vs.sorryServer;
    if (ss) {
      const ssName = this.names.rs(vsId, ss);
      if (next) out.push(log('info', `${ss.inhibit ? 'Disabling' : 'Removing'} sorry server ${ssName} from VS ${name}`, vsId));
      else out.push(log('info', `${ss.inhibit ? 'Enabling' : 'Adding'} sorry server ${ssName} to VS ${name}`, vsId));
    }
    this.vsNotifies(vr, out);
  }

  private startDown(vr: VsRuntime, out: LvsAction[]): void {
    const { quorum: Q, hysteresis: H } = vr.q;
    const sum = aliveWeight(vr.rs.values());
    const vsId = vr.vs.id;
    out.push(log('info', `Starting with quorum down ${Q}-${H}=${Q - H} > ${sum} for VS ${this.names.vs(vsId)}`, vsId));
    this.vsNotifies(vr, out);
  }

  private rsNotifies(vr: VsRuntime, rr: RsRuntime, out: LvsAction[], names = this.names): void {
    const cmd = rr.alive ? rr.rs.notifyUp : rr.rs.notifyDown;
    if (cmd) out.push({ kind: 'script', event: rr.alive ? 'notify_up' : 'notify_down', cmd, args: [], vsId: vr.vs.id, rsId: rr.rs.id });
    if (this.fifoEnabled()) out.push({ kind: 'fifo', line: fifoRsLine(names.rs(vr.vs.id, rr.rs), names.vs(vr.vs.id), rr.alive) });
  }

  private vsNotifies(vr: VsRuntime, out: LvsAction[], names = this.names): void {
    const cmd = vr.quorumUp ? vr.vs.quorumUp : vr.vs.quorumDown;
    if (cmd) out.push({ kind: 'script', event: vr.quorumUp ? 'quorum_up' : 'quorum_down', cmd, args: [], vsId: vr.vs.id });
    if (this.fifoEnabled()) out.push({ kind: 'fifo', line: fifoVsLine(names.vs(vr.vs.id), vr.quorumUp) });
  }

  private fifoEnabled(): boolean {
    return this.cfg.global.lvsNotifyFifo !== undefined || this.cfg.global.notifyFifo !== undefined;
  }
}

function log(level: LogLevel, msg: string, vsId?: string, rsId?: string): LvsAction {
  const a: Extract<LvsAction, { kind: 'log' }> = { kind: 'log', level, msg };
  if (vsId !== undefined) a.vsId = vsId;
  if (rsId !== undefined) a.rsId = rsId;
  return a;
}

function withOps(ops: ReturnType<typeof diffTables>, rest: LvsAction[]): LvsAction[] {
  return ops.length > 0 ? [{ kind: 'ops', ops }, ...rest] : rest;
}
