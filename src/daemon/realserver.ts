// `lvsd realserver up|down`: the real-server side of LVS-DR and LVS-TUN.
//
// DR (the director rewrites only the destination MAC): the real server must accept packets for
// the VIP without ever answering ARP for it, else clients' routers would bypass the director.
//   - every VIP goes on `lo` (or --dev) as a single address (/32, /128: on lo a wider prefix would
//     make the whole subnet local), IPv4 with scope host so the real server never picks the VIP as
//     the source of its own outgoing traffic (replies to LVS clients keep the VIP: the connection
//     is to it);
//   - with any IPv4 VIP, the classic LVS-DR howto settings (the kernel applies the maximum of
//     `all` and the interface's own value, so `all` covers every interface):
//       net.ipv4.conf.all.arp_ignore=1    answer ARP only for addresses of the receiving interface
//       net.ipv4.conf.all.arp_announce=2  never use a VIP as the source of ARP requests
//       net.ipv4.conf.<dev>.arp_ignore=1, net.ipv4.conf.<dev>.arp_announce=2  (as the howto does)
//     set BEFORE the VIPs are added, so there is no window in which the VIP is answered;
//   - IPv6 needs no setting: neighbour discovery only answers for addresses of the receiving
//     interface.
// TUN (the director encapsulates IP-in-IP): the VIP goes on the fallback tunnel device that
// receives every IPIP packet — `tunl0` (ipip) for IPv4, `ip6tnl0` (ip6tnl) for IPv6 — created if
// missing (the kernel loads the module) and set up. Same ARP settings as DR (a VIP on any
// interface would be answered on eth0 with arp_ignore=0), plus
//       net.ipv4.conf.<dev>.rp_filter=2   loose reverse-path check on the tunnel: the decapsulated
//       packet comes from the client but arrives on tunl0, which strict mode (1) drops. Since the
//       kernel uses max(all, dev), 2 on the device alone gives loose mode whatever `all` is,
//       and every other interface keeps its own protection.
//
// Every change is recorded (realserver-state.ts); `down` removes only the addresses `up` added
// and restores only the sysctls it changed, to their previous value, and only while they still
// hold the value lvsd wrote (an administrator's later change is left alone, with a warning).
// `up` is idempotent: what is already in place is not touched and not recorded again.
// All kernel changes go through rtnetlink and /proc/sys: nothing shells out to `ip`/`sysctl`.
import net from 'node:net';
import type { Family } from '../config/model.js';
import { IFF_LOOPBACK, type AddressSpec, type AddrInfo, type LinkInfo } from '../net/rtnetlink/codec.js';
import { canonicalIp } from '../net/sockaddr.js';
import { emptyState, isEmptyState, type RealserverState, type StateStore, type TouchedLink } from './realserver-state.js';

export type RealserverMode = 'dr' | 'tun';

const IFF_NOARP = 0x80;

export class RealserverError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RealserverError';
  }
}

// ---- pure planning -------------------------------------------------------------------------

export interface Vip {
  address: string;
  family: Family;
  prefixLen: 32 | 128;
}

/** Parse one --vip: an address, optionally with /32 or /128. Throws RealserverError. */
export function parseVip(text: string): Vip {
  const t = text.trim();
  const slash = t.indexOf('/');
  const addr = slash < 0 ? t : t.slice(0, slash);
  const plen = slash < 0 ? undefined : t.slice(slash + 1);
  const fam = net.isIPv4(addr) ? 'inet' : net.isIPv6(addr) ? 'inet6' : null;
  if (!fam) throw new RealserverError(`bad VIP "${text}": not an IPv4 or IPv6 address`);
  const full = fam === 'inet' ? 32 : 128;
  if (plen !== undefined && plen !== String(full))
    throw new RealserverError(`bad VIP "${text}": a real server holds the VIP as a single address (/${full}); a wider prefix on ${fam === 'inet' ? 'lo' : 'the device'} would claim the whole subnet`);
  const address = canonicalIp(addr);
  const b = address.split(/[.:]/);
  const special =
    fam === 'inet'
      ? address === '0.0.0.0'
        ? 'the unspecified address'
        : b[0] === '127'
          ? 'a loopback address'
          : Number(b[0]) >= 224 && Number(b[0]) <= 239
            ? 'a multicast address'
            : Number(b[0]) >= 240
              ? 'a reserved/broadcast address'
              : null
      : address === '::'
        ? 'the unspecified address'
        : address === '::1'
          ? 'the loopback address'
          : /^ff/i.test(address)
            ? 'a multicast address'
            : /^fe[89ab]/i.test(address)
              ? 'a link-local address'
              : null;
  if (special) throw new RealserverError(`bad VIP "${text}": ${special} cannot be a virtual service address`);
  return { address, family: fam, prefixLen: full };
}

