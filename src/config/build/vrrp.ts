// vrrp_script, track_file, vrrp_sync_group and vrrp_instance.
import type {
  GlobalDefs,
  NotifyScripts,
  SourceLoc,
  SyncGroup,
  TrackFile,
  TrackRef,
  UnicastPeer,
  VirtualIp,
  VrrpInstance,
  VrrpScript,
} from '../model.js';
import { type Stmt, locOf } from '../tree.js';
import { fields, type Ctx, type Handlers } from './context.js';

// ---- vrrp_script ----------------------------------------------------------------------

export function newVrrpScript(name: string, loc: SourceLoc): VrrpScript {
  return { name, script: '', intervalMs: 1000, timeoutMs: 0, weight: 0, weightReverse: false, rise: 1, fall: 1, initFail: false, loc };
}

/** `weight W [reverse]` shared by scripts, files and track refs */
function weightArgs(s: Stmt, c: Ctx, min: number, max: number): { weight: number; reverse: boolean } | undefined {
  if (!c.arity(s, 1, 2)) return undefined;
  const w = c.int(s, 0, min, max, 'weight');
  if (w === undefined) return undefined;
  let reverse = false;
  if (s.args[1]) {
    if (s.args[1].text === 'reverse') reverse = true;
    else c.diags.error(c.loc(s, 1), `weight: expected "reverse", got "${s.args[1].text}"`);
  }
  return { weight: w, reverse };
}

const S = fields<VrrpScript>();

export const vrrpScriptHandlers: Handlers<VrrpScript> = {
  script: (s, v, c) => {
    if (!c.arity(s, 1, 1000)) return;
    // keepalived: an unquoted script line is the command followed by its arguments
    v.script = s.args.map((a) => (s.args.length > 1 && /\s/.test(a.text) ? `"${a.text}"` : a.text)).join(' ');
  },
  interval: S.timer('intervalMs', 0.001, 86_400),
  timeout: S.timer('timeoutMs', 0.001, 86_400),
  weight: (s, v, c) => {
    const w = weightArgs(s, c, -253, 253);
    if (w) {
      v.weight = w.weight;
      v.weightReverse = w.reverse;
    }
  },
  rise: S.int('rise', 1, 1_000_000),
  fall: S.int('fall', 1, 1_000_000),
  user: (s, v, c) => {
    if (!c.arity(s, 1, 2)) return;
    v.user = { user: s.args[0]!.text, ...(s.args[1] ? { group: s.args[1].text } : {}) };
  },
  init_fail: (s, v, c) => {
    c.noArgs(s);
    v.initFail = true;
  },
};

// ---- track_file ----------------------------------------------------------------------

export function newTrackFile(name: string, loc: SourceLoc): TrackFile {
  return { name, file: '', weight: 1, weightReverse: false, loc };
}

const TF = fields<TrackFile>();

export const trackFileHandlers: Handlers<TrackFile> = {
  file: TF.str('file'),
  weight: (s, t, c) => {
    const w = weightArgs(s, c, -254, 254);
    if (w) {
      t.weight = w.weight;
      t.weightReverse = w.reverse;
    }
  },
  init_file: (s, t, c) => {
    if (!c.arity(s, 0, 2)) return;
    let value = 0;
    let overwrite = false;
    for (let i = 0; i < s.args.length; i++) {
      if (s.args[i]!.text === 'overwrite') overwrite = true;
      else {
        const v = c.int(s, i, -2_147_483_648, 2_147_483_647, 'init_file value');
        if (v !== undefined) value = v;
      }
    }
    t.initFile = { value, overwrite };
  },
};

// ---- tracking lists shared by instances and sync groups -------------------------------

function trackList(s: Stmt, c: Ctx, what: string): TrackRef[] {
  const out: TrackRef[] = [];
  for (const item of c.items(s)) {
    const ref: TrackRef = { name: item.name.text, reverse: false, loc: locOf(item.name) };
    if (item.args.length) {
      if (item.args[0]!.text !== 'weight') {
        c.diags.error(locOf(item.args[0]!), `${what}: expected "weight", got "${item.args[0]!.text}"`);
      } else {
        const w = c.int(item, 1, -254, 254, `${what} weight`);
        if (w !== undefined) ref.weight = w;
        if (item.args[2]) {
          if (item.args[2].text === 'reverse') ref.reverse = true;
          else c.diags.error(locOf(item.args[2]), `${what}: expected "reverse", got "${item.args[2].text}"`);
        }
        if (item.args.length > 3) c.diags.warning(locOf(item.args[3]!), `${what}: extra words ignored`);
      }
    }
    if (item.block) c.diags.error(locOf(item.name), `${what}: unexpected block`);
    out.push(ref);
  }
  return out;
}

