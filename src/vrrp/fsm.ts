// One VRRP instance: RFC 5798 §6.4 Initialize/Backup/Master plus FAULT and STOP, with
// keepalived 2.2.x behaviour wherever the two differ (keepalived is the peer we must interoperate
// with). Sans-I/O: `handle(event, now)` returns actions; timers are explicit deadlines.
//
// keepalived specifics followed here (vrrp.c / vrrp_scheduler.c):
// - Startup: even with `state MASTER` a non-owner starts BACKUP and only takes over when its
//   Master_Down_Timer expires (lab README gotcha 6, "Preempt"); priority 255 goes MASTER at once.
//   Stale VIPs from a previous run are removed at startup.
// - Master_Down_Interval = down_timer_adverts × Master_Adver_Interval + Skew_Time (timers.ts).
// - BACKUP accepts an advert (restarting its timer) if nopreempt, or priority ≥ ours, or a
//   preempt_delay is still running (it starts at the first lower-priority advert seen); a
//   lower-priority advert otherwise is ignored, so we take over when our timer runs out. There is
//   therefore no separate preempt-delay timer: takeover ≈ preempt_delay + Master_Down_Interval,
//   as keepalived's man page describes.
// - MASTER hearing a lower-priority advert re-sends its own at once (unless lower_prio_no_advert),
//   sends the lower-priority GARP burst, and raises MASTER_RX_LOWER_PRI.
// - higher_prio_send_advert: a MASTER stepping down first sends one advert of its own.
// - Two owners (both 255) on one VRID: keepalived lowers its own priority to 254 and warns.
// - Going FAULT from MASTER sends a priority-0 advert; leaving FAULT goes BACKUP (owner: MASTER).
// - Effective-priority changes in BACKUP move the running down timer by the skew difference.
// Deliberate differences: a MASTER's advert timer is only reset when it actually sends (keepalived
// also resets it on any received packet); pending GARP bursts are cancelled on leaving MASTER.
import { AhCounter } from './ah.js';
import type { Action, TimerName, TransitionReason, VipSet, VrrpState } from './actions.js';
import { compareAddr } from './addr.js';
import { GarpSchedule } from './garp.js';
import type { InstanceConfig } from './instance-config.js';
import { newDropCounters, type DropCounters, type DropReason } from './packet.js';
import { checkAdvert, type RxPacket } from './receive.js';
import { masterDownUs, skewUs, usToMs } from './timers.js';

export type FaultState = 'ok' | 'fault' | 'pending';

export type FsmEvent =
  | { type: 'startup' }
  | { type: 'advert'; packet: RxPacket }
  | { type: 'timer'; timer: TimerName }
  /** new effective priority from the trackers (ignored for owners) */
  | { type: 'priority'; priority: number }
  /** tracker verdict; 'pending' = an unweighted vrrp_script has not reported yet (startup only) */
  | { type: 'fault'; state: FaultState; reason?: string }
  | { type: 'shutdown' }
  /** removed from the config by a reload */
  | { type: 'delete' }
  /** from the sync-group coordinator */
  | { type: 'sync'; to: 'MASTER' | 'BACKUP' | 'FAULT' | 'FAULT_CLEARED' };

export interface StepResult {
  actions: Action[];
  drop?: { reason: DropReason; detail: string };
}

export interface FsmStats {
  advertsReceived: number;
  advertsSent: number;
  priorityZeroReceived: number;
  priorityZeroSent: number;
  becameMaster: number;
  releasedMaster: number;
  lowerPriorityIgnored: number;
}

/** Timer firing this much before its deadline still counts (event loops round to 1 ms). */
const EARLY_TOLERANCE_MS = 1;

