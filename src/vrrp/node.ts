// All VRRP instances of one director, wired together: trackers → priorities/faults, sync groups,
// receive demultiplexing, advert encoding, notify rendering. Still sans-I/O: every method takes
// `now` and returns NodeActions for the daemon to execute (see index.ts for the mapping).
import type { Config, VrrpInstance } from '../config/model.js';
import type { Action, TimerName } from './actions.js';
import { VrrpFsm, type FsmEvent } from './fsm.js';
import { instanceConfigFromModel, type InstanceConfig, type InterfaceFacts, type VrrpGlobals } from './instance-config.js';
import {
  deletedState,
  groupNotifies,
  instanceNotifies,
  masterRxLowerPriNotify,
  priorityChangeNotify,
  type NotifyAction,
  type NotifyState,
} from './notify.js';
import { newDropCounters, type Decoded, type DropCounters, type DropReason } from './packet.js';
import { rxFromIpv4, rxFromIpv6, type Ipv6RxMeta, type RxPacket } from './receive.js';
import { SyncGroupCoordinator, type MemberChange } from './sync-group.js';
import { computeTracking, trackingSpec, TrackerWorld, type TrackingResult, type TrackingSpec } from './trackers.js';
import { AdvertWriter, type OutgoingAdvert } from './writer.js';

export type NodeAction =
  | (Exclude<Action, { type: 'sendAdvert' }> & { instance: string })
  /** ready-to-send adverts (one per destination) */
  | { type: 'transmit'; instance: string; priority: number; packets: OutgoingAdvert[] }
  | { type: 'notify'; instance?: string; group?: string; notify: NotifyAction };

export interface ReceiveResult {
  instance?: string;
  drop?: { reason: DropReason; detail: string };
  actions: NodeAction[];
}

export type NodeConfig = Pick<Config, 'instances' | 'syncGroups' | 'vrrpScripts' | 'trackFiles'> & {
  global?: VrrpGlobals;
};

interface Member {
  cfg: InstanceConfig;
  fsm: VrrpFsm;
  writer: AdvertWriter;
  spec: TrackingSpec;
  tracking: TrackingResult | undefined;
  group: SyncGroupCoordinator | undefined;
  /** fault the daemon asserts itself (no source address on the interface, no unicast peer, ...) */
  externalFault: string | undefined;
}

export class VrrpNode {
  readonly world: TrackerWorld;
  /** drops before an instance was found (decode errors, unknown VRIDs) */
  readonly drops: DropCounters = newDropCounters();
  readonly warnings: string[] = [];
  private readonly members = new Map<string, Member>();
  private readonly byKey = new Map<string, Member>();
  private readonly groups = new Map<string, { coord: SyncGroupCoordinator; notify: Config['syncGroups'][string]['notify'] }>();
  private changes = new Map<string, MemberChange[]>();
  /** sync groups only act once start() ran (tracker state fed before that is just recorded) */
  private started = false;

  constructor(config: NodeConfig, facts: Record<string, InterfaceFacts> | ((i: VrrpInstance) => InterfaceFacts)) {
    this.world = new TrackerWorld(config.vrrpScripts);
    for (const inst of config.instances) {
      const f = typeof facts === 'function' ? facts(inst) : facts[inst.name];
      if (!f) throw new Error(`no interface facts for VRRP instance ${inst.name}`);
      const cfg = instanceConfigFromModel(inst, f, config.global);
      const group = inst.syncGroup ? config.syncGroups[inst.syncGroup] : undefined;
      const spec = trackingSpec(inst, group, config.vrrpScripts, config.trackFiles);
      for (const w of [...cfg.warnings, ...spec.warnings]) this.warnings.push(`(${inst.name}) ${w}`);
      const m: Member = { cfg, fsm: new VrrpFsm(cfg), writer: new AdvertWriter(cfg), spec, tracking: undefined, group: undefined, externalFault: undefined };
      this.members.set(inst.name, m);
      this.byKey.set(key(cfg.interface, cfg.family, cfg.vrid), m);
    }
    for (const g of Object.values(config.syncGroups)) {
      const fsms = new Map<string, VrrpFsm>();
      for (const n of g.members) {
        const m = this.members.get(n);
        if (m) fsms.set(n, m.fsm);
        else this.warnings.push(`sync group ${g.name}: unknown member ${n}`);
      }
      if (!fsms.size) continue;
      const coord = new SyncGroupCoordinator(g.name, fsms);
      this.groups.set(g.name, { coord, notify: g.notify });
      for (const n of fsms.keys()) this.members.get(n)!.group = coord;
    }
  }

