// The data-plane contract: what the virtual-server manager wants in the kernel, the minimal
// operations that get it there, and the engine interface that IPVS, nftables and the
// in-memory test engine implement.
import type { Family, LbKind, Protocol, Scheduler, TunnelSpec } from '../config/model.js';

export interface ServiceFlags {
  persistent: boolean;
  /** one-packet scheduling */
  onePacket: boolean;
  /** scheduler flags (sh: 1 = fallback, 2 = port; mh: same meanings) */
  sched1: boolean;
  sched2: boolean;
  sched3: boolean;
}

/** A kernel virtual service. Identity is `key` (see serviceKey). */
export interface ServiceSpec {
  key: string;
  family: Family;
  /** address services */
  protocol?: Protocol;
  address?: string;
  port?: number;
  /** fwmark services */
  fwmark?: number;
  scheduler: Scheduler;
  flags: ServiceFlags;
  /** persistence timeout in seconds (0 = not persistent) */
  timeoutS: number;
  /** persistence netmask: IPv4 dotted mask, or IPv6 prefix length as a string */
  netmask: string;
  peName?: string;
  /** nftables engine: full NAT source address (lvsd_fullnat) */
  fullNatSource?: string;
}

/** A real server behind a service. Identity within the service is `key` (see destKey). */
export interface DestSpec {
  key: string;
  family: Family;
  address: string;
  port: number;
  fwd: LbKind;
  weight: number;
  uThreshold: number;
  lThreshold: number;
  tunnel?: TunnelSpec;
}

export interface ServiceState {
  svc: ServiceSpec;
  dests: Map<string, DestSpec>;
}

/** Desired or observed table: service key -> service with its destinations. */
export type TableState = Map<string, ServiceState>;

export type Op =
  | { op: 'add-service'; svc: ServiceSpec }
  | { op: 'edit-service'; svc: ServiceSpec }
  | { op: 'del-service'; svc: ServiceSpec }
  | { op: 'add-dest'; svc: ServiceSpec; dest: DestSpec }
  | { op: 'edit-dest'; svc: ServiceSpec; dest: DestSpec }
  | { op: 'del-dest'; svc: ServiceSpec; dest: DestSpec };

export interface DestStats {
  activeConns: number;
  inactConns: number;
  persistConns: number;
  conns: bigint;
  inPkts: bigint;
  outPkts: bigint;
  inBytes: bigint;
  outBytes: bigint;
}

export interface ApplyResult {
  /** operations that the kernel accepted */
  applied: number;
  /** operations the kernel refused, with a clear reason each; the rest still went in (IPVS) or none did (nftables, atomic) */
  failed: { op: Op; error: string }[];
}

/** Capability check against the config: a combination the engine cannot do is reported up front. */
export interface EngineLimitation {
  serviceKey: string;
  message: string;
}

export interface DataplaneEngine {
  readonly name: 'ipvs' | 'nftables' | 'memory';
  /** what is in the kernel now, in the same shape as desired state */
  observe(): Promise<TableState>;
  /** apply operations in order */
  apply(ops: Op[]): Promise<ApplyResult>;
  /** what this engine cannot express for a given service (empty = all fine) */
  limitations(svc: ServiceSpec, dests: DestSpec[]): string[];
  close(): Promise<void>;
}

/** Canonical identity strings, shared by every engine and the reconciler. */
export function serviceKey(s: { family: Family; protocol?: Protocol; address?: string; port?: number; fwmark?: number }): string {
  if (s.fwmark !== undefined && s.fwmark > 0) return `FWM:${s.family}:${s.fwmark}`;
  return `${s.protocol}:[${s.address}]:${s.port}`;
}

export function destKey(d: { address: string; port: number }): string {
  return `[${d.address}]:${d.port}`;
}
