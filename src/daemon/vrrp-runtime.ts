// The VRRP edge: binds the pure VrrpNode (src/vrrp) to raw sockets, one timer queue, rtnetlink
// (VIPs, link state), AF_PACKET (GARP/NA) and the notify sink. Order matters in two places:
// - VIP changes and the GARPs that announce them run on one chain per instance, so a GARP
//   never leaves before its address is on the interface, and a removal never overtakes an add;
// - adverts and timers never wait for netlink: they run synchronously in the node's order.
import type { Config, VirtualIp, VrrpInstance } from '../config/model.js';
import { VrrpNode, type NodeAction, type TimerName, type VrrpState } from '../vrrp/index.js';
import { VrrpSocketPool, type VrrpPacket, type VrrpSocket } from '../net/vrrp-socket.js';
import { PacketSocket } from '../net/packet-socket.js';
import { RtnlClient, RtnlMonitor } from '../net/rtnetlink/client.js';
import { interfaceInfoFrom, type InterfaceInfo } from '../net/interfaces.js';
import type { AddressSpec, AddrInfo, LinkInfo, RtnlEvent } from '../net/rtnetlink/codec.js';
import { buildGarp, buildUnsolicitedNa } from '../net/arp.js';
import { TimerQueue } from './timers.js';
import { warmVrrpPaths } from './vrrp-warmup.js';
import type { Logger } from './log.js';
import { PeriodicScript, vrrpScriptSpec } from './periodic-script.js';
import { scriptSucceeded, describeResult, type RunScript } from './scripts.js';
import { TrackFileWatcher } from './track-file.js';

/** Where notify actions go (scripts and FIFO lines), in order. */
export interface NotifySink {
  script(key: string, command: string, args: string[], user: { user: string; group?: string } | undefined, timeoutMs?: number): void;
  /** one FIFO line (no newline): 'vrrp' lines go to vrrp_notify_fifo, 'lvs' to lvs_notify_fifo, both to notify_fifo */
  fifo(line: string, channel: 'vrrp' | 'lvs'): void;
  close?(): void;
  /** resolves when queued scripts with a timeout (STOP notifies) are done */
  drain?(timeoutMs: number): Promise<void>;
}

export interface StateChange {
  instance: string;
  from: VrrpState;
  to: VrrpState;
  reason: string;
  priority: number;
  at: number;
}

export interface VrrpRuntimeOptions {
  log: Logger;
  notify: NotifySink;
  onStateChange?: (c: StateChange) => void;
  clock?: () => number;
  /** keepalived -V: leave the VIPs in place at shutdown */
  keepVipsOnStop?: boolean;
  /** runs vrrp_script checks (the daemon's ScriptRunner) */
  runScript?: RunScript;
}

const SEP = '\u0000';

function scopeOf(s: string): NonNullable<AddressSpec['scope']> {
  if (/^\d+$/.test(s)) return Number(s);
  if (s === 'nowhere') return 255;
  return s as 'global' | 'site' | 'link' | 'host';
}

export class VrrpRuntime {
  private node!: VrrpNode;
  private readonly rtnl = new RtnlClient();
  private monitor: RtnlMonitor | null = null;
  private readonly pool: VrrpSocketPool;
  private readonly sockets = new Map<string, { socket: VrrpSocket; release: () => void }>();
  private readonly packetSockets = new Map<string, PacketSocket>();
  private readonly timers: TimerQueue;
  private readonly chains = new Map<string, Promise<void>>();
  /** unfinished steps per instance chain (0: idle, the next step starts at once) */
  private readonly chainDepth = new Map<string, number>();
  private links = new Map<number, LinkInfo>();
  private addrs: AddrInfo[] = [];
  private readonly clock: () => number;
  private readonly log: Logger;
  private readonly states = new Map<string, StateChange>();
  private stopping = false;
  private readonly periodic: PeriodicScript[] = [];
  private readonly fileWatchers: TrackFileWatcher[] = [];
  /** interfaces whose state the node tracks (instance interfaces + track_interface) */
  private readonly watched = new Set<string>();
  readonly counters = { advertsSent: 0, sendErrors: 0, received: 0, dropped: 0, vipErrors: 0, garpsSent: 0, garpErrors: 0 };