type ScriptKey = Exclude<keyof NotifyScripts, 'user'>;

function notifyHandler<T>(key: ScriptKey, get: (t: T) => NotifyScripts): (s: Stmt, t: T, c: Ctx) => void {
  return (s, t, c) => {
    const sc = c.script(s);
    if (!sc) return;
    const n = get(t);
    if (n[key]) c.diags.warning(c.loc(s), `${s.name.text} given twice; the last one is used`);
    n[key] = sc.cmd;
    if (sc.user) n.user = sc.user;
  };
}

const groupNotify = (g: SyncGroup): NotifyScripts => g.notify;
const instNotify = (d: InstanceDraft): NotifyScripts => d.inst.notify;

// ---- vrrp_sync_group --------------------------------------------------------------------

export function newSyncGroup(name: string, loc: SourceLoc): SyncGroup {
  return { name, members: [], trackInterfaces: [], trackScripts: [], trackFiles: [], notify: {}, notifyPriorityChanges: false, smtpAlert: false, loc };
}

const SG = fields<SyncGroup>();

export const syncGroupHandlers: Handlers<SyncGroup> = {
  group: (s, g, c) => {
    for (const item of c.items(s)) {
      for (const w of [item.name, ...item.args]) {
        if (g.members.includes(w.text)) c.diags.error(locOf(w), `vrrp_sync_group ${g.name}: ${w.text} listed twice`);
        else g.members.push(w.text);
      }
    }
  },
  track_interface: (s, g, c) => g.trackInterfaces.push(...trackList(s, c, 'track_interface')),
  track_script: (s, g, c) => g.trackScripts.push(...trackList(s, c, 'track_script')),
  track_file: (s, g, c) => g.trackFiles.push(...trackList(s, c, 'track_file')),
  notify_master: notifyHandler('master', groupNotify),
  notify_backup: notifyHandler('backup', groupNotify),
  notify_fault: notifyHandler('fault', groupNotify),
  notify_stop: notifyHandler('stop', groupNotify),
  notify_deleted: notifyHandler('deleted', groupNotify),
  notify: notifyHandler('generic', groupNotify),
  notify_priority_changes: SG.flag('notifyPriorityChanges'),
  smtp_alert: SG.flag('smtpAlert'),
};

export const IGNORED_SYNC_GROUP = new Set(['global_tracking', 'sync_group_tracking_weight', 'track_process', 'track_bfd']);

// ---- vrrp_instance ------------------------------------------------------------------------

/** Raw values that can only be checked once the whole instance (and its version) is known. */
export interface InstanceDraft {
  inst: VrrpInstance;
  advertRaw?: { value: number; loc: SourceLoc };
  versionSet?: SourceLoc;
  stateLoc?: SourceLoc;
  priorityLoc?: SourceLoc;
  authLoc?: SourceLoc;
  nopreemptLoc?: SourceLoc;
  preemptDelayLoc?: SourceLoc;
  vridSet: boolean;
  interfaceSet: boolean;
  vipSeen: Set<string>;
}

export function newInstance(name: string, loc: SourceLoc, g: GlobalDefs): InstanceDraft {
  return {
    vridSet: false,
    interfaceSet: false,
    vipSeen: new Set(),
    inst: {
      name,
      id: '',
      initialState: 'BACKUP',
      interface: '',
      vrid: 0,
      priority: 100,
      advertIntMs: 1000,
      version: g.vrrpVersion,
      family: 'inet',
      dontTrackPrimary: false,
      trackInterfaces: [],
      trackScripts: [],
      trackFiles: [],
      unicastPeers: [],
      unicastFaultNoPeer: false,
      checkUnicastSrc: g.vrrpCheckUnicastSrc,
      garpMasterDelayMs: g.vrrpGarpMasterDelayMs,
      garpMasterRepeat: g.vrrpGarpMasterRepeat,
      garpMasterRefreshMs: g.vrrpGarpMasterRefreshMs,
      garpMasterRefreshRepeat: g.vrrpGarpMasterRefreshRepeat,
      ...(g.vrrpGarpLowerPrioDelayMs !== undefined ? { garpLowerPrioDelayMs: g.vrrpGarpLowerPrioDelayMs } : {}),
      ...(g.vrrpGarpLowerPrioRepeat !== undefined ? { garpLowerPrioRepeat: g.vrrpGarpLowerPrioRepeat } : {}),
      garpIntervalMs: g.vrrpGarpIntervalMs,
      gnaIntervalMs: g.vrrpGnaIntervalMs,
      downTimerAdverts: g.vrrpDownTimerAdverts,
      lowerPrioNoAdvert: g.vrrpLowerPrioNoAdvert,
      higherPrioSendAdvert: g.vrrpHigherPrioSendAdvert,
      auth: { type: 'none' },
      virtualIps: [],
      virtualIpsExcluded: [],
      virtualRoutes: [],
      virtualRules: [],
      accept: !g.vrrpStrict,
      preempt: true,
      preemptDelayMs: 0,
      skipCheckAdvAddr: g.vrrpSkipCheckAdvAddr,
      strictMode: g.vrrpStrict,
      useVmac: false,
      notify: {},
      notifyPriorityChanges: g.vrrpNotifyPriorityChanges,
      smtpAlert: g.smtpAlertVrrp || g.smtpAlert,
      loc,
    },
  };
}

