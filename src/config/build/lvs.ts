// virtual_server_group, virtual_server and real_server.
import type { Family, LbKind, Protocol, Scheduler, SourceLoc, TunnelSpec, VirtualServerGroup, VsAddress, VsGroupMember } from '../model.js';
import { SCHEDULERS } from '../model.js';
import { ipBytes, ipv4String, ipv6String } from '../../net/sockaddr.js';
import { type Stmt, locOf } from '../tree.js';
import { CHECKER_TYPES, type CheckerDraft, parseChecker, UNSUPPORTED_CHECKERS } from './checkers.js';
import { fields, type Ctx, type Handlers } from './context.js';

/** Policy fields as written (undefined = inherit). */
export interface PolicyDraft {
  delayLoopMs?: number;
  connectTimeoutMs?: number;
  retry?: number;
  delayBeforeRetryMs?: number;
  warmupMs?: number;
  alpha?: boolean;
  inhibitOnFailure?: boolean;
}

export interface RealServerDraft {
  address: string;
  family: Family;
  port: number;
  portGiven: boolean;
  weight?: number;
  lbKind?: LbKind;
  tunnel?: TunnelSpec;
  uthreshold?: number;
  lthreshold?: number;
  notifyUp?: string;
  notifyDown?: string;
  virtualhost?: string;
  smtpAlert?: boolean;
  policy: PolicyDraft;
  checkers: CheckerDraft[];
  loc: SourceLoc;
}

export interface VirtualServerDraft {
  address: VsAddress;
  protocol?: Protocol;
  protocolLoc?: SourceLoc;
  scheduler?: Scheduler;
  flags: { flag1: boolean; flag2: boolean; flag3: boolean; ops: boolean; shPort: boolean; shFallback: boolean; mhPort: boolean; mhFallback: boolean };
  flagLocs: Partial<Record<'sh' | 'mh' | 'ops', SourceLoc>>;
  lbKind?: LbKind;
  tunnel?: TunnelSpec;
  persistenceTimeoutS?: number;
  persistenceGranularity?: string;
  persistenceEngine?: string;
  haSuspend: boolean;
  virtualhost?: string;
  omega: boolean;
  quorum?: number;
  quorumLoc?: SourceLoc;
  hysteresis?: number;
  quorumUp?: string;
  quorumDown?: string;
  sorry?: { address: string; port: number; lbKind?: LbKind; inhibit: boolean; loc: SourceLoc };
  smtpAlert?: boolean;
  ipFamily?: Family;
  policy: PolicyDraft;
  realServers: RealServerDraft[];
  fullNatSource?: string;
  loc: SourceLoc;
}

// ---- virtual_server_group -------------------------------------------------------------

/** "10.0.0.1-10" (last octet / last hextet range) or plain address. */
function parseRange(text: string, loc: SourceLoc, c: Ctx): { family: Family; address: string; last?: string } | undefined {
  const dash = text.lastIndexOf('-');
  if (dash > 0) {
    const first = c.ipText(text.slice(0, dash), loc, 'virtual_server_group range');
    if (!first) return undefined;
    const endText = text.slice(dash + 1);
    const b = ipBytes(first.address);
    if (first.family === 'inet') {
      if (!/^\d+$/.test(endText) || Number(endText) > 255 || Number(endText) < b[3]!) {
        c.diags.error(loc, `virtual_server_group range "${text}": the end must be a last octet ${b[3]}..255`);
        return undefined;
      }
      b[3] = Number(endText);
      return { family: 'inet', address: first.address, last: ipv4String(b) };
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(endText) || parseInt(endText, 16) < b.readUInt16BE(14)) {
      c.diags.error(loc, `virtual_server_group range "${text}": the end must be a last hextet not below the start`);
      return undefined;
    }
    b.writeUInt16BE(parseInt(endText, 16), 14);
    return { family: 'inet6', address: first.address, last: ipv6String(b) };
  }
  const ip = c.ipText(text, loc, 'virtual_server_group member');
  return ip ? { family: ip.family, address: ip.address } : undefined;
}