export class VrrpFsm {
  state: VrrpState = 'INIT';
  effectivePriority: number;
  basePriority: number;
  masterAdverIntMs: number;
  /** keepalived's wantstate == MASTER: our timer expired (or owner); sync groups read it */
  wantMaster: boolean;
  masterAddr: string | undefined;
  masterPriority: number | undefined;
  preemptAt: number | undefined;
  ownFault: FaultState = 'ok';
  faultReason: string | undefined;
  syncFault = false;
  /** set by a sync group: may this member go MASTER now? (keepalived vrrp_sync_can_goto_master) */
  syncGate: (() => boolean) | undefined;
  readonly deadlines: Partial<Record<TimerName, number>> = {};
  readonly drops: DropCounters = newDropCounters();
  readonly stats: FsmStats = {
    advertsReceived: 0,
    advertsSent: 0,
    priorityZeroReceived: 0,
    priorityZeroSent: 0,
    becameMaster: 0,
    releasedMaster: 0,
    lowerPriorityIgnored: 0,
  };
  readonly ah = new AhCounter();
  lastTransitionAt: number | undefined;

  private started = false;
  private downTimerUs: number;
  private nextMasterReason: TransitionReason = 'master-down';
  private vipsSet = false;
  private readonly garp: GarpSchedule;
  private out: Action[] = [];
  private now = 0;

  constructor(readonly cfg: InstanceConfig) {
    this.basePriority = cfg.basePriority;
    this.effectivePriority = cfg.basePriority;
    this.masterAdverIntMs = cfg.advertIntMs;
    this.wantMaster = cfg.initialWantMaster;
    this.downTimerUs = this.mdiUs();
    this.garp = new GarpSchedule(cfg.garpTargets, cfg.garp);
  }

  get faulted(): boolean {
    return this.ownFault !== 'ok' || this.syncFault;
  }

  /** Master_Down_Interval for the current priority and master interval, in ms. */
  get masterDownIntervalMs(): number {
    return usToMs(this.mdiUs());
  }

  get skewMs(): number {
    return usToMs(skewUs(this.cfg.version, this.effectivePriority, this.masterAdverIntMs));
  }

  handle(ev: FsmEvent, now: number): StepResult {
    this.out = [];
    this.now = now;
    let dropped: StepResult['drop'];
    switch (ev.type) {
      case 'startup':
        if (this.state === 'INIT' && !this.started) {
          this.started = true;
          this.tryStart();
        }
        break;
      case 'advert':
        dropped = this.onAdvert(ev.packet);
        if (dropped) this.drops[dropped.reason]++;
        break;
      case 'timer':
        this.onTimer(ev.timer);
        break;
      case 'priority':
        this.onPriority(ev.priority);
        break;
      case 'fault':
        this.ownFault = ev.state;
        this.faultReason = ev.state === 'ok' ? undefined : ev.reason;
        this.reconcileFault('fault');
        break;
      case 'sync':
        this.onSync(ev.to);
        break;
      case 'shutdown':
      case 'delete':
        this.stop(ev.type === 'shutdown' ? 'shutdown' : 'deleted');
        break;
    }
    return dropped ? { actions: this.out, drop: dropped } : { actions: this.out };
  }

  // ---- transitions ------------------------------------------------------------------

  private tryStart(): void {
    if (this.ownFault === 'pending' && !this.syncFault) return; // wait for the first script result
    if (this.faulted) {
      this.removeVips();
      this.setState('FAULT', this.syncFault ? 'sync-group' : 'fault');
    } else if (this.cfg.owner) {
      this.gotoMaster('owner', true);
    } else {
      this.removeVips();
      this.enterBackup('startup', true);
    }
  }

  private enterBackup(reason: TransitionReason, resetInterval: boolean): void {
    if (resetInterval) this.masterAdverIntMs = this.cfg.advertIntMs;
    this.preemptAt = undefined;
    this.nextMasterReason = 'master-down';
    this.setState('BACKUP', reason);
    this.armDown(this.mdiUs());
  }

