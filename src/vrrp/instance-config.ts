// From the config model's VrrpInstance (+ facts about the interface) to the settings the state
// machine runs with, applying keepalived's own fix-ups (vrrp.c vrrp_complete_instance) so a
// hand-built model behaves like keepalived would with the same config.
import type { NotifyScripts, UnicastPeer, VirtualIp, VrrpInstance } from '../config/model.js';
import { canonicalIp } from '../net/sockaddr.js';
import { authKey } from './ah.js';
import type { GarpConfig, GarpTarget } from './garp.js';
import type { VrrpVersion } from './packet.js';
import { normaliseAdvertIntMs } from './timers.js';

/** What the daemon knows about the instance's interface when it creates the instance. */
export interface InterfaceFacts {
  /**
   * Source of our adverts and our side of the equal-priority tie-break: the interface's primary
   * IPv4 address, or its IPv6 link-local address (keepalived's defaults). mcast_src_ip /
   * unicast_src_ip in the config override it.
   */
  primaryAddress: string;
}

/** The global_defs the VRRP core needs (defaults: 224.0.0.18 / ff02::12). */
export interface VrrpGlobals {
  vrrpMcastGroup4?: string;
  vrrpMcastGroup6?: string;
}

export type InstanceAuth = { type: 'none' } | { type: 'PASS' | 'AH'; key: Uint8Array };

export interface InstanceConfig {
  name: string;
  interface: string;
  family: 'inet' | 'inet6';
  vrid: number;
  version: VrrpVersion;
  basePriority: number;
  /** priority 255: address owner; goes MASTER at once and never adjusts its priority */
  owner: boolean;
  /** `state MASTER` (non-owner): only matters to sync groups; keepalived still starts BACKUP */
  initialWantMaster: boolean;
  advertIntMs: number;
  downTimerAdverts: number;
  preempt: boolean;
  preemptDelayMs: number;
  /** accept mode; the edge drops traffic to the VIPs when false (owners always accept) */
  accept: boolean;
  lowerPrioNoAdvert: boolean;
  higherPrioSendAdvert: boolean;
  skipCheckAdvAddr: boolean;
  checkUnicastSrc: boolean;
  /** source address of our adverts (canonical) */
  src: string;
  /** multicast group, or each unicast peer (canonical) */
  destinations: string[];
  unicastPeers: UnicastPeer[];
  unicastTtl?: number;
  auth: InstanceAuth;
  /** VIPs carried in adverts, canonical, config order */
  vipAddresses: string[];
  vips: VirtualIp[];
  excludedVips: VirtualIp[];
  routes: string[];
  rules: string[];
  garp: GarpConfig;
  garpTargets: GarpTarget[];
  notify: NotifyScripts;
  notifyPriorityChanges: boolean;
  syncGroup?: string;
  /** fix-ups applied, for the daemon to log */
  warnings: string[];
}