/** Parse and de-duplicate --vip values. */
export function parseVips(texts: readonly string[]): Vip[] {
  if (texts.length === 0) throw new RealserverError('no --vip given');
  const seen = new Map<string, Vip>();
  for (const t of texts) {
    const v = parseVip(t);
    seen.set(v.address, v);
  }
  return [...seen.values()];
}

export interface DeviceChoice {
  name: string;
  /** rtnl kind to create it with when missing; null = it must exist */
  kind: string | null;
}

/** The device a VIP goes on. */
export function deviceFor(mode: RealserverMode, family: Family, dev?: string): DeviceChoice {
  const fallback = mode === 'dr' ? null : family === 'inet' ? { name: 'tunl0', kind: 'ipip' } : { name: 'ip6tnl0', kind: 'ip6tnl' };
  if (dev !== undefined) {
    if (!/^[^\s/]{1,15}$/.test(dev) || dev === '.' || dev === '..') throw new RealserverError(`bad device name "${dev}"`);
    return { name: dev, kind: fallback && fallback.name === dev ? fallback.kind : null };
  }
  return fallback ?? { name: 'lo', kind: null };
}

export interface SysctlSetting {
  key: string[];
  value: string;
}

const v4conf = (dev: string, name: string): string[] => ['net', 'ipv4', 'conf', dev, name];

/** The sysctls a mode needs, in the order they are applied (see the header for why). */
export function desiredSysctls(mode: RealserverMode, v4Devices: readonly string[]): SysctlSetting[] {
  if (v4Devices.length === 0) return [];
  const out: SysctlSetting[] = [
    { key: v4conf('all', 'arp_ignore'), value: '1' },
    { key: v4conf('all', 'arp_announce'), value: '2' },
  ];
  for (const d of v4Devices) {
    out.push({ key: v4conf(d, 'arp_ignore'), value: '1' }, { key: v4conf(d, 'arp_announce'), value: '2' });
    if (mode === 'tun') out.push({ key: v4conf(d, 'rp_filter'), value: '2' });
  }
  return out;
}

export const sysctlName = (key: readonly string[]): string => key.join('.');

// ---- kernel-facing -------------------------------------------------------------------------

/** The rtnetlink operations used (RtnlClient has them). */
export interface RtnlOps {
  getLink(which: string | number): Promise<LinkInfo | null>;
  listAddresses(filter?: { family?: Family; ifindex?: number }): Promise<AddrInfo[]>;
  addAddress(spec: AddressSpec, opts?: { ignoreExisting?: boolean }): Promise<boolean>;
  deleteAddress(spec: Pick<AddressSpec, 'ifindex' | 'address' | 'prefixLen'>, opts?: { ignoreMissing?: boolean }): Promise<boolean>;
  createLink(name: string, kind: string): Promise<boolean>;
  setLinkUp(ifindex: number, up: boolean): Promise<void>;
  deleteLink(ifindex: number): Promise<void>;
}

export interface SysctlOps {
  read(key: readonly string[]): Promise<string>;
  write(key: readonly string[], value: string): Promise<void>;
}

export interface RealserverDeps {
  rtnl: RtnlOps;
  sysctl: SysctlOps;
  store: StateStore;
  netns: string;
}

export interface RealserverReport {
  /** one line per change made */
  changes: string[];
  /** one line per thing found already in place */
  unchanged: string[];
  warnings: string[];
}