  /** `force`: skip the sync-group gate (owner start, or the group itself pulling us up). */
  private gotoMaster(reason: TransitionReason, force = false): void {
    this.wantMaster = true;
    if (!force && this.syncGate && !this.syncGate()) {
      // keepalived: stay BACKUP wanting MASTER until every group member wants it too
      this.armDown(this.mdiUs());
      return;
    }
    this.masterAdverIntMs = this.cfg.advertIntMs; // v3: revert to our own interval
    this.preemptAt = undefined;
    this.disarm('masterDown');
    this.sendAdvert(this.effectivePriority); // first, so the old master drops the VIPs before our GARPs
    this.out.push({ type: 'addVips', ...this.vipSet() });
    this.vipsSet = true;
    this.garp.becomeMaster(this.now);
    this.flushGarp();
    this.arm('advert', this.now + this.cfg.advertIntMs);
    this.stats.becameMaster++;
    this.setState('MASTER', reason);
  }

  private leaveMaster(to: 'BACKUP' | 'FAULT' | 'STOP', reason: TransitionReason, resign: boolean): void {
    if (resign) this.sendAdvert(0);
    this.disarm('advert');
    this.garp.reset();
    this.disarm('garp');
    this.removeVips();
    this.stats.releasedMaster++;
    if (to === 'BACKUP') {
      this.preemptAt = undefined;
      this.nextMasterReason = 'master-down';
      this.setState('BACKUP', reason);
      this.armDown(this.mdiUs());
    } else {
      this.setState(to, reason);
    }
  }

  private reconcileFault(reason: TransitionReason): void {
    if (this.state === 'STOP') return;
    if (this.state === 'INIT') {
      if (this.started) this.tryStart();
      return;
    }
    if (this.faulted) {
      if (this.state === 'MASTER') this.leaveMaster('FAULT', reason, true);
      else if (this.state === 'BACKUP') {
        this.disarm('masterDown');
        this.setState('FAULT', reason);
      }
      return;
    }
    if (this.state !== 'FAULT') return;
    if (this.cfg.owner) this.gotoMaster('owner', true);
    else {
      this.wantMaster = false; // keepalived try_up_instance: wantstate BACKUP
      this.enterBackup(reason === 'sync-group' ? 'sync-group' : 'fault-cleared', true);
    }
  }

  private stop(reason: 'shutdown' | 'deleted'): void {
    if (this.state === 'STOP') return;
    this.started = true;
    if (this.state === 'MASTER') {
      this.leaveMaster('STOP', reason, true);
      return;
    }
    this.disarm('masterDown');
    this.setState('STOP', reason);
  }

  private onSync(to: 'MASTER' | 'BACKUP' | 'FAULT' | 'FAULT_CLEARED'): void {
    if (this.state === 'STOP' || this.state === 'INIT') {
      if (to === 'FAULT') this.syncFault = true;
      if (to === 'FAULT_CLEARED') this.syncFault = false;
      if (this.state === 'INIT' && this.started) this.tryStart();
      return;
    }
    switch (to) {
      case 'MASTER':
        if (this.state === 'BACKUP') this.gotoMaster('sync-group', true);
        break;
      case 'BACKUP':
        if (this.state === 'MASTER') {
          this.wantMaster = false;
          this.leaveMaster('BACKUP', 'sync-group', false);
        }
        break;
      case 'FAULT':
        this.syncFault = true;
        this.reconcileFault('sync-group');
        break;
      case 'FAULT_CLEARED':
        this.syncFault = false;
        this.reconcileFault('sync-group');
        break;
    }
  }

  // ---- adverts -----------------------------------------------------------------------

  private onAdvert(p: RxPacket): StepResult['drop'] {
    if (this.state !== 'BACKUP' && this.state !== 'MASTER')
      return { reason: 'ignored-state', detail: `instance is ${this.state}` };
    const checkAddresses = this.state === 'MASTER' || !this.cfg.skipCheckAdvAddr || p.src !== this.masterAddr;
    const c = checkAdvert(p, this.cfg, checkAddresses, this.ah);
    if (c.reason) return { reason: c.reason, detail: c.detail ?? '' };
    this.stats.advertsReceived++;
    if (p.advert.priority === 0) this.stats.priorityZeroReceived++;
    if (this.state === 'BACKUP') this.backupRx(p);
    else this.masterRx(p);
    return undefined;
  }