export function parseVsGroup(s: Stmt, c: Ctx): VirtualServerGroup | undefined {
  const name = s.args[0]?.text;
  if (!name) {
    c.diags.error(c.loc(s), 'virtual_server_group needs a name');
    return undefined;
  }
  const g: VirtualServerGroup = { name, members: [], loc: c.loc(s) };
  for (const item of c.items({ ...s, args: [] })) {
    const loc = locOf(item.name);
    if (item.name.text === 'fwmark') {
      const mark = c.int(item, 0, 1, 0xffffffff, 'fwmark');
      if (mark === undefined) continue;
      const fam = item.args[1] ? c.oneOf(item, 1, ['inet', 'inet6'] as const, { what: 'fwmark family' }) : 'inet';
      if (!fam) continue;
      g.members.push({ kind: 'fwmark', family: fam, fwmark: mark, loc });
      continue;
    }
    const r = parseRange(item.name.text, loc, c);
    if (!r) continue;
    let port = 0;
    if (item.args[0]) {
      const p = c.port(item, 0, 'virtual_server_group port');
      if (p === undefined) continue;
      port = p;
    }
    if (item.args.length > 1) c.diags.warning(locOf(item.args[1]!), 'virtual_server_group member: extra words ignored');
    const m: VsGroupMember = { kind: 'addr', family: r.family, address: r.address, ...(r.last ? { last: r.last } : {}), port, loc };
    g.members.push(m);
  }
  if (g.members.length === 0) c.diags.error(g.loc, `virtual_server_group ${name} has no members; ignored`);
  return g.members.length ? g : undefined;
}

// ---- virtual_server -----------------------------------------------------------------------

export function parseVsAddress(s: Stmt, c: Ctx): VsAddress | undefined {
  const a0 = s.args[0];
  if (!a0) {
    c.diags.error(c.loc(s), 'virtual_server needs an address and port, fwmark N or group NAME');
    return undefined;
  }
  if (a0.text === 'fwmark') {
    if (s.args.length > 3) c.diags.warning(c.loc(s, 3), 'virtual_server: extra words ignored');
    const mark = c.int(s, 1, 1, 0xffffffff, 'virtual_server fwmark');
    if (mark === undefined) return undefined;
    const fam = s.args[2] ? c.oneOf(s, 2, ['inet', 'inet6'] as const, { what: 'fwmark family' }) : 'inet';
    return fam ? { kind: 'fwmark', family: fam, fwmark: mark } : undefined;
  }
  if (a0.text === 'group') {
    if (!s.args[1]) {
      c.diags.error(c.loc(s), 'virtual_server group needs a group name');
      return undefined;
    }
    return { kind: 'group', family: 'inet', group: s.args[1].text };
  }
  const ip = c.ip(s, 0, 'virtual_server address');
  if (!ip) return undefined;
  let port = 0;
  if (s.args[1]) {
    const p = c.port(s, 1, 'virtual_server port');
    if (p === undefined) return undefined;
    port = p;
  }
  if (s.args.length > 2) c.diags.warning(c.loc(s, 2), 'virtual_server: extra words ignored');
  return { kind: 'ip', family: ip.family, address: ip.address, port };
}

export function newVsDraft(address: VsAddress, loc: SourceLoc): VirtualServerDraft {
  return {
    address,
    flags: { flag1: false, flag2: false, flag3: false, ops: false, shPort: false, shFallback: false, mhPort: false, mhFallback: false },
    flagLocs: {},
    haSuspend: false,
    omega: false,
    policy: {},
    realServers: [],
    loc,
  };
}

/** `NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]` */
function parseMethod(s: Stmt, c: Ctx): { kind: LbKind; tunnel?: TunnelSpec } | undefined {
  if (!c.arity(s, 1, 6)) return undefined;
  const kind = c.oneOf(s, 0, ['NAT', 'DR', 'TUN'] as const, { what: `${s.name.text} (forwarding method)` });
  if (!kind) return undefined;
  if (s.args.length === 1) return { kind };
  if (kind !== 'TUN') {
    c.diags.error(c.loc(s, 1), `${s.name.text}: tunnel options only apply to TUN`);
    return { kind };
  }
  const tunnel: TunnelSpec = { type: 'ipip' };
  for (let i = 1; i < s.args.length; i++) {
    const w = s.args[i]!.text;
    if (w === 'type') {
      const t = c.oneOf(s, ++i, ['ipip', 'gue', 'gre'] as const, { what: 'tunnel type' });
      if (t) tunnel.type = t;
    } else if (w === 'port') {
      const p = c.int(s, ++i, 1, 65535, 'tunnel port');
      if (p !== undefined) tunnel.port = p;
    } else if (w === 'nocsum' || w === 'csum' || w === 'remcsum') tunnel.csum = w;
    else c.diags.error(c.loc(s, i), `${s.name.text}: unknown tunnel option "${w}"`);
  }
  if (tunnel.type === 'gue' && tunnel.port === undefined) c.diags.error(c.loc(s), 'TUN type gue needs a port');
  if (tunnel.type !== 'gue' && tunnel.port !== undefined) c.diags.error(c.loc(s), 'a tunnel port only applies to type gue');
  return { kind, tunnel };
}