const VIP_FLAGS = new Set(['home', '-nodad', 'nodad', 'no_track', 'noprefixroute', 'autojoin', 'mngtmpaddr', 'use_vmac']);
const VIP_OPTS = new Set(['brd', 'broadcast', 'dev', 'scope', 'label', 'peer', 'preferred_lft', 'metric']);

/** `IP[/PREFIX] [brd X] [dev IF] [scope S] [label L] [peer P] [flags...]` */
export function parseVip(item: Stmt, c: Ctx, instIface: string): VirtualIp | undefined {
  const words = [item.name, ...item.args];
  const first = words[0]!;
  const [addr, prefixText, ...extra] = first.text.split('/');
  const loc = locOf(first);
  if (extra.length) {
    c.diags.error(loc, `virtual address "${first.text}" is malformed`);
    return undefined;
  }
  const ip = c.ipText(addr!, loc, 'virtual address');
  if (!ip) return undefined;
  const maxPrefix = ip.family === 'inet' ? 32 : 128;
  let prefixLen = maxPrefix;
  if (prefixText !== undefined) {
    if (!/^\d+$/.test(prefixText) || Number(prefixText) > maxPrefix) {
      c.diags.error(loc, `virtual address "${first.text}": prefix length must be 0..${maxPrefix}`);
      return undefined;
    }
    prefixLen = Number(prefixText);
  }
  const vip: VirtualIp = { address: ip.address, prefixLen, family: ip.family, noDad: false, noTrack: false, key: '', loc };
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!.text;
    if (VIP_FLAGS.has(w)) {
      if (w === '-nodad' || w === 'nodad') vip.noDad = true;
      else if (w === 'no_track') vip.noTrack = true;
      continue;
    }
    if (!VIP_OPTS.has(w)) {
      c.diags.error(locOf(words[i]!), `virtual address ${first.text}: unknown option "${w}"`);
      continue;
    }
    const val = words[i + 1];
    if (!val) {
      c.diags.error(locOf(words[i]!), `virtual address ${first.text}: ${w} needs a value`);
      break;
    }
    i++;
    if (w === 'dev') vip.dev = val.text;
    else if (w === 'brd' || w === 'broadcast') {
      const b = c.ipText(val.text, locOf(val), 'brd', 'inet');
      if (b) vip.brd = b.address;
    } else if (w === 'scope') {
      if (!['global', 'site', 'link', 'host', 'nowhere'].includes(val.text) && !/^\d+$/.test(val.text))
        c.diags.error(locOf(val), `virtual address ${first.text}: unknown scope "${val.text}"`);
      else vip.scope = val.text;
    } else if (w === 'label') vip.label = val.text;
    else if (w === 'peer') {
      const p = c.ipText(val.text.split('/')[0]!, locOf(val), 'peer', ip.family);
      if (p) vip.peer = p.address;
    }
  }
  vip.key = `${vip.address}/${vip.prefixLen}@${vip.dev ?? instIface}`;
  return vip;
}

function vipList(s: Stmt, d: InstanceDraft, c: Ctx, into: VirtualIp[]): void {
  for (const item of c.items(s)) {
    if (item.block) c.diags.error(locOf(item.name), `${s.name.text}: unexpected block`);
    const vip = parseVip(item, c, d.inst.interface);
    if (!vip) continue;
    const k = `${vip.address}@${vip.dev ?? ''}`;
    if (d.vipSeen.has(k)) {
      c.diags.error(vip.loc, `virtual address ${vip.address} listed twice in ${d.inst.name}`);
      continue;
    }
    d.vipSeen.add(k);
    into.push(vip);
  }
}

