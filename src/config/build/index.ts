// From statements to the typed model: top-level dispatch, then finishing each element with
// keepalived's defaults and inheritance rules.
import type { CheckPolicy, Config, Family, RealServer, SyncGroup, TrackFile, VirtualServer, VrrpInstance, VrrpScript } from '../model.js';
import type { Diagnostics } from '../diagnostics.js';
import type { Stmt } from '../tree.js';
import { Ctx } from './context.js';
import { defaultGlobals, defaultLvsd, globalHandlers, IGNORED_GLOBAL, lvsdHandlers } from './global.js';
import {
  IGNORED_INSTANCE,
  IGNORED_SYNC_GROUP,
  type InstanceDraft,
  instanceHandlers,
  newInstance,
  newSyncGroup,
  newTrackFile,
  newVrrpScript,
  syncGroupHandlers,
  trackFileHandlers,
  vrrpScriptHandlers,
} from './vrrp.js';
import { IGNORED_VS, newVsDraft, parseVsAddress, parseVsGroup, type VirtualServerDraft, vsHandlers } from './lvs.js';
import { finishChecker, type ResolvedTimers } from './checkers.js';

/** keepalived top-level blocks lvsd does not implement */
const IGNORED_TOP = new Set([
  'linkbeat_interfaces', 'interface_up_down_delays', 'track_group', 'static_ipaddress', 'static_routes',
  'static_rules', 'vrrp_track_process', 'bfd_instance', 'garp_group', 'SSL', 'vrrp_script_group',
]);

const NAMED = new Set(['vrrp_script', 'track_file', 'vrrp_track_file', 'vrrp_sync_group', 'vrrp_instance', 'virtual_server_group']);

// keepalived defaults (keepalived.conf(5))
const DEFAULT_DELAY_LOOP_MS = 60_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
const DEFAULT_DELAY_BEFORE_RETRY_MS = 1000;

/**
 * Builds the model from top-level statements as they complete. Virtual servers, the bulk of a
 * large config, are built at once so their tokens can be dropped; the few named VRRP blocks
 * are kept until the end because keepalived applies global_defs wherever it stands.
 */
export class ConfigBuilder {
  private readonly c: Ctx;
  private readonly cfg: Config;
  private readonly deferred = new Map<string, Stmt[]>();
  /** virtual_server group X seen before virtual_server_group X */
  private readonly vsForward: { s: Stmt; seq: number }[] = [];
  private readonly vsSeq = new Map<VirtualServer, number>();
  private seq = 0;
  /** smtp_alert written on the element (undefined = inherit the global default at the end) */
  private readonly smtpExplicit = new Map<{ smtpAlert: boolean }, boolean | undefined>();

  constructor(diags: Diagnostics) {
    this.c = new Ctx(diags);
    this.cfg = {
      global: defaultGlobals(),
      lvsd: defaultLvsd(),
      vrrpScripts: {},
      trackFiles: {},
      syncGroups: {},
      instances: [],
      virtualServerGroups: {},
      virtualServers: [],
      files: [],
    };
  }

  add(s: Stmt): void {
    const c = this.c;
    const k = s.name.text;
    if (k === 'global_defs') {
      const b = c.block(s);
      if (b) c.dispatch(b, globalHandlers, this.cfg.global, 'global_defs', IGNORED_GLOBAL);
    } else if (k === 'lvsd_defs') {
      const b = c.block(s);
      this.cfg.lvsd.loc = c.loc(s);
      if (b) c.dispatch(b, lvsdHandlers, this.cfg.lvsd, 'lvsd_defs');
    } else if (k === 'virtual_server_group') {
      this.named('virtual_server_group', [s], this.cfg.virtualServerGroups, (_n, st) => parseVsGroup(st, c));
    } else if (k === 'virtual_server') {
      this.virtualServer(s, this.seq++);
    } else if (NAMED.has(k)) {
      if (!this.deferred.has(k)) this.deferred.set(k, []);
      this.deferred.get(k)!.push(s);
    } else if (IGNORED_TOP.has(k)) c.diags.warning(c.loc(s), `${k} is a keepalived block lvsd does not support; ignored`);
    else c.diags.warning(c.loc(s), `unknown top-level keyword "${k}"; ignored`);
  }

