// Interface facts the VRRP edge needs (index, MAC, primary IPv4, IPv6 link-local) and sysctl access.
import fs from 'node:fs/promises';
import path from 'node:path';
import { native } from './native.js';
import { canonicalIp } from './sockaddr.js';
import type { RtnlClient } from './rtnetlink/client.js';
import type { Family } from '../config/model.js';
import {
  IFA_F_DADFAILED,
  IFA_F_SECONDARY,
  IFA_F_TENTATIVE,
  type AddrInfo,
  type LinkInfo,
  type OperState,
} from './rtnetlink/codec.js';

export class InterfaceNotFoundError extends Error {
  readonly code = 'ENODEV';
  constructor(readonly ifname: string) {
    super(`interface "${ifname}" does not exist`);
    this.name = 'InterfaceNotFoundError';
  }
}

export interface InterfaceInfo {
  ifindex: number;
  name: string;
  mac: string | null;
  up: boolean;
  running: boolean;
  lowerUp: boolean;
  operstate: OperState;
  mtu: number | null;
  /** every IPv4 / IPv6 address of the interface, kernel order */
  ipv4: AddrInfo[];
  ipv6: AddrInfo[];
  /** see pickPrimaryIpv4 */
  primaryIpv4: string | null;
  /** see pickIpv6LinkLocal */
  ipv6LinkLocal: string | null;
}

/** ifindex by name without a netlink round trip (if_nametoindex); throws InterfaceNotFoundError. */
export function ifIndex(name: string): number {
  const idx = native().ifNameToIndex(name);
  if (!idx) throw new InterfaceNotFoundError(name);
  return idx;
}

/**
 * The interface's primary IPv4 address: the first non-secondary IPv4 address in kernel order, as
 * keepalived uses for the advert source. `exclude` holds addresses to skip (our own VIPs: a VIP
 * added to an address-less interface becomes "primary" but must not be the VRRP source).
 */
export function pickPrimaryIpv4(addrs: readonly AddrInfo[], ifindex: number, exclude: ReadonlySet<string> = new Set()): string | null {
  const mine = addrs.filter((a) => a.family === 'inet' && a.ifindex === ifindex && !exclude.has(a.address));
  const primary = mine.find((a) => !(a.flags & IFA_F_SECONDARY)) ?? mine[0];
  return primary?.address ?? null;
}

/** A usable IPv6 link-local address (fe80::/10, not tentative, not DAD-failed); null if none yet. */
export function pickIpv6LinkLocal(addrs: readonly AddrInfo[], ifindex: number): string | null {
  const ll = addrs.find(
    (a) =>
      a.family === 'inet6' &&
      a.ifindex === ifindex &&
      /^fe[89ab][0-9a-f]:/i.test(canonicalIp(a.address)) &&
      !(a.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)),
  );
  return ll?.address ?? null;
}

export function interfaceInfoFrom(link: LinkInfo, addrs: readonly AddrInfo[], exclude?: ReadonlySet<string>): InterfaceInfo {
  const own = addrs.filter((a) => a.ifindex === link.ifindex);
  return {
    ifindex: link.ifindex,
    name: link.name,
    mac: link.mac,
    up: link.up,
    running: link.running,
    lowerUp: link.lowerUp,
    operstate: link.operstate,
    mtu: link.mtu,
    ipv4: own.filter((a) => a.family === 'inet'),
    ipv6: own.filter((a) => a.family === 'inet6'),
    primaryIpv4: pickPrimaryIpv4(own, link.ifindex, exclude),
    ipv6LinkLocal: pickIpv6LinkLocal(own, link.ifindex),
  };
}

/** Everything about one interface, in two netlink round trips. Throws InterfaceNotFoundError. */
export async function getInterfaceInfo(rtnl: RtnlClient, name: string, exclude?: ReadonlySet<string>): Promise<InterfaceInfo> {
  const link = await rtnl.getLink(name);
  if (!link) throw new InterfaceNotFoundError(name);
  const addrs = await rtnl.listAddresses({ ifindex: link.ifindex });
  return interfaceInfoFrom(link, addrs, exclude);
}

// ---- sysctl -------------------------------------------------------------------------------

const SYSCTL_ROOT = '/proc/sys';

/**
 * Path under /proc/sys for a key given either dotted ("net.ipv4.ip_forward") or as segments
 * (["net","ipv4","conf","eth0.100","arp_ignore"]: use segments when an interface name has a dot).
 */
export function sysctlPath(key: string | readonly string[]): string {
  const parts = typeof key === 'string' ? key.split(/[./]/) : [...key];
  for (const p of parts) {
    if (p === '' || p === '.' || p === '..' || p.includes('/') || p.includes('\0')) throw new Error(`bad sysctl key ${JSON.stringify(key)}`);
  }
  return path.join(SYSCTL_ROOT, ...parts);
}

/** Key segments of a per-interface setting: conf/<ifname>/<name> ("all" and "default" work too). */
export function confKey(family: Family, ifname: string, name: string): string[] {
  return ['net', family === 'inet' ? 'ipv4' : 'ipv6', 'conf', ifname, name];
}

export async function readSysctl(key: string | readonly string[]): Promise<string> {
  return (await fs.readFile(sysctlPath(key), 'utf8')).trim();
}

/** Write a value; errors carry the key (ENOENT: no such setting/interface, EACCES: not root). */
export async function writeSysctl(key: string | readonly string[], value: string | number): Promise<void> {
  const p = sysctlPath(key);
  try {
    await fs.writeFile(p, `${value}\n`);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    err.message = `sysctl ${p.slice(SYSCTL_ROOT.length + 1).replaceAll('/', '.')} = ${value}: ${err.message}`;
    throw err;
  }
}

/** Set a value and return the previous one (so the daemon can restore it on exit). */
export async function swapSysctl(key: string | readonly string[], value: string | number): Promise<string> {
  const old = await readSysctl(key);
  if (old !== String(value)) await writeSysctl(key, value);
  return old;
}