const I = fields<InstanceDraft, VrrpInstance>((d) => d.inst);

export const instanceHandlers: Handlers<InstanceDraft> = {
  state: (s, d, c) => {
    if (!c.arity(s, 1)) return;
    const v = c.oneOf(s, 0, ['MASTER', 'BACKUP'] as const, { what: 'state' });
    if (v) {
      d.inst.initialState = v;
      d.stateLoc = c.loc(s, 0);
    }
  },
  interface: (s, d, c) => {
    const v = c.str(s);
    if (v === undefined) return;
    if (v.length > 15 || /[/\s]/.test(v)) c.diags.error(c.loc(s, 0), `interface "${v}" is not a valid interface name`);
    else {
      d.inst.interface = v;
      d.interfaceSet = true;
    }
  },
  virtual_router_id: (s, d, c) => {
    const v = c.intStmt(s, 1, 255);
    if (v !== undefined) {
      d.inst.vrid = v;
      d.vridSet = true;
    }
  },
  priority: (s, d, c) => {
    const v = c.intStmt(s, 1, 255);
    if (v !== undefined) {
      d.inst.priority = v;
      d.priorityLoc = c.loc(s, 0);
    }
  },
  advert_int: (s, d, c) => {
    const v = c.timerStmt(s, 0.01, 255);
    if (v !== undefined) d.advertRaw = { value: v, loc: c.loc(s, 0) };
  },
  version: (s, d, c) => {
    const v = c.intStmt(s, 2, 3);
    if (v !== undefined) {
      d.inst.version = v as 2 | 3;
      d.versionSet = c.loc(s, 0);
    }
  },
  native_ipv6: (s, d, c) => {
    c.noArgs(s);
    d.inst.family = 'inet6';
  },
  dont_track_primary: I.flag('dontTrackPrimary'),
  track_interface: (s, d, c) => d.inst.trackInterfaces.push(...trackList(s, c, 'track_interface')),
  track_script: (s, d, c) => d.inst.trackScripts.push(...trackList(s, c, 'track_script')),
  track_file: (s, d, c) => d.inst.trackFiles.push(...trackList(s, c, 'track_file')),
  mcast_src_ip: (s, d, c) => {
    if (!c.arity(s, 1)) return;
    const ip = c.ip(s, 0);
    if (ip) d.inst.mcastSrcIp = ip.address;
  },
  unicast_src_ip: (s, d, c) => {
    if (!c.arity(s, 1)) return;
    const ip = c.ip(s, 0);
    if (ip) d.inst.unicastSrcIp = ip.address;
  },
  unicast_peer: (s, d, c) => {
    for (const item of c.items(s)) {
      const ip = c.ipText(item.name.text, locOf(item.name), 'unicast_peer');
      if (!ip) continue;
      const peer: UnicastPeer = { address: ip.address, loc: locOf(item.name) };
      for (let i = 0; i < item.args.length; i += 2) {
        const k = item.args[i]!.text;
        if (k !== 'min_ttl' && k !== 'max_ttl') {
          c.diags.error(locOf(item.args[i]!), `unicast_peer ${ip.address}: unknown option "${k}"`);
          continue;
        }
        const v = c.int(item, i + 1, 0, 255, `unicast_peer ${k}`);
        if (v !== undefined) {
          if (k === 'min_ttl') peer.minTtl = v;
          else peer.maxTtl = v;
        }
      }
      if (d.inst.unicastPeers.some((p) => p.address === peer.address)) c.diags.error(peer.loc, `unicast_peer ${peer.address} listed twice`);
      else d.inst.unicastPeers.push(peer);
    }
  },
  unicast_ttl: I.int('unicastTtl', 1, 255),
  unicast_fault_no_peer: I.flag('unicastFaultNoPeer'),
  check_unicast_src: I.flag('checkUnicastSrc'),
  mcast_dst_ip: (s, d, c) => {
    if (!c.arity(s, 1)) return;
    const ip = c.ip(s, 0);
    if (ip) d.inst.mcastDstIp = ip.address;
  },
  garp_master_delay: I.timer('garpMasterDelayMs', 0, 1000),
  garp_master_repeat: I.int('garpMasterRepeat', 1, 255),
  garp_master_refresh: I.timer('garpMasterRefreshMs', 0, 86_400),
  garp_master_refresh_repeat: I.int('garpMasterRefreshRepeat', 1, 255),
  garp_lower_prio_delay: I.timer('garpLowerPrioDelayMs', 0, 1000),
  garp_lower_prio_repeat: I.int('garpLowerPrioRepeat', 0, 255),
  garp_interval: I.timer('garpIntervalMs', 0, 1),
  gna_interval: I.timer('gnaIntervalMs', 0, 1),
  down_timer_adverts: I.int('downTimerAdverts', 1, 100),
  lower_prio_no_advert: I.flag('lowerPrioNoAdvert'),
  higher_prio_send_advert: I.flag('higherPrioSendAdvert'),
  authentication: (s, d, c) => {
    const b = c.block(s);
    if (!b) return;
    let type: 'PASS' | 'AH' | undefined;
    let pass: string | undefined;
    for (const a of b) {
      if (a.name.text === 'auth_type') {
        if (!c.arity(a, 1)) continue;
        type = c.oneOf(a, 0, ['PASS', 'AH'] as const, { what: 'auth_type' });
      } else if (a.name.text === 'auth_pass') {
        pass = c.str(a);
        if (pass !== undefined && Buffer.byteLength(pass) > 8) {
          c.diags.warning(c.loc(a, 0), `auth_pass longer than 8 bytes; only "${Buffer.from(pass).subarray(0, 8).toString()}" is used (as keepalived)`);
          pass = Buffer.from(pass).subarray(0, 8).toString();
        }
      } else c.diags.warning(c.loc(a), `unknown keyword "${a.name.text}" in authentication; ignored`);
    }
    if (!type) {
      c.diags.error(c.loc(s), 'authentication without a valid auth_type; ignored');
      return;
    }
    if (pass === undefined || pass === '') {
      c.diags.error(c.loc(s), 'authentication without auth_pass; ignored');
      return;
    }
    d.inst.auth = { type, password: pass };
    d.authLoc = c.loc(s);
  },
  virtual_ipaddress: (s, d, c) => vipList(s, d, c, d.inst.virtualIps),
  virtual_ipaddress_excluded: (s, d, c) => vipList(s, d, c, d.inst.virtualIpsExcluded),
  virtual_routes: (s, d, c) => {
    for (const item of c.items(s)) d.inst.virtualRoutes.push({ text: [item.name, ...item.args].map((t) => t.text).join(' '), loc: locOf(item.name) });
  },
  virtual_rules: (s, d, c) => {
    for (const item of c.items(s)) d.inst.virtualRules.push({ text: [item.name, ...item.args].map((t) => t.text).join(' '), loc: locOf(item.name) });
  },
  accept: (s, d, c) => {
    c.noArgs(s);
    d.inst.accept = true;
  },
  no_accept: (s, d, c) => {
    c.noArgs(s);
    d.inst.accept = false;
  },
  nopreempt: (s, d, c) => {
    c.noArgs(s);
    d.inst.preempt = false;
    d.nopreemptLoc = c.loc(s);
  },
  preempt: (s, d, c) => {
    c.noArgs(s);
    d.inst.preempt = true;
  },
  preempt_delay: (s, d, c) => {
    const v = c.timerStmt(s, 0, 1000);
    if (v !== undefined) {
      d.inst.preemptDelayMs = v;
      d.preemptDelayLoc = c.loc(s);
    }
  },
  skip_check_adv_addr: I.flag('skipCheckAdvAddr'),
  strict_mode: I.flag('strictMode'),
  use_vmac: (s, d, c) => {
    d.inst.useVmac = true;
    c.diags.warning(c.loc(s), 'use_vmac is not supported by lvsd yet: the VIPs are added to the interface itself');
  },
  notify_master: notifyHandler('master', instNotify),
  notify_backup: notifyHandler('backup', instNotify),
  notify_fault: notifyHandler('fault', instNotify),
  notify_stop: notifyHandler('stop', instNotify),
  notify_deleted: notifyHandler('deleted', instNotify),
  notify: notifyHandler('generic', instNotify),
  notify_priority_changes: I.flag('notifyPriorityChanges'),
  smtp_alert: I.flag('smtpAlert'),
};

export const IGNORED_INSTANCE = new Set([
  'vmac_xmit_base', 'use_vmac_addr', 'use_ipvlan', 'track_process', 'track_bfd', 'track_src_ip',
  'old_unicast_checksum', 'v3_checksum_as_v2', 'linkbeat_use_polling', 'vrf', 'kernel_rx_buf_size',
  'debug', 'garp_extra_if', 'lvs_sync_daemon_interface', 'notify_master_rx_lower_pri', 'no_virtual_ipaddress',
  'promote_secondaries', 'timer_expired_backup', 'interface_up_down_delays',
]);
