// Config model -> kernel specs (pure).
//
// A virtual server becomes one kernel service (IP+port or fwmark), or, for `virtual_server group
// NAME`, one service per group member: an address range expands to one service per address,
// a fwmark member to one fwmark service (keepalived ipvswrapper.c ipvs_group_cmd /
// ipvs_group_range_cmd). Every service of a virtual server carries the same destinations.
import type { Config, Family, LbKind, RealServer, SorryServer, TunnelSpec, VirtualServer, VsGroupMember } from '../config/model.js';
import type { DestSpec, ServiceSpec } from '../dataplane/types.js';
import { serviceKey, destKey } from '../dataplane/types.js';
import { ipBytes, ipv4String, ipv6String } from '../net/sockaddr.js';

/** IPVS dest weights are a signed 32-bit int in the kernel; keepalived's real_weight() clamps the same way. */
export const WEIGHT_MAX = 2_147_483_647;
/** refuse to expand absurd ranges (a typo like 10.0.0.1-10.255.255.255 would create millions of services) */
export const MAX_RANGE_EXPANSION = 65_536;

export interface VsServices {
  services: ServiceSpec[];
  /** configuration problems found while expanding (unknown group, oversized range, ...) */
  problems: string[];
}

export function clampWeight(w: number): number {
  if (!Number.isFinite(w) || w <= 0) return 0;
  return Math.min(Math.floor(w), WEIGHT_MAX);
}

/** Default persistence netmask: a single client address (keepalived ipvs_set_srule). */
export function defaultNetmask(family: Family): string {
  return family === 'inet6' ? '128' : '255.255.255.255';
}

/**
 * persistence_granularity -> kernel netmask text. IPv4 takes a dotted mask (a bare prefix length
 * is accepted too); IPv6 takes a prefix length ("64" or "/64"). Returns undefined when unusable.
 */