  private virtualServer(s: Stmt, seq: number, final = false): void {
    const c = this.c;
    const addr = parseVsAddress(s, c);
    if (!addr) return;
    if (addr.kind === 'group' && !final && !Object.prototype.hasOwnProperty.call(this.cfg.virtualServerGroups, addr.group)) {
      this.vsForward.push({ s, seq });
      return;
    }
    const d = newVsDraft(addr, c.loc(s));
    const b = c.block(s);
    if (!b) return;
    c.dispatch(b, vsHandlers, d, 'virtual_server', IGNORED_VS);
    const vs = finishVirtualServer(d, this.cfg, c, (obj, explicit) => this.smtpExplicit.set(obj, explicit));
    if (!vs) return;
    this.vsSeq.set(vs, seq);
    this.cfg.virtualServers.push(vs);
  }

  private named<T>(kind: string, stmts: readonly Stmt[], into: Record<string, T>, make: (name: string, s: Stmt) => T | undefined): void {
    const c = this.c;
    for (const s of stmts) {
      const name = s.args[0]?.text;
      if (!name) {
        c.diags.error(c.loc(s), `${kind} needs a name`);
        continue;
      }
      if (s.args.length > 1) c.diags.warning(c.loc(s, 1), `${kind} ${name}: extra words ignored`);
      if (Object.prototype.hasOwnProperty.call(into, name)) {
        c.diags.error(c.loc(s, 0), `${kind} ${name} is defined twice; the second definition is ignored`);
        continue;
      }
      const v = make(name, s);
      if (v !== undefined) into[name] = v;
    }
  }

  finish(files: string[]): Config {
    const c = this.c;
    const cfg = this.cfg;
    cfg.files = files;
    const each = (k: string): Stmt[] => this.deferred.get(k) ?? [];
    this.named<VrrpScript>('vrrp_script', each('vrrp_script'), cfg.vrrpScripts, (name, s) => {
      const v = newVrrpScript(name, c.loc(s));
      const b = c.block(s);
      if (!b) return undefined;
      c.dispatch(b, vrrpScriptHandlers, v, `vrrp_script ${name}`);
      if (!v.script) {
        c.diags.error(v.loc, `vrrp_script ${name} has no script; ignored`);
        return undefined;
      }
      if (v.timeoutMs === 0) v.timeoutMs = v.intervalMs;
      return v;
    });
    const trackFile = (name: string, s: Stmt): TrackFile | undefined => {
      const t = newTrackFile(name, c.loc(s));
      const b = c.block(s);
      if (!b) return undefined;
      c.dispatch(b, trackFileHandlers, t, `track_file ${name}`);
      if (!t.file) {
        c.diags.error(t.loc, `track_file ${name} has no file; ignored`);
        return undefined;
      }
      return t;
    };
    this.named<TrackFile>('track_file', each('track_file'), cfg.trackFiles, trackFile);
    this.named<TrackFile>('vrrp_track_file', each('vrrp_track_file'), cfg.trackFiles, trackFile);
    this.named<SyncGroup>('vrrp_sync_group', each('vrrp_sync_group'), cfg.syncGroups, (name, s) => {
      const g = newSyncGroup(name, c.loc(s));
      const b = c.block(s);
      if (!b) return undefined;
      c.dispatch(b, syncGroupHandlers, g, `vrrp_sync_group ${name}`, IGNORED_SYNC_GROUP);
      return g;
    });
    const instances: Record<string, InstanceDraft> = {};
    this.named<InstanceDraft>('vrrp_instance', each('vrrp_instance'), instances, (name, s) => {
      const d = newInstance(name, c.loc(s), cfg.global);
      const b = c.block(s);
      if (!b) return undefined;
      // the interface is needed to key VIPs: read it first wherever it stands
      const iface = b.filter((x) => x.name.text === 'interface');
      const rest = b.filter((x) => x.name.text !== 'interface');
      c.dispatch([...iface, ...rest], instanceHandlers, d, `vrrp_instance ${name}`, IGNORED_INSTANCE);
      return d;
    });
    for (const d of Object.values(instances)) {
      const inst = finishInstance(d, c);
      if (inst) cfg.instances.push(inst);
    }
    for (const { s, seq } of this.vsForward) this.virtualServer(s, seq, true);
    if (this.vsForward.length) cfg.virtualServers.sort((a, b) => this.vsSeq.get(a)! - this.vsSeq.get(b)!);
    // smtp_alert: element > virtual server > global smtp_alert_checker / smtp_alert
    const dflt = cfg.global.smtpAlertChecker || cfg.global.smtpAlert;
    for (const [obj, explicit] of this.smtpExplicit) obj.smtpAlert = explicit ?? dflt;
    return cfg;
  }
}