  constructor(
    private readonly cfg: Config,
    private readonly opts: VrrpRuntimeOptions,
  ) {
    this.clock = opts.clock ?? (() => performance.now());
    this.log = opts.log;
    this.pool = new VrrpSocketPool({ clock: this.clock, onError: (e) => this.log.warn({ err: e.message }, 'VRRP socket error') });
    // the master-down timer fires at its deadline, not up to a millisecond late: that is outage
    const masterDown = `${SEP}masterDown`;
    this.timers = new TimerQueue(
      (key, now) => {
        const [inst, timer] = key.split(SEP) as [string, TimerName];
        // an advert that arrived before the deadline but is still queued (the loop stalled) counts
        if (timer === 'masterDown') for (const s of this.sockets.values()) s.socket.poll();
        this.exec(this.node.timerFired(inst, timer, now));
      },
      this.clock,
      undefined,
      (key) => key.endsWith(masterDown),
    );
  }

  async start(): Promise<void> {
    const cfg = this.cfg;
    // subscribe before listing, so no link change falls in between
    this.monitor = new RtnlMonitor((ev) => this.onRtnl(ev), {
      onOverrun: () => void this.relist().catch((e) => this.log.error({ err: (e as Error).message }, 'relist after netlink overrun failed')),
      onError: (e) => this.log.warn({ err: e.message }, 'rtnetlink monitor error'),
    });
    this.monitor.keepAlive(true);
    await this.relist();
    const vipSet = new Set(cfg.instances.flatMap((i) => [...i.virtualIps, ...i.virtualIpsExcluded].map((v) => v.address)));
    const facts = new Map<string, InterfaceInfo>();
    const info = (name: string): InterfaceInfo | undefined => {
      if (!facts.has(name)) {
        const link = [...this.links.values()].find((l) => l.name === name);
        if (link) facts.set(name, interfaceInfoFrom(link, this.addrs, vipSet));
      }
      return facts.get(name);
    };
    const noAddress: { inst: string; reason: string }[] = [];
    this.node = new VrrpNode(cfg, (inst: VrrpInstance) => {
      const i = info(inst.interface);
      const own = inst.family === 'inet' ? i?.primaryIpv4 : i?.ipv6LinkLocal;
      const configured = inst.unicastSrcIp ?? inst.mcastSrcIp;
      if (!own && !configured) {
        noAddress.push({
          inst: inst.name,
          reason: i ? `no ${inst.family === 'inet' ? 'IPv4' : 'IPv6 link-local'} address on ${inst.interface}` : `interface ${inst.interface} not found`,
        });
      }
      // the node needs an address to build adverts; a FAULT below keeps it from sending
      return { primaryAddress: configured ?? own ?? (inst.family === 'inet' ? '0.0.0.0' : '::') };
    });
    for (const w of this.node.warnings) this.log.warn(w);
    for (const inst of cfg.instances) {
      this.watched.add(inst.interface);
      for (const t of inst.trackInterfaces) this.watched.add(t.name);
    }
    for (const g of Object.values(cfg.syncGroups)) for (const t of g.trackInterfaces) this.watched.add(t.name);
    const now = this.clock();
    for (const name of this.watched) this.exec(this.node.setInterface(name, this.isUp(name), now));
    for (const { inst, reason } of noAddress) this.exec(this.node.setInstanceFault(inst, reason, now));
    this.openSockets(info);
    // the takeover path (adverts, VIP add, GARPs) must not pay for compilation or socket setup
    warmVrrpPaths(cfg);
    for (const inst of cfg.instances) {
      for (const t of this.node.instanceConfig(inst.name)?.garpTargets ?? []) {
        if (!this.packetSockets.has(t.dev) && this.ifindexOf(t.dev) !== undefined) this.packetSocket(t.dev);
      }
    }
    this.startTrackers();
    for (const r of cfg.instances.flatMap((i) => i.virtualRoutes.concat(i.virtualRules).map((x) => ({ i, x })))) {
      this.log.warn({ instance: r.i.name, line: r.x.loc.line }, `virtual_routes/virtual_rules are not applied by lvsd yet: "${r.x.text}"`);
    }
    this.exec(this.node.start(this.clock()));
  }