  private backupRx(p: RxPacket): void {
    const prio = p.advert.priority;
    if (prio === 0) {
      // RFC 5798 §6.4.2: Master_Down_Timer = Skew_Time
      this.nextMasterReason = 'priority-zero';
      this.armDown(skewUs(this.cfg.version, this.effectivePriority, this.masterAdverIntMs));
      return;
    }
    const delaying =
      this.cfg.preemptDelayMs > 0 && (this.preemptAt === undefined || this.preemptAt > this.now);
    if (!this.cfg.preempt || prio >= this.effectivePriority || delaying) {
      if (this.cfg.version === 3 && p.advert.advertIntMs > 0) this.masterAdverIntMs = p.advert.advertIntMs;
      this.masterAddr = p.src;
      this.masterPriority = prio;
      this.nextMasterReason = 'master-down';
      if (this.cfg.preemptDelayMs > 0) {
        if (prio >= this.effectivePriority) this.preemptAt = undefined;
        else if (this.preemptAt === undefined) this.preemptAt = this.now + this.cfg.preemptDelayMs;
      }
      this.wantMaster = false;
      this.armDown(this.mdiUs());
      return;
    }
    // preempting a lower-priority master: let our timer run out
    this.masterAddr = p.src;
    this.nextMasterReason = 'preempt';
    this.stats.lowerPriorityIgnored++;
  }

  private masterRx(p: RxPacket): void {
    const prio = p.advert.priority;
    const cmp = compareAddr(p.src, this.cfg.src);
    const theyWin = prio > this.effectivePriority || (prio === this.effectivePriority && cmp > 0);
    if (prio === 0 || (this.cfg.higherPrioSendAdvert && theyWin)) {
      this.sendAdvert(this.effectivePriority);
      this.arm('advert', this.now + this.cfg.advertIntMs);
      if (prio === 0) return; // RFC: answer the resigning router, stay MASTER
    }
    if (prio === this.effectivePriority) {
      if (cmp === 0) {
        this.log('warn', `equal priority advert received from ${p.src}, which is our own address`);
      } else if (this.effectivePriority === 255) {
        this.log('warn', `both ${this.cfg.src} and ${p.src} are configured as address owner (255) - reducing local priority to 254`);
        this.effectivePriority = this.basePriority = 254;
      }
    }
    if (prio < this.effectivePriority || (prio === this.effectivePriority && cmp < 0)) {
      if (p.ah) this.ah.syncFromLower(p.ah.header.seq);
      if (!this.cfg.lowerPrioNoAdvert) {
        this.sendAdvert(this.effectivePriority);
        this.arm('advert', this.now + this.cfg.advertIntMs);
      }
      this.garp.lowerPriorityAdvert(this.now);
      this.flushGarp();
      this.out.push({ type: 'masterRxLowerPri', peer: p.src, peerPriority: prio, priority: this.effectivePriority });
      return;
    }
    if (prio > this.effectivePriority || (prio === this.effectivePriority && cmp > 0)) {
      if (this.cfg.version === 3 && p.advert.advertIntMs > 0) this.masterAdverIntMs = p.advert.advertIntMs;
      this.masterAddr = p.src;
      this.masterPriority = prio;
      this.wantMaster = false;
      this.leaveMaster('BACKUP', 'higher-priority', false);
    }
  }

  // ---- timers and priority -----------------------------------------------------------

  private onTimer(t: TimerName): void {
    const at = this.deadlines[t];
    if (at === undefined) return; // stale: not armed any more
    if (this.now < at - EARLY_TOLERANCE_MS) {
      this.out.push({ type: 'startTimer', timer: t, at }); // fired early: re-arm
      return;
    }
    delete this.deadlines[t];
    if (t === 'masterDown' && this.state === 'BACKUP') this.gotoMaster(this.nextMasterReason);
    else if (t === 'advert' && this.state === 'MASTER') {
      this.sendAdvert(this.effectivePriority);
      this.arm('advert', this.now + this.cfg.advertIntMs);
    } else if (t === 'garp' && this.state === 'MASTER') this.flushGarp();
  }