  instance(name: string): VrrpFsm | undefined {
    return this.members.get(name)?.fsm;
  }

  instanceConfig(name: string): InstanceConfig | undefined {
    return this.members.get(name)?.cfg;
  }

  group(name: string): SyncGroupCoordinator | undefined {
    return this.groups.get(name)?.coord;
  }

  /** Feed the trackers' initial state first (setInterface etc.), then start everything. */
  start(now: number): NodeAction[] {
    const out: NodeAction[] = [];
    this.applyTracking(now, out);
    this.started = true;
    for (const name of this.members.keys()) this.run(name, { type: 'startup' }, now, out);
    this.settle(now, out);
    return out;
  }

  receiveIpv4(ifname: string, datagram: Uint8Array, now: number): ReceiveResult {
    return this.receive(ifname, rxFromIpv4(datagram), now);
  }

  receiveIpv6(ifname: string, message: Uint8Array, meta: Ipv6RxMeta, now: number): ReceiveResult {
    return this.receive(ifname, rxFromIpv6(message, meta), now);
  }

  timerFired(instance: string, timer: TimerName, now: number): NodeAction[] {
    return this.dispatch(instance, { type: 'timer', timer }, now);
  }

  setInterface(ifname: string, up: boolean, now: number): NodeAction[] {
    return this.world.setInterface(ifname, up) ? this.retrack(now) : [];
  }

  scriptResult(script: string, success: boolean, now: number): NodeAction[] {
    return this.world.scriptResult(script, success) ? this.retrack(now) : [];
  }

  trackFileValue(file: string, value: number, now: number): NodeAction[] {
    return this.world.setFile(file, value) ? this.retrack(now) : [];
  }

  /**
   * Hold an instance in FAULT for a reason the trackers cannot see, e.g. keepalived's "no IPv4
   * address for interface" or unicast_fault_no_peer; `undefined` clears it.
   */
  setInstanceFault(instance: string, reason: string | undefined, now: number): NodeAction[] {
    const m = this.members.get(instance);
    if (!m || m.externalFault === reason) return [];
    m.externalFault = reason;
    return this.retrack(now);
  }

  shutdown(now: number): NodeAction[] {
    const out: NodeAction[] = [];
    for (const name of this.members.keys()) this.run(name, { type: 'shutdown' }, now, out);
    this.settle(now, out);
    return out;
  }

  /** A reload removed this instance: resign if MASTER, notify DELETED (or FAULT), forget it. */
  deleteInstance(name: string, now: number): NodeAction[] {
    const out: NodeAction[] = [];
    const m = this.members.get(name);
    if (!m) return out;
    this.run(name, { type: 'delete' }, now, out);
    this.settle(now, out);
    this.members.delete(name);
    this.byKey.delete(key(m.cfg.interface, m.cfg.family, m.cfg.vrid));
    return out;
  }

  dispatch(instance: string, ev: FsmEvent, now: number): NodeAction[] {
    const out: NodeAction[] = [];
    if (!this.members.has(instance)) return out;
    this.run(instance, ev, now, out);
    this.settle(now, out);
    return out;
  }

  status(): { instances: Record<string, unknown>[]; groups: Record<string, string>; drops: DropCounters } {
    return {
      instances: [...this.members.values()].map((m) => ({ ...m.fsm.status(), tracking: m.tracking })),
      groups: Object.fromEntries([...this.groups].map(([n, g]) => [n, g.coord.state])),
      drops: { ...this.drops },
    };
  }

  // ---- internals ---------------------------------------------------------------------

  private receive(ifname: string, r: Decoded<RxPacket>, now: number): ReceiveResult {
    if (!r.ok) {
      this.drops[r.reason]++;
      return { drop: { reason: r.reason, detail: r.detail }, actions: [] };
    }
    const m = this.byKey.get(key(ifname, r.value.family, r.value.advert.vrid));
    if (!m) {
      this.drops['unknown-vrid']++;
      return { drop: { reason: 'unknown-vrid', detail: `VRID ${r.value.advert.vrid} on ${ifname}` }, actions: [] };
    }
    const out: NodeAction[] = [];
    const drop = this.run(m.cfg.name, { type: 'advert', packet: r.value }, now, out);
    this.settle(now, out);
    return { instance: m.cfg.name, ...(drop ? { drop } : {}), actions: out };
  }