  /** vrrp_script runs and track_file watches for the objects some instance or group tracks. */
  private startTrackers(): void {
    const cfg = this.cfg;
    const holders = [...cfg.instances, ...Object.values(cfg.syncGroups)];
    const scripts = new Set(holders.flatMap((h) => h.trackScripts.map((t) => t.name)));
    const files = new Set(holders.flatMap((h) => h.trackFiles.map((t) => t.name)));
    for (const name of scripts) {
      const s = cfg.vrrpScripts[name];
      if (!s || !this.opts.runScript) continue;
      let last: boolean | undefined;
      const p = new PeriodicScript(this.opts.runScript, vrrpScriptSpec(s), {
        name,
        intervalMs: s.intervalMs,
        onResult: (r) => {
          const ok = scriptSucceeded(r);
          if (ok !== last) this.log.info({ event: 'script', script: name, ok, result: describeResult(r) }, `vrrp_script ${name}: ${ok ? 'success' : 'failure'}`);
          last = ok;
          if (!this.stopping) this.exec(this.node.scriptResult(name, ok, this.clock()));
        },
        log: (level, msg) => this.log[level]({ script: name }, msg),
      });
      this.periodic.push(p);
      p.start();
    }
    for (const name of files) {
      const f = cfg.trackFiles[name];
      if (!f) continue;
      const w = new TrackFileWatcher(f, (value) => {
        if (!this.stopping) this.exec(this.node.trackFileValue(name, value, this.clock()));
      }, (msg) => this.log.warn({ trackFile: name }, msg));
      this.fileWatchers.push(w);
      w.start();
    }
  }

  private openSockets(info: (name: string) => InterfaceInfo | undefined): void {
    const byKey = new Map<string, { ifname: string; family: 'inet' | 'inet6'; groups: Set<string>; ah: boolean; source?: string }>();
    for (const inst of this.cfg.instances) {
      const ic = this.node.instanceConfig(inst.name);
      if (!ic || !info(inst.interface)) continue;
      const k = `${inst.interface}${SEP}${inst.family}`;
      const e = byKey.get(k) ?? { ifname: inst.interface, family: inst.family, groups: new Set<string>(), ah: false };
      if (inst.unicastPeers.length === 0) for (const d of ic.destinations) e.groups.add(d);
      if (inst.auth.type === 'AH') e.ah = true;
      byKey.set(k, e);
    }
    for (const [k, e] of byKey) {
      try {
        const s = this.pool.acquire({ ifname: e.ifname, family: e.family, groups: [...e.groups], ah: e.ah });
        s.socket.setLocalAddresses(this.addrs.filter((a) => a.ifindex === s.socket.ifindex).map((a) => a.address));
        s.socket.listen('*', (p) => this.onPacket(e.ifname, p));
        this.sockets.set(k, s);
      } catch (err) {
        this.log.error({ ifname: e.ifname, family: e.family, err: (err as Error).message }, 'cannot open VRRP socket; instances on it go to FAULT');
        const now = this.clock();
        for (const inst of this.cfg.instances.filter((i) => i.interface === e.ifname && i.family === e.family)) {
          this.exec(this.node.setInstanceFault(inst.name, `no VRRP socket: ${(err as Error).message}`, now));
        }
      }
    }
  }

  private onPacket(ifname: string, p: VrrpPacket): void {
    if (p.fromSelf || this.stopping) return;
    this.counters.received++;
    const now = this.clock();
    const r =
      p.family === 'inet'
        ? this.node.receiveIpv4(ifname, p.datagram ?? p.payload, now)
        : this.node.receiveIpv6(ifname, p.payload, { src: p.src, dst: p.dst, hopLimit: p.ttl }, now);
    if (r.drop) {
      this.counters.dropped++;
      this.log.debug({ ifname, src: p.src, reason: r.drop.reason, detail: r.drop.detail }, 'advert dropped');
    }
    this.exec(r.actions);
  }