const errText = (e: unknown): string => (e as Error).message ?? String(e);
const codeOf = (e: unknown): string | undefined => (e as { code?: string }).code;

/** Persist; when an earlier error is already on its way out, a save error is appended to it instead. */
async function saveKeepingError(save: () => Promise<void>, failure: unknown): Promise<void> {
  try {
    await save();
  } catch (e) {
    if (!failure) throw e;
    if (failure instanceof Error) failure.message += ` (and the state could not be saved: ${errText(e)})`;
  }
}

async function loadState(deps: RealserverDeps): Promise<RealserverState | null> {
  const s = await deps.store.load();
  if (s && s.netns !== deps.netns && s.netns !== 'unknown' && deps.netns !== 'unknown')
    throw new RealserverError(
      `state file ${deps.store.file} belongs to network namespace ${s.netns}, this is ${deps.netns}: use --state FILE for each namespace`,
    );
  return s;
}

async function ensureDevice(deps: RealserverDeps, want: DeviceChoice, state: RealserverState, rep: RealserverReport): Promise<LinkInfo> {
  let link = await deps.rtnl.getLink(want.name);
  let created = false;
  if (!link) {
    if (!want.kind) throw new RealserverError(`device ${want.name} does not exist`);
    try {
      created = await deps.rtnl.createLink(want.name, want.kind);
    } catch (e) {
      // errno 95: Node names it ENOTSUP (EOPNOTSUPP is the same number on Linux)
      if (codeOf(e) === 'ENOTSUP' || codeOf(e) === 'EOPNOTSUPP')
        throw new RealserverError(
          `cannot create ${want.name}: this kernel has no ${want.kind} support (module ${want.kind === 'ipip' ? 'ipip' : 'ip6_tunnel'} missing or not loadable); LVS-TUN needs it`,
        );
      throw new RealserverError(`cannot create ${want.name} (${want.kind}): ${errText(e)}`);
    }
    link = await deps.rtnl.getLink(want.name);
    if (!link) throw new RealserverError(`${want.name} did not appear after creating it (is net.core.fb_tunnels_only_for_init_net set?)`);
    if (created) rep.changes.push(`created ${want.kind} device ${want.name}`);
    else rep.unchanged.push(`${want.name} appeared with the ${want.kind} module`);
  }
  if (want.kind && link.kind !== null && link.kind !== want.kind)
    throw new RealserverError(`device ${want.name} exists but is a ${link.kind} link, not ${want.kind}`);
  let rec = state.links.find((l) => l.name === want.name);
  const record = (): TouchedLink => {
    if (!rec) {
      rec = { name: want.name, kind: want.kind, created: false, broughtUp: false };
      state.links.push(rec);
    }
    return rec;
  };
  if (created) record().created = true;
  if (!link.up) {
    await deps.rtnl.setLinkUp(link.ifindex, true);
    if (!created) record().broughtUp = true;
    rep.changes.push(`set ${want.name} up`);
    link = (await deps.rtnl.getLink(want.name)) ?? link;
  }
  return link;
}

async function applySysctls(deps: RealserverDeps, settings: readonly SysctlSetting[], state: RealserverState, rep: RealserverReport): Promise<void> {
  for (const s of settings) {
    const name = sysctlName(s.key);
    let cur: string;
    try {
      cur = await deps.sysctl.read(s.key);
    } catch (e) {
      throw new RealserverError(`cannot read ${name}: ${errText(e)}`);
    }
    if (cur === s.value) {
      rep.unchanged.push(`${name} = ${cur}`);
      continue;
    }
    try {
      await deps.sysctl.write(s.key, s.value);
    } catch (e) {
      throw new RealserverError(`cannot set ${name} = ${s.value}: ${errText(e)}`);
    }
    const prev = state.sysctls.find((x) => sysctlName(x.key) === name);
    // a key changed again (someone reset it between two ups): keep the oldest previous value
    if (prev) prev.value = s.value;
    else state.sysctls.push({ key: [...s.key], previous: cur, value: s.value });
    rep.changes.push(`${name} ${cur} -> ${s.value}`);
  }
}

export interface UpRequest {
  vips: readonly string[];
  mode: RealserverMode;
  dev?: string;
}