export function buildConfig(stmts: readonly Stmt[], files: string[], diags: Diagnostics): Config {
  const b = new ConfigBuilder(diags);
  for (const s of stmts) b.add(s);
  return b.finish(files);
}

function finishInstance(d: InstanceDraft, c: Ctx): VrrpInstance | undefined {
  const inst = d.inst;
  if (!d.interfaceSet) {
    c.diags.error(inst.loc, `vrrp_instance ${inst.name} has no interface; instance ignored`);
    return undefined;
  }
  if (!d.vridSet) {
    c.diags.error(inst.loc, `vrrp_instance ${inst.name} has no virtual_router_id; instance ignored`);
    return undefined;
  }
  // address family: from the first VIP (keepalived), else from a source address or peer
  const first = inst.virtualIps[0] ?? inst.virtualIpsExcluded[0];
  const fam: Family =
    inst.family === 'inet6'
      ? 'inet6'
      : first?.family ?? (inst.unicastPeers[0]?.address.includes(':') || inst.unicastSrcIp?.includes(':') || inst.mcastSrcIp?.includes(':') ? 'inet6' : 'inet');
  inst.family = fam;
  inst.virtualIps = inst.virtualIps.filter((v) => {
    if (v.family === fam) return true;
    c.diags.error(v.loc, `${v.address} is ${v.family === 'inet' ? 'IPv4' : 'IPv6'} but vrrp_instance ${inst.name} is ${fam === 'inet' ? 'IPv4' : 'IPv6'}: put other-family addresses in virtual_ipaddress_excluded; address ignored`);
    return false;
  });
  inst.unicastPeers = inst.unicastPeers.filter((p) => {
    if ((p.address.includes(':') ? 'inet6' : 'inet') === fam) return true;
    c.diags.error(p.loc, `unicast_peer ${p.address} is not of the instance's address family; ignored`);
    return false;
  });
  for (const f of ['unicastSrcIp', 'mcastSrcIp'] as const) {
    const v = inst[f];
    if (v !== undefined && (v.includes(':') ? 'inet6' : 'inet') !== fam) {
      c.diags.error(inst.loc, `${f === 'unicastSrcIp' ? 'unicast_src_ip' : 'mcast_src_ip'} ${v} is not of the instance's address family; ignored`);
      delete inst[f];
    }
  }
  if (fam === 'inet6' && inst.version === 2) {
    if (d.versionSet) c.diags.error(d.versionSet, `vrrp_instance ${inst.name}: IPv6 needs VRRP version 3; using version 3`);
    inst.version = 3;
  }
  // advert_int: v2 in whole seconds, v3 in 10 ms steps 0.01..40.95 s (keepalived's rules)
  if (d.advertRaw) {
    const { value, loc } = d.advertRaw;
    if (inst.version === 2) {
      const rounded = Math.max(1000, Math.round(value / 1000) * 1000);
      if (rounded !== value) c.diags.error(loc, `advert_int ${value / 1000} s: VRRPv2 adverts are whole seconds; using ${rounded / 1000} s`);
      inst.advertIntMs = rounded;
    } else {
      let cs = Math.round(value / 10);
      if (cs * 10 !== value) c.diags.warning(loc, `advert_int ${value / 1000} s: VRRPv3 uses 10 ms steps; using ${cs / 100} s`);
      if (cs < 1 || cs > 4095) {
        cs = Math.min(4095, Math.max(1, cs));
        c.diags.error(loc, `advert_int ${value / 1000} s is outside VRRPv3's 0.01..40.95 s; using ${cs / 100} s`);
      }
      inst.advertIntMs = cs * 10;
    }
  }
  if (inst.version === 3 && inst.auth.type !== 'none') {
    c.diags.error(d.authLoc ?? inst.loc, `vrrp_instance ${inst.name}: VRRPv3 has no authentication; authentication ignored`);
    inst.auth = { type: 'none' };
  }
  if (inst.auth.type === 'AH' && inst.initialState === 'MASTER') {
    c.diags.error(d.stateLoc ?? inst.loc, `vrrp_instance ${inst.name}: initial state MASTER is incompatible with AH authentication; using BACKUP (as keepalived)`);
    inst.initialState = 'BACKUP';
  }
  if (inst.priority === 255 && inst.initialState === 'BACKUP' && d.stateLoc) {
    c.diags.warning(d.priorityLoc ?? inst.loc, `vrrp_instance ${inst.name}: priority 255 makes this router the address owner; it starts as MASTER despite state BACKUP`);
  }
  if (inst.priority === 255) inst.initialState = 'MASTER';
  if (!inst.preempt && inst.initialState === 'MASTER' && d.nopreemptLoc) {
    c.diags.warning(d.nopreemptLoc, `vrrp_instance ${inst.name}: nopreempt needs initial state BACKUP to have an effect (keepalived)`);
  }
  if (inst.preemptDelayMs > 0 && inst.initialState === 'MASTER' && d.preemptDelayLoc) {
    c.diags.warning(d.preemptDelayLoc, `vrrp_instance ${inst.name}: preempt_delay needs initial state BACKUP to have an effect (keepalived)`);
  }
  if (inst.strictMode) {
    if (inst.unicastPeers.length) c.diags.error(inst.loc, `vrrp_instance ${inst.name}: strict mode does not allow unicast peers`);
    if (inst.auth.type !== 'none') {
      c.diags.error(d.authLoc ?? inst.loc, `vrrp_instance ${inst.name}: strict mode does not allow authentication; ignored`);
      inst.auth = { type: 'none' };
    }
  }
  inst.id = `vrrp:${inst.interface}:${inst.family}:${inst.vrid}`;
  for (const v of [...inst.virtualIps, ...inst.virtualIpsExcluded]) v.key = `${v.address}/${v.prefixLen}@${v.dev ?? inst.interface}`;
  return inst;
}