  private async relist(): Promise<void> {
    const links = await this.rtnl.listLinks();
    this.links = new Map(links.map((l) => [l.ifindex, l]));
    this.addrs = await this.rtnl.listAddresses();
    if (this.node) {
      const now = this.clock();
      for (const name of this.watched) this.exec(this.node.setInterface(name, this.isUp(name), now));
    }
  }

  private isUp(name: string): boolean {
    const l = [...this.links.values()].find((x) => x.name === name);
    // keepalived: an interface is usable when it is up and has carrier
    return !!l && l.up && l.running && l.lowerUp;
  }

  private onRtnl(ev: RtnlEvent): void {
    if (ev.kind === 'link') {
      const prev = this.links.get(ev.link.ifindex);
      if (ev.action === 'del') this.links.delete(ev.link.ifindex);
      else this.links.set(ev.link.ifindex, ev.link);
      const name = ev.link.name;
      if (this.node && this.watched.has(name)) {
        const up = ev.action === 'new' && this.isUp(name);
        const was = !!prev && prev.up && prev.running && prev.lowerUp;
        if (up !== was) {
          this.log.info({ ifname: name, up }, `interface ${name} is ${up ? 'up' : 'down'}`);
          this.exec(this.node.setInterface(name, up, this.clock()));
        }
      }
    } else {
      const a = ev.addr;
      this.addrs = this.addrs.filter((x) => !(x.ifindex === a.ifindex && x.address === a.address && x.prefixLen === a.prefixLen));
      if (ev.action === 'new') this.addrs.push(a);
      for (const s of this.sockets.values()) {
        if (s.socket.ifindex === a.ifindex) s.socket.setLocalAddresses(this.addrs.filter((x) => x.ifindex === a.ifindex).map((x) => x.address));
      }
    }
  }

  // ---- actions -----------------------------------------------------------------------

  private exec(actions: readonly NodeAction[]): void {
    for (let i = 0; i < actions.length; i++) {
      const a = actions[i]!;
      const b = actions[i + 1];
      try {
        if (a.type === 'addVips' && b?.type === 'sendGarp' && b.instance === a.instance) {
          // a takeover: one step, so the GARPs leave as soon as the VIPs are added (the log lines after)
          this.chain(a.instance, () => this.vips(a.instance, 'add', [...a.vips, ...a.excluded], () => this.garps(b.sends)));
          i++;
          continue;
        }
        this.execOne(a);
      } catch (e) {
        this.log.error({ action: a.type, err: (e as Error).message }, 'VRRP action failed');
      }
    }
  }

  private execOne(a: NodeAction): void {
    switch (a.type) {
      case 'transmit':
        this.transmit(a.instance, a.packets);
        return;
      case 'startTimer':
        this.timers.set(`${a.instance}${SEP}${a.timer}`, a.at);
        return;
      case 'stopTimer':
        this.timers.clear(`${a.instance}${SEP}${a.timer}`);
        return;
      case 'addVips':
        this.chain(a.instance, () => this.vips(a.instance, 'add', [...a.vips, ...a.excluded]));
        return;
      case 'removeVips':
        this.chain(a.instance, () => this.vips(a.instance, 'remove', [...a.vips, ...a.excluded]));
        return;
      case 'sendGarp':
        this.chain(a.instance, async () => this.garps(a.sends));
        return;
      case 'notify': {
        const n = a.notify;
        const key = a.group ? `group:${a.group}` : `instance:${a.instance}`;
        if (n.kind === 'fifo') this.opts.notify.fifo(n.line.endsWith('\n') ? n.line.slice(0, -1) : n.line, 'vrrp');
        else this.opts.notify.script(key, n.command, n.args, n.user, n.timeoutMs);
        return;
      }
      case 'stateChange': {
        const c: StateChange = { instance: a.instance, from: a.from, to: a.to, reason: a.reason, priority: a.priority, at: Date.now() };
        this.states.set(a.instance, c);
        this.log.info({ event: 'state', instance: a.instance, from: a.from, to: a.to, reason: a.reason, priority: a.priority }, `${a.instance}: ${a.from} -> ${a.to} (${a.reason})`);
        this.opts.onStateChange?.(c);
        return;
      }
      case 'priorityChange':
        this.log.info({ event: 'priority', instance: a.instance, from: a.from, to: a.to, state: a.state }, `${a.instance}: priority ${a.from} -> ${a.to}`);
        return;
      case 'masterRxLowerPri':
        this.log.info({ instance: a.instance, peer: a.peer, peerPriority: a.peerPriority }, `${a.instance}: master received a lower-priority advert`);
        return;
      case 'log':
        this.log[a.level]({ instance: a.instance }, a.message);
        return;
    }
  }