  private retrack(now: number): NodeAction[] {
    const out: NodeAction[] = [];
    this.applyTracking(now, out);
    this.settle(now, out);
    return out;
  }

  private applyTracking(now: number, out: NodeAction[]): void {
    for (const [name, m] of this.members) {
      const t = computeTracking(m.spec, this.world);
      if (m.externalFault !== undefined) {
        t.fault = 'fault';
        t.reasons.unshift(m.externalFault);
      }
      const prev = m.tracking;
      m.tracking = t;
      if (prev?.priority !== t.priority) this.run(name, { type: 'priority', priority: t.priority }, now, out);
      if (prev?.fault !== t.fault || (t.fault !== 'ok' && prev?.reasons.join() !== t.reasons.join()))
        this.run(name, { type: 'fault', state: t.fault, reason: t.reasons.join('; ') }, now, out);
    }
  }

  private run(name: string, ev: FsmEvent, now: number, out: NodeAction[]): ReceiveResult['drop'] {
    const m = this.members.get(name);
    if (!m) return undefined;
    const res = m.fsm.handle(ev, now);
    for (const a of res.actions) this.emit(name, m, a, out);
    return res.drop;
  }

  private emit(name: string, m: Member, a: Action, out: NodeAction[]): void {
    const notify = (n: NotifyAction[]) => {
      for (const x of n) out.push({ type: 'notify', instance: name, notify: x });
    };
    switch (a.type) {
      case 'sendAdvert':
        try {
          out.push({ type: 'transmit', instance: name, priority: a.priority, packets: m.writer.write(a.priority, a.ahSeq) });
        } catch (e) {
          out.push({ type: 'log', instance: name, level: 'warn', message: `cannot encode advert: ${(e as Error).message}` });
        }
        return;
      case 'stateChange': {
        out.push({ ...a, instance: name });
        if (m.group) {
          const list = this.changes.get(m.group.name) ?? [];
          list.push({ member: name, from: a.from, to: a.to, reason: a.reason });
          this.changes.set(m.group.name, list);
        }
        if (a.to === 'INIT') return;
        const st: NotifyState = a.to === 'STOP' ? (a.reason === 'deleted' ? deletedState(m.cfg.notify) : 'STOP') : a.to;
        notify(instanceNotifies(name, m.cfg.notify, st, a.priority));
        return;
      }
      case 'priorityChange':
        out.push({ ...a, instance: name });
        if (m.cfg.notifyPriorityChanges && a.state !== 'INIT' && a.state !== 'STOP')
          notify(priorityChangeNotify(name, a.state === 'MASTER', a.to));
        return;
      case 'masterRxLowerPri':
        out.push({ ...a, instance: name });
        notify(masterRxLowerPriNotify(name, a.priority));
        return;
      default:
        out.push({ ...a, instance: name });
    }
  }

  /** Let sync groups react until nothing changes (bounded: each pass moves a group forward). */
  private settle(now: number, out: NodeAction[]): void {
    if (!this.started) return;
    for (let pass = 0; pass < 64; pass++) {
      let busy = false;
      for (const [gname, g] of this.groups) {
        const changes = this.changes.get(gname) ?? [];
        this.changes.delete(gname);
        const r = g.coord.reconcile(changes);
        // keepalived order: the other members transition (and notify) first, then the group notifies
        for (const f of r.forced) {
          busy = true;
          this.run(f.member, f.event, now, out);
        }
        for (const s of r.entered) {
          busy = true;
          if (s === 'INIT') continue;
          for (const n of groupNotifies(gname, g.notify, s)) out.push({ type: 'notify', group: gname, notify: n });
        }
      }
      if (!busy) return;
    }
    out.push({ type: 'log', instance: '', level: 'warn', message: 'sync groups did not settle after 64 passes' });
  }
}

function key(ifname: string, family: string, vrid: number): string {
  return `${ifname}|${family}|${vrid}`;
}