export function granularityToNetmask(g: string, family: Family): string | undefined {
  const t = g.trim().replace(/^\//, '');
  if (family === 'inet6') {
    if (/^\d{1,3}$/.test(t) && Number(t) >= 1 && Number(t) <= 128) return String(Number(t));
    return undefined;
  }
  if (/^\d{1,2}$/.test(t)) {
    const n = Number(t);
    if (n < 1 || n > 32) return undefined;
    const m = n === 32 ? 0xffffffff : (~(0xffffffff >>> n)) >>> 0;
    return [24, 16, 8, 0].map((s) => (m >>> s) & 0xff).join('.');
  }
  const parts = t.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  const m = parts.reduce((acc, p) => ((acc << 8) | Number(p)) >>> 0, 0);
  // a netmask must be contiguous ones
  const inv = ~m >>> 0;
  if ((inv & (inv + 1)) !== 0) return undefined;
  return parts.map((p) => String(Number(p))).join('.');
}

function baseService(vs: VirtualServer, family: Family, problems: string[]): Omit<ServiceSpec, 'key' | 'family'> {
  const timeoutS = vs.persistenceTimeoutS ?? 0;
  let netmask = defaultNetmask(family);
  if (timeoutS > 0 && vs.persistenceGranularity !== undefined) {
    const nm = granularityToNetmask(vs.persistenceGranularity, family);
    if (nm === undefined) problems.push(`${vs.id}: persistence_granularity '${vs.persistenceGranularity}' is not a valid ${family === 'inet6' ? 'IPv6 prefix length' : 'IPv4 netmask'}; using ${netmask}`);
    else netmask = nm;
  }
  const spec: Omit<ServiceSpec, 'key' | 'family'> = {
    scheduler: vs.scheduler,
    flags: {
      persistent: timeoutS > 0,
      onePacket: vs.schedFlags.ops,
      sched1: vs.schedFlags.flag1,
      sched2: vs.schedFlags.flag2,
      sched3: vs.schedFlags.flag3,
    },
    timeoutS,
    netmask,
  };
  if (vs.persistenceEngine) spec.peName = vs.persistenceEngine;
  if (vs.fullNatSource) spec.fullNatSource = vs.fullNatSource;
  return spec;
}

function ipService(vs: VirtualServer, family: Family, address: string, port: number, problems: string[]): ServiceSpec {
  const id = { family, protocol: vs.protocol, address, port };
  return { key: serviceKey(id), ...id, ...baseService(vs, family, problems) };
}

function fwmarkService(vs: VirtualServer, family: Family, fwmark: number, problems: string[]): ServiceSpec {
  return { key: serviceKey({ family, fwmark }), family, fwmark, ...baseService(vs, family, problems) };
}

/** Every address of an inclusive range, canonical text; throws on a reversed or oversized range. */
export function expandRange(first: string, last: string): string[] {
  const a = ipBytes(first);
  const b = ipBytes(last);
  if (a.length !== b.length) throw new Error(`range ${first}-${last} mixes address families`);
  const toBig = (x: Buffer): bigint => x.reduce((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
  const lo = toBig(a);
  const hi = toBig(b);
  if (hi < lo) throw new Error(`range ${first}-${last} ends before it starts`);
  if (hi - lo + 1n > BigInt(MAX_RANGE_EXPANSION)) throw new Error(`range ${first}-${last} has more than ${MAX_RANGE_EXPANSION} addresses`);
  const out: string[] = [];
  for (let v = lo; v <= hi; v++) {
    const buf = Buffer.alloc(a.length);
    let x = v;
    for (let i = a.length - 1; i >= 0; i--) {
      buf[i] = Number(x & 0xffn);
      x >>= 8n;
    }
    out.push(a.length === 4 ? ipv4String(buf) : ipv6String(buf));
  }
  return out;
}

function memberServices(vs: VirtualServer, m: VsGroupMember, problems: string[]): ServiceSpec[] {
  if (m.kind === 'fwmark') return [fwmarkService(vs, m.family, m.fwmark, problems)];
  if (m.last === undefined || m.last === m.address) return [ipService(vs, m.family, m.address, m.port, problems)];
  try {
    return expandRange(m.address, m.last).map((addr) => ipService(vs, m.family, addr, m.port, problems));
  } catch (e) {
    problems.push(`${vs.id}: ${(e as Error).message}`);
    return [];
  }
}

/** The kernel services a virtual server needs, in config order, without duplicates. */
export function servicesFor(vs: VirtualServer, cfg: Pick<Config, 'virtualServerGroups'>): VsServices {
  const problems: string[] = [];
  let services: ServiceSpec[];
  const a = vs.address;
  if (a.kind === 'ip') services = [ipService(vs, a.family, a.address, a.port, problems)];
  else if (a.kind === 'fwmark') services = [fwmarkService(vs, a.family, a.fwmark, problems)];
  else {
    const group = cfg.virtualServerGroups[a.group];
    if (!group) {
      problems.push(`${vs.id}: virtual_server_group ${a.group} is not defined`);
      services = [];
    } else {
      services = group.members.flatMap((m) => memberServices(vs, m, problems));
      if (services.length === 0 && problems.length === 0) problems.push(`${vs.id}: virtual_server_group ${a.group} has no members`);
    }
  }
  const seen = new Set<string>();
  const unique: ServiceSpec[] = [];
  for (const s of services) {
    if (seen.has(s.key)) continue;
    seen.add(s.key);
    unique.push(s);
  }
  return { services: unique, problems };
}

/** Tunnel parameters only mean something for TUN; an unspecified tunnel is plain IPIP. */
function tunnelFor(fwd: LbKind, own: TunnelSpec | undefined): TunnelSpec | undefined {
  if (fwd !== 'TUN') return undefined;
  return own ?? { type: 'ipip' };
}

/**
 * Dest port for a service: fwmark services with DR/TUN ignore the port (keepalived clears it),
 * an address service with port 0 gets the service port (ipvsadm and keepalived do the same).
 */
function destPort(port: number, fwd: LbKind, svc: ServiceSpec): number {
  if (svc.fwmark !== undefined && svc.fwmark > 0) return fwd === 'NAT' ? port : 0;
  if (port === 0 && svc.port !== undefined) return svc.port;
  return port;
}

/** A real server as a destination of one service of its virtual server. */
export function destFor(vs: VirtualServer, rs: RealServer, svc: ServiceSpec, weight: number): DestSpec {
  const fwd = rs.lbKind ?? vs.lbKind;
  // a real server with its own lvs_method carries its own tunnel parameters (keepalived validate_check_config)
  const tunnel = tunnelFor(fwd, rs.lbKind !== undefined ? rs.tunnel : (rs.tunnel ?? vs.tunnel));
  const port = destPort(rs.port, fwd, svc);
  const d: DestSpec = {
    key: destKey({ address: rs.address, port }),
    family: rs.family,
    address: rs.address,
    port,
    fwd,
    weight: clampWeight(weight),
    uThreshold: rs.uthreshold ?? 0,
    lThreshold: rs.lthreshold ?? 0,
  };
  if (tunnel) d.tunnel = tunnel;
  return d;
}

/** The sorry server as a destination (keepalived gives it weight 1 when in use). */
export function sorryDestFor(vs: VirtualServer, ss: SorryServer, svc: ServiceSpec, weight: number): DestSpec {
  const fwd = ss.lbKind ?? vs.lbKind;
  const tunnel = tunnelFor(fwd, ss.lbKind !== undefined ? undefined : vs.tunnel);
  const family: Family = ss.address.includes(':') ? 'inet6' : 'inet';
  const port = destPort(ss.port, fwd, svc);
  const d: DestSpec = {
    key: destKey({ address: ss.address, port }),
    family,
    address: ss.address,
    port,
    fwd,
    weight: clampWeight(weight),
    uThreshold: 0,
    lThreshold: 0,
  };
  if (tunnel) d.tunnel = tunnel;
  return d;
}
