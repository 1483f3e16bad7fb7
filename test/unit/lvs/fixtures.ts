// Small builders for config models used by the lvs and dataplane tests.
import { defaultGlobals } from '../../../src/config/build/global.js';
import type {
  CheckerSpec,
  Config,
  Family,
  GlobalDefs,
  LbKind,
  RealServer,
  SorryServer,
  VirtualServer,
  VirtualServerGroup,
  VsAddress,
} from '../../../src/config/model.js';

const loc = { file: 'test.conf', line: 1, col: 1 };

export function globalDefs(over: Partial<GlobalDefs> = {}): GlobalDefs {
  return { ...defaultGlobals(), ...over };
}

export function checker(alpha = false, over: Partial<CheckerSpec> = {}): CheckerSpec {
  return {
    type: 'TCP_CHECK',
    connectTimeoutMs: 5000,
    delayLoopMs: 60_000,
    retry: 1,
    delayBeforeRetryMs: 1000,
    warmupMs: 0,
    alpha,
    logAllFailures: false,
    loc,
    ...over,
  } as CheckerSpec;
}

export interface RsOpts {
  weight?: number;
  alpha?: boolean;
  inhibit?: boolean;
  /** number of checkers (default 1) */
  checkers?: number;
  checkerList?: CheckerSpec[];
  lbKind?: LbKind;
  notifyUp?: string;
  notifyDown?: string;
  uthreshold?: number;
  lthreshold?: number;
}

/** A real server; its id is filled in by vs(). */
export function rs(address: string, port: number, o: RsOpts = {}): RealServer {
  const alpha = o.alpha ?? false;
  const r: RealServer = {
    id: '',
    address,
    family: address.includes(':') ? 'inet6' : 'inet',
    port,
    weight: o.weight ?? 1,
    policy: { delayLoopMs: 60_000, connectTimeoutMs: 5000, delayBeforeRetryMs: 1000, alpha, inhibitOnFailure: o.inhibit ?? false },
    checkers: o.checkerList ?? Array.from({ length: o.checkers ?? 1 }, () => checker(alpha)),
    smtpAlert: false,
    loc,
  };
  if (o.lbKind) r.lbKind = o.lbKind;
  if (o.notifyUp) r.notifyUp = o.notifyUp;
  if (o.notifyDown) r.notifyDown = o.notifyDown;
  if (o.uthreshold !== undefined) r.uthreshold = o.uthreshold;
  if (o.lthreshold !== undefined) r.lthreshold = o.lthreshold;
  return r;
}

export interface VsOpts extends Partial<Omit<VirtualServer, 'id' | 'address' | 'realServers'>> {
  realServers?: RealServer[];
}

function vsId(a: VsAddress, protocol: string): string {
  if (a.kind === 'ip') return `vs:${protocol}:[${a.address}]:${a.port}`;
  if (a.kind === 'fwmark') return `vs:fwmark:${a.family}:${a.fwmark}`;
  return `vs:group:${a.group}:${protocol}`;
}

export function vs(address: VsAddress | string, o: VsOpts = {}): VirtualServer {
  let a: VsAddress;
  if (typeof address === 'string') {
    const m = /^(.*):(\d+)$/.exec(address);
    if (!m) throw new Error(`bad vs address ${address}`);
    const ip = m[1]!.replace(/^\[|\]$/g, '');
    a = { kind: 'ip', family: ip.includes(':') ? 'inet6' : 'inet', address: ip, port: Number(m[2]) };
  } else a = address;
  const protocol = o.protocol ?? 'TCP';
  const id = vsId(a, protocol);
  const v: VirtualServer = {
    id,
    address: a,
    protocol,
    scheduler: 'wlc',
    schedFlags: { flag1: false, flag2: false, flag3: false, ops: false },
    lbKind: 'NAT',
    haSuspend: false,
    omega: false,
    quorum: 1,
    hysteresis: 0,
    policy: { delayLoopMs: 60_000, connectTimeoutMs: 5000, delayBeforeRetryMs: 1000, alpha: false, inhibitOnFailure: false },
    smtpAlert: false,
    loc,
    ...o,
    realServers: [],
  };
  v.realServers = (o.realServers ?? []).map((r) => ({ ...r, id: `${id}/rs:[${r.address}]:${r.port}` }));
  return v;
}

export function fwmark(mark: number, family: Family = 'inet'): VsAddress {
  return { kind: 'fwmark', family, fwmark: mark };
}

export function group(name: string, family: Family = 'inet'): VsAddress {
  return { kind: 'group', family, group: name };
}

export function sorry(address: string, port: number, o: Partial<Omit<SorryServer, 'address' | 'port' | 'loc'>> = {}): SorryServer {
  return { address, port, inhibit: false, loc, ...o };
}

export function config(virtualServers: VirtualServer[], o: { groups?: VirtualServerGroup[]; global?: Partial<GlobalDefs> } = {}): Config {
  return {
    global: globalDefs(o.global),
    lvsd: { dataplane: 'none', nftTable: 'lvsd', reconcileIntervalMs: 5000, checkerIsolation: 'process' },
    vrrpScripts: {},
    trackFiles: {},
    syncGroups: {},
    instances: [],
    virtualServerGroups: Object.fromEntries((o.groups ?? []).map((g) => [g.name, g])),
    virtualServers,
    files: ['test.conf'],
  };
}

export function vsg(name: string, members: VirtualServerGroup['members']): VirtualServerGroup {
  return { name, members, loc };
}

export const LOC = loc;

export const FIFO = { lvsNotifyFifo: { path: '/run/lvsd/lvs.fifo' } };
