// Quorum and hysteresis, as keepalived computes them (keepalived/check/ipwrapper.c).
//
// sum = total effective weight of the alive real servers (weigh_live_realservers; weights clamped
// to >= 0 by real_weight). With quorum Q and hysteresis H (update_quorum_state):
//   threshold = Q + (up ? -H : +H)
//   down -> up    when sum >= Q + H
//   up   -> down  when sum == 0  or  sum < Q - H
// so the VS holds its state while Q - H <= sum < Q + H. At start-up (set_quorum_states) the VS is
// up iff sum >= Q + H.
//
// Config clamps (validate_check_config): Q is reduced to the total configured weight of the real
// servers (not their count), and H to Q - 1 when H >= Q. We apply both here whatever the config
// layer did.
//
// One deliberate difference: with Q = 0 (all real servers weigh 0) keepalived's unsigned H = Q - 1
// wraps around and the VS can never come back up; we use H = 0 and additionally require sum > 0
// to come up, the mirror of the "sum == 0 => down" rule. For Q >= 1 this changes nothing.
import type { VirtualServer } from '../config/model.js';
import { clampWeight } from './specs.js';

export interface QuorumParams {
  quorum: number;
  hysteresis: number;
  /** human-readable notes when the configured values had to be clamped */
  notes: string[];
}

export function quorumParams(vs: Pick<VirtualServer, 'id' | 'quorum' | 'hysteresis' | 'realServers'>): QuorumParams {
  const notes: string[] = [];
  const total = vs.realServers.reduce((acc, rs) => acc + clampWeight(rs.weight), 0);
  let quorum = Math.max(0, Math.floor(vs.quorum));
  let hysteresis = Math.max(0, Math.floor(vs.hysteresis));
  if (quorum > total) {
    notes.push(`${vs.id}: quorum ${quorum} exceeds total weight of real servers ${total}, reducing quorum to ${total}`);
    quorum = total;
  }
  if (hysteresis > 0 && hysteresis >= quorum) {
    const h = Math.max(0, quorum - 1);
    notes.push(`${vs.id}: hysteresis ${hysteresis} >= quorum ${quorum}; setting hysteresis to ${h}`);
    hysteresis = h;
  }
  return { quorum, hysteresis, notes };
}

export function initialQuorumUp(sum: number, q: Pick<QuorumParams, 'quorum' | 'hysteresis'>): boolean {
  return sum > 0 && sum >= q.quorum + q.hysteresis;
}

export function nextQuorumUp(up: boolean, sum: number, q: Pick<QuorumParams, 'quorum' | 'hysteresis'>): boolean {
  if (up) return !(sum === 0 || sum < q.quorum - q.hysteresis);
  return sum > 0 && sum >= q.quorum + q.hysteresis;
}