  private transmit(instance: string, packets: readonly { family: 'inet' | 'inet6'; src: string; dst: string; bytes: Uint8Array; ipHeaderIncluded: boolean; ttl: number }[]): void {
    const inst = this.node.instanceConfig(instance);
    if (!inst) return;
    const s = this.sockets.get(`${inst.interface}${SEP}${inst.family}`);
    if (!s) return;
    for (const p of packets) {
      const r = s.socket.send(p.bytes, { to: [p.dst], src: p.src, ttl: p.ttl, ipHeaderIncluded: p.ipHeaderIncluded });
      this.counters.advertsSent += r.sent;
      if (r.failed.length) {
        this.counters.sendErrors += r.failed.length;
        this.log.debug({ instance, dst: p.dst, err: r.failed[0]!.error.message }, 'advert send failed');
      }
    }
  }

  private chain(instance: string, step: () => Promise<void>): void {
    const depth = this.chainDepth.get(instance) ?? 0;
    this.chainDepth.set(instance, depth + 1);
    const run = (): Promise<void> => {
      try {
        return step();
      } catch (e) {
        return Promise.reject(e);
      }
    };
    // an idle chain starts the step in this turn: a takeover's VIP add (and, once it is
    // acknowledged, its GARPs) must not wait behind the rest of the action batch and its logging
    const started = depth === 0 ? run() : this.chains.get(instance)!.then(run);
    const next = started
      .catch((e) => this.log.error({ instance, err: (e as Error).message }, 'VIP/GARP step failed'))
      .finally(() => {
        const d = (this.chainDepth.get(instance) ?? 1) - 1;
        if (d > 0) this.chainDepth.set(instance, d);
        else this.chainDepth.delete(instance);
      });
    this.chains.set(instance, next);
  }

  private ifindexOf(dev: string): number | undefined {
    for (const l of this.links.values()) if (l.name === dev) return l.ifindex;
    return undefined;
  }

  /**
   * Add or remove the VIPs; `then` runs once the kernel has them (before any log line).
   * An add is applied by the kernel inside the sendmsg() of its RTM_NEWADDR (rtnetlink runs in
   * the sender's context), so a takeover's GARPs go out right after the requests are sent, not
   * after their ACKs have been read back: that saves an event-loop turn per takeover. The ACKs
   * are still collected, for errors and logs.
   */
  private async vips(instance: string, op: 'add' | 'remove', list: readonly VirtualIp[], then?: () => Promise<void>): Promise<void> {
    const inst = this.cfg.instances.find((i) => i.name === instance);
    if (!inst) return then?.();
    const done: (() => void)[] = [];
    const pending: Promise<void>[] = [];
    for (const v of list) {
      const dev = v.dev ?? inst.interface;
      const ifindex = this.ifindexOf(dev);
      if (ifindex === undefined) {
        if (op === 'add') this.log.error({ instance, vip: v.address, dev }, `cannot add ${v.address}: interface ${dev} not found`);
        continue;
      }
      const spec: AddressSpec = { ifindex, address: v.address, prefixLen: v.prefixLen };
      if (v.brd) spec.broadcast = v.brd;
      if (v.label) spec.label = v.label;
      if (v.peer) spec.peer = v.peer;
      if (v.scope) spec.scope = scopeOf(v.scope);
      // keepalived adds IPv6 VIPs with nodad: a VIP must be usable at once after a takeover
      if (v.family === 'inet6') spec.nodad = true;
      const failed = (e: unknown): void => {
        this.counters.vipErrors++;
        this.log.error({ instance, vip: v.address, dev, op, err: (e as Error).message }, `cannot ${op} VIP`);
      };
      if (op === 'add') {
        // not awaited here: the request is sent (and applied) now, its ACK is read below
        pending.push(
          this.rtnl.addAddress(spec, { ignoreExisting: true }).then(
            (added) => void done.push(() => this.log.info({ event: 'vip', instance, vip: `${v.address}/${v.prefixLen}`, dev, op, changed: added }, `${instance}: added ${v.address}/${v.prefixLen} on ${dev}`)),
            failed,
          ),
        );
      } else {
        try {
          const removed = await this.rtnl.deleteAddress(spec, { ignoreMissing: true });
          if (removed) done.push(() => this.log.info({ event: 'vip', instance, vip: `${v.address}/${v.prefixLen}`, dev, op }, `${instance}: removed ${v.address}/${v.prefixLen} from ${dev}`));
        } catch (e) {
          failed(e);
        }
      }
    }
    try {
      await then?.();
    } finally {
      await Promise.all(pending);
      for (const f of done) f();
    }
  }