/** Apply (idempotently) and record. Throws RealserverError; whatever was applied before an error is recorded. */
export async function realserverUp(req: UpRequest, deps: RealserverDeps): Promise<RealserverReport> {
  const vips = parseVips(req.vips);
  const rep: RealserverReport = { changes: [], unchanged: [], warnings: [] };
  const state = (await loadState(deps)) ?? emptyState(deps.netns);
  state.netns = deps.netns;
  const before = JSON.stringify(state);
  let failure: unknown = null;
  try {
    // 1. devices (TUN devices must exist before their sysctls do)
    const devs = new Map<string, DeviceChoice>();
    const vipDev = new Map<string, string>();
    for (const v of vips) {
      const d = deviceFor(req.mode, v.family, req.dev);
      devs.set(d.name, d);
      vipDev.set(v.address, d.name);
    }
    const links = new Map<string, LinkInfo>();
    for (const d of devs.values()) {
      const link = await ensureDevice(deps, d, state, rep);
      links.set(d.name, link);
      // arp_ignore=1 still answers for addresses of the receiving interface itself
      if (req.mode === 'dr' && !(link.flags & (IFF_LOOPBACK | IFF_NOARP)) && link.kind !== 'dummy')
        rep.warnings.push(`${d.name} is neither a loopback, dummy nor NOARP device: IPv4 VIPs on it are answered in ARP there, which defeats LVS-DR`);
    }

    // 2. sysctls, before any VIP exists
    const v4Devs = [...new Set(vips.filter((v) => v.family === 'inet').map((v) => vipDev.get(v.address)!))];
    await applySysctls(deps, desiredSysctls(req.mode, v4Devs), state, rep);

    // 3. addresses
    const addrs = await deps.rtnl.listAddresses();
    for (const v of vips) {
      const devName = vipDev.get(v.address)!;
      const link = links.get(devName)!;
      const here = addrs.find((a) => a.address === v.address && a.ifindex === link.ifindex);
      const elsewhere = addrs.filter((a) => a.address === v.address && a.ifindex !== link.ifindex);
      for (const e of elsewhere)
        rep.warnings.push(`${v.address} is also on ifindex ${e.ifindex}: ${v.family === 'inet' ? 'arp_ignore keeps it from being answered only if it is not on the interface facing the clients' : 'it will answer neighbour solicitations there'}`);
      if (here) {
        const ours = state.addresses.some((a) => a.address === v.address && a.dev === devName);
        rep.unchanged.push(`${v.address}/${here.prefixLen} on ${devName}${ours ? '' : ' (not added by lvsd: down leaves it)'}`);
        continue;
      }
      const spec: AddressSpec = { ifindex: link.ifindex, address: v.address, prefixLen: v.prefixLen };
      if (v.family === 'inet') spec.scope = 'host';
      else spec.nodad = true;
      try {
        await deps.rtnl.addAddress(spec);
      } catch (e) {
        throw new RealserverError(`cannot add ${v.address}/${v.prefixLen} to ${devName}: ${errText(e)}${v.family === 'inet6' ? ' (is IPv6 disabled on it?)' : ''}`);
      }
      state.addresses.push({ dev: devName, address: v.address, prefixLen: v.prefixLen, family: v.family });
      rep.changes.push(`added ${v.address}/${v.prefixLen} to ${devName}`);
    }
  } catch (e) {
    failure = e;
  }
  // record whatever was applied, also when a later step failed, so `down` can undo it
  if (JSON.stringify(state) !== before) await saveKeepingError(() => deps.store.save(state), failure);
  if (failure) throw failure;
  return rep;
}

export interface DownRequest {
  /** only these VIPs; empty/absent = everything recorded */
  vips?: readonly string[];
}

/**
 * Undo what `up` recorded. With VIPs, removes only those; sysctls and devices are restored once
 * no recorded VIP remains. No state = nothing to do (not an error: down is idempotent too).
 */
