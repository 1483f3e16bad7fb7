// Minimal operations from one table to another, and the pure table helpers around them.
//
// What the kernel can edit in place (IPVS ip_vs_edit_service / ip_vs_edit_dest):
//   service: scheduler, flags, persistence timeout, netmask, persistence engine
//   dest:    weight, forwarding method, thresholds, tunnel parameters
// Identity (service key + family, dest key) cannot be edited: a different identity is a different
// entry. Editing in place keeps the connections that a delete + add would drop.
//
// Order of the returned ops (safe for a kernel that applies them one by one):
//   1. del-service of services whose identity changed under the same key (never happens with keys
//      made by serviceKey(); handled for robustness)
//   2. add-service, edit-service      (a service exists before any of its dests is touched)
//   3. add-dest, and edit-dest that does not lower the weight
//   4. edit-dest that lowers the weight
//   5. del-dest                       (of services that stay)
//   6. del-service                    (the kernel drops the dests with it; with explicitDestDeletes
//                                      each one's del-dests come first)
// 3-5 are "make before break": capacity is added before any is taken away, so a pool never goes
// empty in between (e.g. while a sorry server replaces the real servers).
// Within a phase, entries follow the Map order of `to` (adds/edits) or `from` (deletes), so the
// output is deterministic for deterministic inputs.
import type { DestSpec, Op, ServiceSpec, ServiceState, TableState } from './types.js';
import type { TunnelSpec } from '../config/model.js';

export interface DiffOptions {
  /** emit a del-dest for every dest of a deleted service before its del-service (default false: the kernel drops them) */
  explicitDestDeletes?: boolean;
}

function flagsEqual(a: ServiceSpec['flags'], b: ServiceSpec['flags']): boolean {
  return a.persistent === b.persistent && a.onePacket === b.onePacket && a.sched1 === b.sched1 && a.sched2 === b.sched2 && a.sched3 === b.sched3;
}

/** Same kernel identity (cannot be edited). */
export function sameServiceIdentity(a: ServiceSpec, b: ServiceSpec): boolean {
  return a.key === b.key && a.family === b.family;
}

/** The editable part of a service is equal. */
export function serviceSettingsEqual(a: ServiceSpec, b: ServiceSpec): boolean {
  return (
    a.scheduler === b.scheduler &&
    flagsEqual(a.flags, b.flags) &&
    a.timeoutS === b.timeoutS &&
    a.netmask === b.netmask &&
    (a.peName || undefined) === (b.peName || undefined) &&
    (a.fullNatSource || undefined) === (b.fullNatSource || undefined)
  );
}

/**
 * Tunnel parameters as the kernel keeps them: only for TUN; IPIP by default; a port only for GUE;
 * checksum options only for GUE/GRE (the IPVS engine's canonicalTunnel drops them for IPIP).
 */
export function normTunnel(fwd: DestSpec['fwd'], t: TunnelSpec | undefined): string {
  if (fwd !== 'TUN') return '';
  const type = t?.type ?? 'ipip';
  const port = type === 'gue' ? (t?.port ?? 0) : 0;
  const csum = type === 'ipip' ? 'nocsum' : (t?.csum ?? 'nocsum');
  return `${type}/${port}/${csum}`;
}

/** The editable part of a dest is equal. */
export function destSettingsEqual(a: DestSpec, b: DestSpec): boolean {
  return (
    a.fwd === b.fwd &&
    a.weight === b.weight &&
    a.uThreshold === b.uThreshold &&
    a.lThreshold === b.lThreshold &&
    normTunnel(a.fwd, a.tunnel) === normTunnel(b.fwd, b.tunnel)
  );
}

export function diffTables(from: TableState, to: TableState, opts: DiffOptions = {}): Op[] {
  const replaced: Op[] = [];
  const services: Op[] = [];
  const destAdds: Op[] = [];
  const destLowers: Op[] = [];
  const destDels: Op[] = [];
  const removed: Op[] = [];

  for (const [key, want] of to) {
    const have = from.get(key);
    if (have && !sameServiceIdentity(have.svc, want.svc)) {
      replaced.push({ op: 'del-service', svc: have.svc });
    }
    if (!have || !sameServiceIdentity(have.svc, want.svc)) {
      services.push({ op: 'add-service', svc: want.svc });
      for (const dest of want.dests.values()) destAdds.push({ op: 'add-dest', svc: want.svc, dest });
      continue;
    }
    if (!serviceSettingsEqual(have.svc, want.svc)) services.push({ op: 'edit-service', svc: want.svc });
    for (const [dk, dest] of want.dests) {
      const cur = have.dests.get(dk);
      if (!cur) destAdds.push({ op: 'add-dest', svc: want.svc, dest });
      else if (!destSettingsEqual(cur, dest)) (dest.weight < cur.weight ? destLowers : destAdds).push({ op: 'edit-dest', svc: want.svc, dest });
    }
    for (const [dk, cur] of have.dests) {
      if (!want.dests.has(dk)) destDels.push({ op: 'del-dest', svc: want.svc, dest: cur });
    }
  }

  for (const [key, have] of from) {
    if (to.has(key)) continue;
    if (opts.explicitDestDeletes) for (const dest of have.dests.values()) removed.push({ op: 'del-dest', svc: have.svc, dest });
    removed.push({ op: 'del-service', svc: have.svc });
  }

  return [...replaced, ...services, ...destAdds, ...destLowers, ...destDels, ...removed];
}