  private packetSocket(dev: string): PacketSocket | undefined {
    let p = this.packetSockets.get(dev);
    if (!p) {
      try {
        p = new PacketSocket({ ifname: dev });
        p.unref();
        this.packetSockets.set(dev, p);
      } catch (e) {
        this.log.error({ dev, err: (e as Error).message }, 'cannot open packet socket for GARP/NA');
        return undefined;
      }
    }
    return p;
  }

  private async garps(sends: readonly { at: number; kind: 'garp' | 'na'; address: string; dev: string }[]): Promise<void> {
    const now = this.clock();
    for (const s of sends) {
      const delay = s.at - now;
      if (delay > 1) setTimeout(() => this.sendGarp(s.kind, s.address, s.dev), delay);
      else this.sendGarp(s.kind, s.address, s.dev);
    }
  }

  private sendGarp(kind: 'garp' | 'na', address: string, dev: string): void {
    if (this.stopping) return;
    const ifindex = this.ifindexOf(dev);
    const link = ifindex !== undefined ? this.links.get(ifindex) : undefined;
    const ps = this.packetSocket(dev);
    if (!link || !ps || !link.mac) return;
    const frame = kind === 'garp' ? buildGarp({ mac: link.mac, ip: address }) : buildUnsolicitedNa({ mac: link.mac, ip: address });
    const err = ps.trySend(frame);
    if (err) {
      this.counters.garpErrors++;
      this.log.debug({ dev, address, err: err.message }, 'GARP/NA send failed');
    } else this.counters.garpsSent++;
  }

  // ---- status and shutdown -----------------------------------------------------------

  status(): Record<string, unknown> {
    return {
      ...this.node.status(),
      counters: { ...this.counters },
      lastChange: Object.fromEntries(this.states),
    };
  }

  stateOf(instance: string): VrrpState | undefined {
    return this.node?.instance(instance)?.status().state as VrrpState | undefined;
  }

  /** SIGTERM: priority-0 adverts, VIPs removed (unless kept), STOP notifies, sockets closed. */
  async stop(): Promise<void> {
    if (!this.node) return;
    const actions = this.node.shutdown(this.clock());
    const keep = this.opts.keepVipsOnStop;
    this.exec(keep ? actions.filter((a) => a.type !== 'removeVips') : actions);
    this.stopping = true;
    this.timers.stop();
    for (const p of this.periodic) p.stop();
    for (const w of this.fileWatchers) w.stop();
    await Promise.all([...this.chains.values()]);
    await this.opts.notify.drain?.(5000);
    this.monitor?.close();
    for (const s of this.sockets.values()) s.release();
    this.sockets.clear();
    for (const p of this.packetSockets.values()) p.close();
    this.rtnl.close();
  }
}
