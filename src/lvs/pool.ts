// The desired pool of one virtual server, from its real servers' state and its quorum state (pure).
//
// keepalived's rules (ipwrapper.c perform_svr_state / update_quorum_state / init_service_vs,
// ipvswrapper.c ipvs_cmd), stated as the pool they produce:
// - quorum up, or no sorry server: an alive real server is in the pool with its effective weight;
//   a down one is absent, or present with weight 0 when inhibit_on_failure is set.
// - quorum down with a sorry server: the alive real servers leave the pool (inhibited ones stay at
//   weight 0) and the sorry server is in with weight 1.
// - otherwise the sorry server is absent, or present with weight 0 when sorry_server_inhibit is set.
// - a sorry server at the same address:port as a real server takes that entry while in use.
import type { RealServer, VirtualServer } from '../config/model.js';
import type { DestSpec, ServiceSpec, TableState } from '../dataplane/types.js';
import { clampWeight, destFor, sorryDestFor } from './specs.js';

export interface RsView {
  rs: RealServer;
  alive: boolean;
  dynWeight?: number;
}

export function effectiveWeight(r: RsView): number {
  return clampWeight(r.dynWeight ?? r.rs.weight);
}

export function aliveWeight(rss: Iterable<RsView>): number {
  let sum = 0;
  for (const r of rss) if (r.alive) sum += effectiveWeight(r);
  return sum;
}

export function sorryActive(vs: VirtualServer, quorumUp: boolean): boolean {
  return vs.sorryServer !== undefined && !quorumUp;
}

/** Weight a real server has in the pool, undefined = not in the pool. */
export function poolWeight(vs: VirtualServer, r: RsView, quorumUp: boolean): number | undefined {
  const inhibit = r.rs.policy.inhibitOnFailure;
  if (sorryActive(vs, quorumUp) || !r.alive) return inhibit ? 0 : undefined;
  return effectiveWeight(r);
}

export function poolDests(vs: VirtualServer, svc: ServiceSpec, rss: Iterable<RsView>, quorumUp: boolean): Map<string, DestSpec> {
  const dests = new Map<string, DestSpec>();
  for (const r of rss) {
    const w = poolWeight(vs, r, quorumUp);
    if (w === undefined) continue;
    const d = destFor(vs, r.rs, svc, w);
    if (!dests.has(d.key)) dests.set(d.key, d);
  }
  const ss = vs.sorryServer;
  if (ss) {
    if (sorryActive(vs, quorumUp)) {
      const d = sorryDestFor(vs, ss, svc, 1);
      dests.set(d.key, d);
    } else if (ss.inhibit) {
      const d = sorryDestFor(vs, ss, svc, 0);
      if (!dests.has(d.key)) dests.set(d.key, d);
    }
  }
  return dests;
}

export function poolTable(vs: VirtualServer, services: ServiceSpec[], rss: Iterable<RsView>, quorumUp: boolean): TableState {
  const list = [...rss];
  const t: TableState = new Map();
  for (const svc of services) t.set(svc.key, { svc, dests: poolDests(vs, svc, list, quorumUp) });
  return t;
}