function vsIdOf(d: VirtualServerDraft, protocol: string, family: Family): string {
  const a = d.address;
  if (a.kind === 'fwmark') return `vs:fwmark:${family}:${a.fwmark}`;
  if (a.kind === 'group') return `vs:group:${a.group}:${protocol}`;
  return `vs:${protocol}:[${a.address}]:${a.port}`;
}

type NoteSmtp = (obj: { smtpAlert: boolean }, explicit: boolean | undefined) => void;

function finishVirtualServer(d: VirtualServerDraft, cfg: Config, c: Ctx, noteSmtp: NoteSmtp): VirtualServer | undefined {
  let family: Family = d.address.family;
  if (d.address.kind === 'group') {
    const g = cfg.virtualServerGroups[d.address.group];
    if (!g) {
      c.diags.error(d.loc, `virtual_server group ${d.address.group}: no virtual_server_group of that name; virtual server ignored`);
      return undefined;
    }
    family = g.members[0]!.family;
    if (g.members.some((m) => m.family !== family)) c.diags.error(g.loc, `virtual_server_group ${g.name} mixes IPv4 and IPv6 members`);
    d.address = { ...d.address, family };
  }
  if (d.ipFamily && d.address.kind === 'fwmark') {
    family = d.ipFamily;
    d.address = { ...d.address, family };
  } else if (d.ipFamily && d.ipFamily !== family) c.diags.error(d.loc, `ip_family ${d.ipFamily} conflicts with the virtual server's address`);

  const protocol = d.protocol ?? 'TCP';
  if (d.protocol && d.address.kind === 'fwmark') c.diags.warning(d.protocolLoc!, 'protocol is ignored for a fwmark virtual server (as keepalived)');
  const scheduler = d.scheduler ?? 'wlc';
  const lbKind = d.lbKind ?? 'NAT';
  const id = vsIdOf(d, protocol, family);

  if (d.flags.ops && protocol !== 'UDP' && d.address.kind !== 'fwmark') {
    c.diags.error(d.flagLocs.ops!, 'one-packet scheduling (ops) needs protocol UDP; ignored');
    d.flags.ops = false;
  }
  if ((d.flags.shPort || d.flags.shFallback) && scheduler !== 'sh') c.diags.error(d.flagLocs.sh!, 'sh-port/sh-fallback only apply to the sh scheduler; ignored');
  if ((d.flags.mhPort || d.flags.mhFallback) && scheduler !== 'mh') c.diags.error(d.flagLocs.mh!, 'mh-port/mh-fallback only apply to the mh scheduler; ignored');
  const sched1 = d.flags.flag1 || (scheduler === 'sh' && d.flags.shFallback) || (scheduler === 'mh' && d.flags.mhFallback);
  const sched2 = d.flags.flag2 || (scheduler === 'sh' && d.flags.shPort) || (scheduler === 'mh' && d.flags.mhPort);

  let persistence = d.persistenceTimeoutS;
  if (d.address.kind === 'ip' && d.address.port === 0 && persistence === undefined) {
    c.diags.warning(d.loc, 'port 0 is only valid for a persistent service; using persistence_timeout 360 (as keepalived)');
    persistence = 360;
  }
  if (d.persistenceGranularity) {
    const v6 = /^\d+$/.test(d.persistenceGranularity);
    if (v6 !== (family === 'inet6')) c.diags.error(d.loc, `persistence_granularity ${d.persistenceGranularity} does not match the ${family === 'inet' ? 'IPv4' : 'IPv6'} virtual server`);
    if (persistence === undefined) persistence = 360;
  }

  const policy: CheckPolicy = {
    delayLoopMs: d.policy.delayLoopMs ?? DEFAULT_DELAY_LOOP_MS,
    connectTimeoutMs: d.policy.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    ...(d.policy.retry !== undefined ? { retry: d.policy.retry } : {}),
    delayBeforeRetryMs: d.policy.delayBeforeRetryMs ?? DEFAULT_DELAY_BEFORE_RETRY_MS,
    ...(d.policy.warmupMs !== undefined ? { warmupMs: d.policy.warmupMs } : {}),
    alpha: d.policy.alpha ?? false,
    inhibitOnFailure: d.policy.inhibitOnFailure ?? false,
  };

  const realServers: RealServer[] = [];
  const seen = new Set<string>();
  for (const r of d.realServers) {
    if (r.family !== family && (r.lbKind ?? lbKind) !== 'TUN') {
      c.diags.error(r.loc, `real_server ${r.address} is ${r.family === 'inet' ? 'IPv4' : 'IPv6'} but the virtual server is not; real server ignored`);
      continue;
    }
    const port = r.portGiven ? r.port : d.address.kind === 'ip' ? d.address.port : 0;
    const rsId = `${id}/rs:[${r.address}]:${port}`;
    if (seen.has(rsId)) {
      c.diags.error(r.loc, `real_server ${r.address} port ${port} is listed twice in this virtual server; ignored`);
      continue;
    }
    seen.add(rsId);
    // a real server without overrides shares its virtual server's policy object (37,000 real
    // servers, one object each, is measurable garbage at config time)
    const rp: CheckPolicy = Object.keys(r.policy).length === 0 ? policy : {
      delayLoopMs: r.policy.delayLoopMs ?? policy.delayLoopMs,
      connectTimeoutMs: r.policy.connectTimeoutMs ?? policy.connectTimeoutMs,
      ...(r.policy.retry ?? policy.retry) !== undefined ? { retry: (r.policy.retry ?? policy.retry)! } : {},
      delayBeforeRetryMs: r.policy.delayBeforeRetryMs ?? policy.delayBeforeRetryMs,
      ...(r.policy.warmupMs ?? policy.warmupMs) !== undefined ? { warmupMs: (r.policy.warmupMs ?? policy.warmupMs)! } : {},
      alpha: r.policy.alpha ?? policy.alpha,
      inhibitOnFailure: r.policy.inhibitOnFailure ?? policy.inhibitOnFailure,
    };
    // retry and delay_before_retry: written values only; each checker type has its own default
    const written = <K extends 'retry' | 'delayBeforeRetryMs'>(k: K): number | undefined => r.policy[k] ?? d.policy[k];
    const timers: ResolvedTimers = {
      connectTimeoutMs: rp.connectTimeoutMs,
      delayLoopMs: rp.delayLoopMs,
      ...(written('retry') !== undefined ? { retry: written('retry')! } : {}),
      ...(written('delayBeforeRetryMs') !== undefined ? { delayBeforeRetryMs: written('delayBeforeRetryMs')! } : {}),
      warmupMs: rp.warmupMs ?? rp.delayLoopMs,
      alpha: rp.alpha,
    };
    const vh = r.virtualhost ?? d.virtualhost;
    const checkers = r.checkers.flatMap((ch) => {
      const spec = finishChecker(ch, timers, c, vh);
      return spec ? [spec] : [];
    });
    const rsObj: RealServer = {
      id: rsId,
      address: r.address,
      family: r.family,
      port,
      weight: r.weight ?? 1,
      ...(r.lbKind ? { lbKind: r.lbKind } : {}),
      ...(r.tunnel ? { tunnel: r.tunnel } : {}),
      ...(r.uthreshold !== undefined ? { uthreshold: r.uthreshold } : {}),
      ...(r.lthreshold !== undefined ? { lthreshold: r.lthreshold } : {}),
      ...(r.notifyUp ? { notifyUp: r.notifyUp } : {}),
      ...(r.notifyDown ? { notifyDown: r.notifyDown } : {}),
      policy: rp,
      checkers,
      smtpAlert: false,
      loc: r.loc,
    };
    noteSmtp(rsObj, r.smtpAlert ?? d.smtpAlert);
    realServers.push(rsObj);
  }
  if (realServers.length === 0) {
    c.diags.warning(d.loc, 'virtual server has no real servers; ignored (as keepalived)');
    return undefined;
  }
  let quorum = d.quorum ?? 1;
  const totalWeight = realServers.reduce((a, r) => a + r.weight, 0);
  if (quorum > totalWeight && d.quorumLoc) {
    c.diags.warning(d.quorumLoc, `quorum ${quorum} exceeds the total weight ${totalWeight} of the real servers; the pool can never be up — using ${Math.max(1, totalWeight)}`);
    quorum = Math.max(1, totalWeight);
  }
  let hysteresis = d.hysteresis ?? 0;
  if (hysteresis >= quorum && hysteresis > 0) {
    c.diags.warning(d.loc, `hysteresis ${hysteresis} must be below quorum ${quorum}; using ${quorum - 1} (as keepalived)`);
    hysteresis = quorum - 1;
  }
  if (d.sorry && d.sorry.address.includes(':') !== (family === 'inet6') && (d.sorry.lbKind ?? lbKind) !== 'TUN') {
    c.diags.error(d.sorry.loc, 'sorry_server is not of the virtual server\'s address family; ignored');
    delete d.sorry;
  }
  const vs: VirtualServer = {
    id,
    address: d.address,
    protocol,
    scheduler,
    schedFlags: { flag1: sched1, flag2: sched2, flag3: d.flags.flag3, ops: d.flags.ops },
    lbKind,
    ...(d.tunnel ? { tunnel: d.tunnel } : {}),
    ...(persistence !== undefined ? { persistenceTimeoutS: persistence } : {}),
    ...(d.persistenceGranularity ? { persistenceGranularity: d.persistenceGranularity } : {}),
    ...(d.persistenceEngine ? { persistenceEngine: d.persistenceEngine } : {}),
    haSuspend: d.haSuspend,
    ...(d.virtualhost ? { virtualhost: d.virtualhost } : {}),
    omega: d.omega,
    quorum,
    hysteresis,
    ...(d.quorumUp ? { quorumUp: d.quorumUp } : {}),
    ...(d.quorumDown ? { quorumDown: d.quorumDown } : {}),
    ...(d.sorry
      ? { sorryServer: { address: d.sorry.address, port: d.sorry.port || (d.address.kind === 'ip' ? d.address.port : 0), ...(d.sorry.lbKind ? { lbKind: d.sorry.lbKind } : {}), inhibit: d.sorry.inhibit, loc: d.sorry.loc } }
      : {}),
    policy,
    smtpAlert: false,
    realServers,
    ...(d.fullNatSource ? { fullNatSource: d.fullNatSource } : {}),
    loc: d.loc,
  };
  noteSmtp(vs, d.smtpAlert);
  return vs;
}