export async function realserverDown(req: DownRequest, deps: RealserverDeps): Promise<RealserverReport> {
  const rep: RealserverReport = { changes: [], unchanged: [], warnings: [] };
  const only = req.vips && req.vips.length ? new Set(parseVips(req.vips).map((v) => v.address)) : null;
  const state = await loadState(deps);
  if (!state) {
    rep.unchanged.push(`no state in ${deps.store.file}: nothing to undo`);
    return rep;
  }
  if (only) for (const a of only) if (!state.addresses.some((x) => x.address === a)) rep.unchanged.push(`${a} was not added by lvsd: left alone`);

  let failure: unknown = null;
  try {
    // 1. addresses (first: the VIPs must not stay while ARP protection is being removed)
    const pendingAddrs = [...state.addresses];
    state.addresses = pendingAddrs; // the state always lists what is still to undo
    for (const a of [...pendingAddrs]) {
      if (only && !only.has(a.address)) continue;
      const link = await deps.rtnl.getLink(a.dev);
      if (!link) rep.unchanged.push(`${a.address}: device ${a.dev} is gone`);
      else {
        let removed: boolean;
        try {
          removed = await deps.rtnl.deleteAddress({ ifindex: link.ifindex, address: a.address, prefixLen: a.prefixLen }, { ignoreMissing: true });
        } catch (e) {
          throw new RealserverError(`cannot remove ${a.address}/${a.prefixLen} from ${a.dev}: ${errText(e)}`);
        }
        if (removed) rep.changes.push(`removed ${a.address}/${a.prefixLen} from ${a.dev}`);
        else rep.unchanged.push(`${a.address}/${a.prefixLen} was already gone from ${a.dev}`);
      }
      pendingAddrs.splice(pendingAddrs.indexOf(a), 1);
    }
    if (pendingAddrs.length > 0) rep.unchanged.push(`${pendingAddrs.length} recorded VIP(s) remain: sysctls and devices kept`);
    else await restoreSysctlsAndLinks(deps, state, rep);
  } catch (e) {
    failure = e;
  }
  await saveKeepingError(() => (isEmptyState(state) ? deps.store.remove() : deps.store.save(state)), failure);
  if (failure) throw failure;
  return rep;
}

/** Steps 2 and 3 of down, once no recorded VIP remains. `state` always lists what is still to undo. */
async function restoreSysctlsAndLinks(deps: RealserverDeps, state: RealserverState, rep: RealserverReport): Promise<void> {
  // 2. sysctls, newest first
  const pendingSysctls = [...state.sysctls];
  state.sysctls = pendingSysctls;
  for (const s of [...pendingSysctls].reverse()) {
    const name = sysctlName(s.key);
    let cur: string | null;
    try {
      cur = await deps.sysctl.read(s.key);
    } catch (e) {
      if (codeOf(e) !== 'ENOENT') throw new RealserverError(`cannot read ${name}: ${errText(e)}`);
      cur = null;
    }
    if (cur === null) rep.unchanged.push(`${name}: gone (its device was removed)`);
    else if (cur !== s.value) rep.warnings.push(`${name} is ${cur}, not the ${s.value} lvsd set: changed by someone else since, left alone`);
    else if (cur !== s.previous) {
      try {
        await deps.sysctl.write(s.key, s.previous);
      } catch (e) {
        throw new RealserverError(`cannot restore ${name} = ${s.previous}: ${errText(e)}`);
      }
      rep.changes.push(`${name} ${cur} -> ${s.previous}`);
    }
    pendingSysctls.splice(pendingSysctls.indexOf(s), 1);
  }

  // 3. devices, newest first
  const pendingLinks = [...state.links];
  state.links = pendingLinks;
  for (const l of [...pendingLinks].reverse()) {
    const link = await deps.rtnl.getLink(l.name);
    try {
      if (link && l.created) {
        await deps.rtnl.deleteLink(link.ifindex);
        rep.changes.push(`deleted ${l.name}`);
      } else if (link && l.broughtUp && link.up) {
        await deps.rtnl.setLinkUp(link.ifindex, false);
        rep.changes.push(`set ${l.name} down`);
      }
    } catch (e) {
      throw new RealserverError(`cannot restore device ${l.name}: ${errText(e)}`);
    }
    pendingLinks.splice(pendingLinks.indexOf(l), 1);
  }
}