function policyHandlers<T extends { policy: PolicyDraft }>(): Handlers<T> {
  const P = fields<T, PolicyDraft>((t) => t.policy);
  return {
    delay_loop: P.timer('delayLoopMs', 0.001, 86_400),
    connect_timeout: P.timer('connectTimeoutMs', 0.001, 3600),
    retry: P.int('retry', 0, 1_000_000),
    delay_before_retry: P.timer('delayBeforeRetryMs', 0, 86_400),
    warmup: P.timer('warmupMs', 0, 86_400),
    alpha: P.flag('alpha'),
    inhibit_on_failure: P.flag('inhibitOnFailure'),
  };
}

function checkerOrUnknown(s: Stmt, rs: RealServerDraft, c: Ctx): boolean {
  const type = CHECKER_TYPES[s.name.text];
  if (type) {
    const d = parseChecker(s, type, c);
    if (d) rs.checkers.push(d);
    return true;
  }
  if (UNSUPPORTED_CHECKERS.has(s.name.text)) {
    c.diags.warning(c.loc(s), `${s.name.text} is not supported by lvsd; checker ignored`);
    return true;
  }
  return false;
}

const R = fields<RealServerDraft>();

const rsHandlers: Handlers<RealServerDraft> = {
  ...policyHandlers<RealServerDraft>(),
  weight: R.int('weight', 0, 65535),
  lvs_method: (s, r, c) => {
    const m = parseMethod(s, c);
    if (m) {
      r.lbKind = m.kind;
      if (m.tunnel) r.tunnel = m.tunnel;
    }
  },
  uthreshold: R.int('uthreshold', 0, 0x7fffffff),
  lthreshold: R.int('lthreshold', 0, 0x7fffffff),
  notify_up: (s, r, c) => {
    const sc = c.script(s);
    if (sc) r.notifyUp = sc.cmd;
  },
  notify_down: (s, r, c) => {
    const sc = c.script(s);
    if (sc) r.notifyDown = sc.cmd;
  },
  virtualhost: R.str('virtualhost'),
  smtp_alert: R.flag('smtpAlert'),
};
rsHandlers['lb_kind'] = rsHandlers['lvs_method']!;

function parseRealServer(s: Stmt, vs: VirtualServerDraft, c: Ctx): void {
  const ip = c.ip(s, 0, 'real_server address');
  if (!ip) return;
  let port = 0;
  if (s.args[1]) {
    const p = c.port(s, 1, 'real_server port');
    if (p === undefined) return;
    port = p;
  }
  if (s.args.length > 2) c.diags.warning(c.loc(s, 2), 'real_server: extra words ignored');
  const rs: RealServerDraft = { address: ip.address, family: ip.family, port, portGiven: s.args[1] !== undefined, policy: {}, checkers: [], loc: c.loc(s) };
  if (s.block) {
    for (const st of s.block) {
      if (Object.prototype.hasOwnProperty.call(rsHandlers, st.name.text)) rsHandlers[st.name.text]!(st, rs, c);
      else if (!checkerOrUnknown(st, rs, c)) c.diags.warning(c.loc(st), `unknown keyword "${st.name.text}" in real_server; ignored`);
    }
  }
  vs.realServers.push(rs);
}

const V = fields<VirtualServerDraft>();