export function instanceConfigFromModel(
  m: VrrpInstance,
  facts: InterfaceFacts,
  globals: VrrpGlobals = {},
): InstanceConfig {
  const warnings: string[] = [];
  const family = m.family;
  let version: VrrpVersion = m.version;
  if (family === 'inet6' && version !== 3) {
    warnings.push('IPv6 instances always use VRRPv3');
    version = 3;
  }
  const advertIntMs = normaliseAdvertIntMs(version, m.advertIntMs);
  if (advertIntMs !== m.advertIntMs) warnings.push(`advert_int ${m.advertIntMs} ms adjusted to ${advertIntMs} ms`);
  const owner = m.priority === 255;
  let preempt = m.preempt;
  let preemptDelayMs = Math.max(0, m.preemptDelayMs);
  let initialWantMaster = m.initialState === 'MASTER';
  if (owner && !preempt) {
    warnings.push('nopreempt is incompatible with priority 255 - resetting');
    preempt = true;
  }
  if (m.auth.type === 'AH' && initialWantMaster && !owner) {
    warnings.push('initial state MASTER is incompatible with AH authentication - clearing');
    initialWantMaster = false;
  }
  if (initialWantMaster && !preempt) {
    warnings.push('nopreempt will not work with initial state MASTER - clearing');
    preempt = true;
  }
  if (initialWantMaster && preemptDelayMs) {
    warnings.push('preempt delay will not work with initial state MASTER - clearing');
    preemptDelayMs = 0;
  }
  if (preemptDelayMs && (m.strictMode || !preempt)) {
    warnings.push(`preempt_delay is incompatible with ${m.strictMode ? 'strict' : 'nopreempt'} mode - resetting`);
    preemptDelayMs = 0;
  }
  if (owner) initialWantMaster = true;

  const vips = m.virtualIps.filter((v) => v.family === family);
  if (vips.length !== m.virtualIps.length) warnings.push(`virtual_ipaddress entries not of family ${family} ignored in adverts`);
  const unicast = m.unicastPeers.length > 0;
  const srcOverride = unicast ? m.unicastSrcIp : m.mcastSrcIp;
  const group = m.mcastDstIp ?? (family === 'inet' ? globals.vrrpMcastGroup4 ?? '224.0.0.18' : globals.vrrpMcastGroup6 ?? 'ff02::12');
  const auth = m.auth.type === 'none' || version === 3 ? ({ type: 'none' } as const) : { type: m.auth.type, key: authKey(m.auth.password) };
  if (m.auth.type !== 'none' && version === 3) warnings.push('authentication is VRRPv2 only - ignored');

  const garpTargets: GarpTarget[] = [...vips, ...m.virtualIpsExcluded].map((v) => ({
    address: canonicalIp(v.address),
    family: v.family,
    dev: v.dev ?? m.interface,
  }));
  const strictZero = (v: number | undefined, dflt: number): number => (v !== undefined ? v : m.strictMode ? 0 : dflt);

  return {
    name: m.name,
    interface: m.interface,
    family,
    vrid: m.vrid,
    version,
    basePriority: m.priority,
    owner,
    initialWantMaster,
    advertIntMs,
    downTimerAdverts: Math.min(100, Math.max(1, Math.round(m.downTimerAdverts || 3))),
    preempt,
    preemptDelayMs,
    accept: m.accept || owner,
    lowerPrioNoAdvert: m.lowerPrioNoAdvert,
    higherPrioSendAdvert: m.higherPrioSendAdvert,
    skipCheckAdvAddr: m.skipCheckAdvAddr,
    checkUnicastSrc: m.checkUnicastSrc || m.unicastPeers.some((p) => p.minTtl !== undefined || p.maxTtl !== undefined),
    src: canonicalIp(srcOverride ?? facts.primaryAddress),
    destinations: unicast ? m.unicastPeers.map((p) => canonicalIp(p.address)) : [canonicalIp(group)],
    unicastPeers: m.unicastPeers.map((p) => ({ ...p, address: canonicalIp(p.address) })),
    ...(m.unicastTtl !== undefined ? { unicastTtl: m.unicastTtl } : {}),
    auth,
    vipAddresses: vips.map((v) => canonicalIp(v.address)),
    vips,
    excludedVips: m.virtualIpsExcluded,
    routes: m.virtualRoutes.map((r) => r.text),
    rules: m.virtualRules.map((r) => r.text),
    garp: {
      repeat: m.garpMasterRepeat,
      delayMs: m.garpMasterDelayMs,
      refreshMs: m.garpMasterRefreshMs,
      refreshRepeat: Math.max(1, m.garpMasterRefreshRepeat),
      lowerPrioRepeat: strictZero(m.garpLowerPrioRepeat, m.garpMasterRepeat),
      lowerPrioDelayMs: strictZero(m.garpLowerPrioDelayMs, m.garpMasterDelayMs),
      garpIntervalMs: m.garpIntervalMs,
      gnaIntervalMs: m.gnaIntervalMs,
    },
    garpTargets,
    notify: m.notify,
    notifyPriorityChanges: m.notifyPriorityChanges,
    ...(m.syncGroup !== undefined ? { syncGroup: m.syncGroup } : {}),
    warnings,
  };
}