  private onPriority(p: number): void {
    if (this.cfg.owner || this.basePriority === 255) return; // keepalived never adjusts an owner
    const prio = Math.min(254, Math.max(1, Math.round(p)));
    if (prio === this.effectivePriority) return;
    const oldSkew = skewUs(this.cfg.version, this.effectivePriority, this.masterAdverIntMs);
    const from = this.effectivePriority;
    this.effectivePriority = prio;
    const newSkew = skewUs(this.cfg.version, prio, this.masterAdverIntMs);
    const down = this.deadlines.masterDown;
    if (this.state === 'BACKUP' && down !== undefined) {
      this.downTimerUs += newSkew - oldSkew;
      this.arm('masterDown', Math.max(this.now, down + usToMs(newSkew - oldSkew)));
    }
    this.out.push({ type: 'priorityChange', from, to: prio, state: this.state });
  }

  // ---- helpers -----------------------------------------------------------------------

  private mdiUs(): number {
    return masterDownUs(this.cfg.version, this.effectivePriority, this.masterAdverIntMs, this.cfg.downTimerAdverts);
  }

  private armDown(us: number): void {
    this.downTimerUs = us;
    this.arm('masterDown', this.now + usToMs(us));
  }

  private arm(t: TimerName, at: number): void {
    this.deadlines[t] = at;
    this.out.push({ type: 'startTimer', timer: t, at });
  }

  private disarm(t: TimerName): void {
    if (this.deadlines[t] === undefined) return;
    delete this.deadlines[t];
    this.out.push({ type: 'stopTimer', timer: t });
  }

  private sendAdvert(priority: number): void {
    const a: Action = { type: 'sendAdvert', priority };
    if (this.cfg.auth.type === 'AH') a.ahSeq = this.ah.next();
    this.out.push(a);
    this.stats.advertsSent++;
    if (priority === 0) this.stats.priorityZeroSent++;
  }

  private flushGarp(): void {
    const sends = this.garp.due(this.now);
    if (sends.length) this.out.push({ type: 'sendGarp', sends });
    const next = this.garp.nextDeadline();
    if (next === undefined) this.disarm('garp');
    else if (this.deadlines.garp !== next) this.arm('garp', next);
  }

  private vipSet(): VipSet {
    const c = this.cfg;
    return { vips: c.vips, excluded: c.excludedVips, routes: c.routes, rules: c.rules, accept: c.accept };
  }

  private removeVips(): void {
    if (!this.vipsSet && this.state !== 'INIT') return;
    if (!this.cfg.vips.length && !this.cfg.excludedVips.length && !this.cfg.routes.length && !this.cfg.rules.length) return;
    this.out.push({ type: 'removeVips', ...this.vipSet() });
    this.vipsSet = false;
  }

  private setState(to: VrrpState, reason: TransitionReason): void {
    const from = this.state;
    this.state = to;
    this.lastTransitionAt = this.now;
    this.out.push({ type: 'stateChange', from, to, reason, priority: this.effectivePriority });
  }

  private log(level: 'info' | 'warn', message: string): void {
    this.out.push({ type: 'log', level, message: `(${this.cfg.name}) ${message}` });
  }

  /** Snapshot for status output / tests. */
  status(): Record<string, unknown> {
    return {
      name: this.cfg.name,
      state: this.state,
      wantMaster: this.wantMaster,
      basePriority: this.basePriority,
      effectivePriority: this.effectivePriority,
      advertIntMs: this.cfg.advertIntMs,
      masterAdverIntMs: this.masterAdverIntMs,
      masterDownIntervalMs: this.masterDownIntervalMs,
      downTimerMs: usToMs(this.downTimerUs),
      masterAddr: this.masterAddr,
      masterPriority: this.masterPriority,
      preemptAt: this.preemptAt,
      fault: this.ownFault,
      faultReason: this.faultReason,
      syncFault: this.syncFault,
      accept: this.cfg.accept,
      deadlines: { ...this.deadlines },
      stats: { ...this.stats },
      drops: { ...this.drops },
    };
  }
}