// ---- pure table helpers (shared by the manager, the reconciler and the memory engine) ----

// Specs are plain data nested at most one level (flags, tunnel): spread copies are exact and
// ~20x cheaper than structuredClone, which matters when a reconcile pass copies 5,000 dests.
const copySvc = (s: ServiceSpec): ServiceSpec => ({ ...s, flags: { ...s.flags } });
const copyDest = (d: DestSpec): DestSpec => (d.tunnel ? { ...d, tunnel: { ...d.tunnel } } : { ...d });

export function cloneService(s: ServiceState): ServiceState {
  const dests = new Map<string, DestSpec>();
  for (const [k, d] of s.dests) dests.set(k, copyDest(d));
  return { svc: copySvc(s.svc), dests };
}

export function cloneTable(t: TableState): TableState {
  return new Map([...t].map(([k, s]) => [k, cloneService(s)]));
}

/**
 * Apply one op to a table the way the kernel would, mutating `t`. Returns an error text (and leaves
 * `t` unchanged) when the kernel would refuse the op.
 */
export function applyOpToTable(t: TableState, op: Op): string | undefined {
  const cur = t.get(op.svc.key);
  switch (op.op) {
    case 'add-service':
      if (cur) return `service ${op.svc.key} already exists (EEXIST)`;
      t.set(op.svc.key, { svc: copySvc(op.svc), dests: new Map() });
      return undefined;
    case 'edit-service':
      if (!cur) return `service ${op.svc.key} does not exist (ESRCH)`;
      cur.svc = copySvc(op.svc);
      return undefined;
    case 'del-service':
      if (!cur) return `service ${op.svc.key} does not exist (ESRCH)`;
      t.delete(op.svc.key);
      return undefined;
  }
  if (!cur) return `service ${op.svc.key} does not exist (ESRCH)`;
  const have = cur.dests.get(op.dest.key);
  switch (op.op) {
    case 'add-dest':
      if (have) return `dest ${op.dest.key} of ${op.svc.key} already exists (EEXIST)`;
      cur.dests.set(op.dest.key, copyDest(op.dest));
      return undefined;
    case 'edit-dest':
      if (!have) return `dest ${op.dest.key} of ${op.svc.key} does not exist (ENOENT)`;
      cur.dests.set(op.dest.key, copyDest(op.dest));
      return undefined;
    case 'del-dest':
      if (!have) return `dest ${op.dest.key} of ${op.svc.key} does not exist (ENOENT)`;
      cur.dests.delete(op.dest.key);
      return undefined;
  }
}

/** Tables are equal when they hold the same identities with equal settings (Map order ignored). */
export function tablesEqual(a: TableState, b: TableState): boolean {
  if (a.size !== b.size) return false;
  for (const [k, sa] of a) {
    const sb = b.get(k);
    if (!sb || !sameServiceIdentity(sa.svc, sb.svc) || !serviceSettingsEqual(sa.svc, sb.svc)) return false;
    if (sa.dests.size !== sb.dests.size) return false;
    for (const [dk, da] of sa.dests) {
      const db = sb.dests.get(dk);
      if (!db || !destSettingsEqual(da, db)) return false;
    }
  }
  return true;
}

/** One line per op, for logs: "add-dest TCP:[10.0.0.1]:80 [10.0.0.5]:80 w=1 NAT". */
export function describeOp(op: Op): string {
  if (op.op === 'add-service' || op.op === 'edit-service' || op.op === 'del-service') {
    return op.op === 'del-service' ? `${op.op} ${op.svc.key}` : `${op.op} ${op.svc.key} ${op.svc.scheduler}${op.svc.timeoutS ? ` persistent ${op.svc.timeoutS}s` : ''}`;
  }
  return op.op === 'del-dest' ? `${op.op} ${op.svc.key} ${op.dest.key}` : `${op.op} ${op.svc.key} ${op.dest.key} w=${op.dest.weight} ${op.dest.fwd}`;
}