export const vsHandlers: Handlers<VirtualServerDraft> = {
  ...policyHandlers<VirtualServerDraft>(),
  lb_algo: (s, v, c) => {
    if (!c.arity(s, 1)) return;
    const name = s.args[0]!.text;
    const sched = (SCHEDULERS as readonly string[]).includes(name) ? (name as Scheduler) : undefined;
    if (!sched) c.diags.error(c.loc(s, 0), `unknown scheduler "${name}" (expected one of ${SCHEDULERS.join(', ')})`);
    else v.scheduler = sched;
  },
  lb_kind: (s, v, c) => {
    const m = parseMethod(s, c);
    if (m) {
      v.lbKind = m.kind;
      if (m.tunnel) v.tunnel = m.tunnel;
    }
  },
  persistence_timeout: (s, v, c) => {
    if (!c.arity(s, 0, 1)) return;
    if (!s.args[0]) {
      v.persistenceTimeoutS = 360;
      return;
    }
    const n = c.int(s, 0, 1, 0xffffffff, 'persistence_timeout');
    if (n !== undefined) v.persistenceTimeoutS = n;
  },
  persistence_granularity: (s, v, c) => {
    const t = c.str(s);
    if (t === undefined) return;
    if (/^\d+$/.test(t)) {
      if (Number(t) < 1 || Number(t) > 128) c.diags.error(c.loc(s, 0), `persistence_granularity ${t}: an IPv6 prefix length must be 1..128`);
      else v.persistenceGranularity = t;
      return;
    }
    const ip = c.ip(s, 0, 'persistence_granularity', 'inet');
    if (!ip) return;
    const n = ipBytes(ip.address).readUInt32BE(0);
    const inv = ~n >>> 0;
    if ((inv & (inv + 1)) !== 0) c.diags.error(c.loc(s, 0), `persistence_granularity ${t} is not a contiguous netmask`);
    else v.persistenceGranularity = ip.address;
  },
  persistence_engine: V.str('persistenceEngine'),
  protocol: (s, v, c) => {
    if (!c.arity(s, 1)) return;
    const p = c.oneOf(s, 0, ['TCP', 'UDP', 'SCTP'] as const, { caseInsensitive: true, what: 'protocol' });
    if (p) {
      v.protocol = p;
      v.protocolLoc = c.loc(s, 0);
    }
  },
  ha_suspend: (s, v, c) => {
    c.noArgs(s);
    v.haSuspend = true;
  },
  virtualhost: V.str('virtualhost'),
  omega: (s, v, c) => {
    c.noArgs(s);
    v.omega = true;
  },
  quorum: (s, v, c) => {
    const n = c.intStmt(s, 1, 0xffffffff);
    if (n !== undefined) {
      v.quorum = n;
      v.quorumLoc = c.loc(s, 0);
    }
  },
  hysteresis: V.int('hysteresis', 0, 0xffffffff),
  quorum_up: (s, v, c) => {
    const sc = c.script(s);
    if (sc) v.quorumUp = sc.cmd;
  },
  quorum_down: (s, v, c) => {
    const sc = c.script(s);
    if (sc) v.quorumDown = sc.cmd;
  },
  sorry_server: (s, v, c) => {
    if (!c.arity(s, 1, 2)) return;
    const ip = c.ip(s, 0, 'sorry_server');
    if (!ip) return;
    const port = s.args[1] ? c.port(s, 1, 'sorry_server port') : 0;
    if (port === undefined) return;
    v.sorry = { address: ip.address, port, inhibit: v.sorry?.inhibit ?? false, loc: c.loc(s) };
  },
  sorry_server_inhibit: (s, v, c) => {
    c.noArgs(s);
    if (!v.sorry) c.diags.error(c.loc(s), 'sorry_server_inhibit before (or without) sorry_server; ignored');
    else v.sorry.inhibit = true;
  },
  sorry_server_lvs_method: (s, v, c) => {
    const m = parseMethod(s, c);
    if (!m) return;
    if (!v.sorry) c.diags.error(c.loc(s), 'sorry_server_lvs_method before (or without) sorry_server; ignored');
    else v.sorry.lbKind = m.kind;
  },
  smtp_alert: V.flag('smtpAlert'),
  ip_family: (s, v, c) => {
    if (!c.arity(s, 1)) return;
    const f = c.oneOf(s, 0, ['inet', 'inet6'] as const, { what: 'ip_family' });
    if (f) v.ipFamily = f;
  },
  ops: (s, v, c) => {
    c.noArgs(s);
    v.flags.ops = true;
    v.flagLocs.ops = c.loc(s);
  },
  hashed: (s, _v, c) => c.noArgs(s),
  'flag-1': (s, v, c) => {
    c.noArgs(s);
    v.flags.flag1 = true;
  },
  'flag-2': (s, v, c) => {
    c.noArgs(s);
    v.flags.flag2 = true;
  },
  'flag-3': (s, v, c) => {
    c.noArgs(s);
    v.flags.flag3 = true;
  },
  'sh-port': (s, v, c) => {
    c.noArgs(s);
    v.flags.shPort = true;
    v.flagLocs.sh = c.loc(s);
  },
  'sh-fallback': (s, v, c) => {
    c.noArgs(s);
    v.flags.shFallback = true;
    v.flagLocs.sh = c.loc(s);
  },
  'mh-port': (s, v, c) => {
    c.noArgs(s);
    v.flags.mhPort = true;
    v.flagLocs.mh = c.loc(s);
  },
  'mh-fallback': (s, v, c) => {
    c.noArgs(s);
    v.flags.mhFallback = true;
    v.flagLocs.mh = c.loc(s);
  },
  lvsd_fullnat: (s, v, c) => {
    if (!c.arity(s, 1)) return;
    const ip = c.ip(s, 0, 'lvsd_fullnat source address');
    if (ip) v.fullNatSource = ip.address;
  },
  real_server: (s, v, c) => parseRealServer(s, v, c),
};
vsHandlers['lvs_sched'] = vsHandlers['lb_algo']!;
vsHandlers['lvs_method'] = vsHandlers['lb_kind']!;

export const IGNORED_VS = new Set(['nat_mask', 'snmp_name', 'real_server_group']);
