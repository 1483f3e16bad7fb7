// What the VRRP state machine asks the outside world to do. Plain data; the daemon maps each to
// a socket write, a timer, or netlink (see index.ts for the mapping).
import type { VirtualIp } from '../config/model.js';
import type { GarpSend } from './garp.js';

export type VrrpState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT' | 'STOP';

/** One timer of each name per instance; startTimer replaces a running one. */
export type TimerName = 'masterDown' | 'advert' | 'garp';

export type TransitionReason =
  | 'startup' // INIT → BACKUP (keepalived starts BACKUP even with `state MASTER`)
  | 'owner' // priority 255: INIT/FAULT → MASTER at once
  | 'master-down' // BACKUP → MASTER: no advert for Master_Down_Interval
  | 'priority-zero' // BACKUP → MASTER: the master resigned (priority 0) and Skew_Time passed
  | 'preempt' // BACKUP → MASTER: we ignored a lower-priority master until our timer ran out
  | 'higher-priority' // MASTER → BACKUP: higher priority, or equal priority and higher address
  | 'fault' // → FAULT: a tracked interface/script/file says so
  | 'fault-cleared' // FAULT → BACKUP
  | 'sync-group' // forced by a sync-group member
  | 'shutdown' // → STOP
  | 'deleted'; // → STOP, instance removed by a reload

/** Everything that is installed while MASTER and removed otherwise. */
export interface VipSet {
  vips: VirtualIp[];
  excluded: VirtualIp[];
  /** virtual_routes / virtual_rules, iproute2 syntax as configured */
  routes: string[];
  rules: string[];
  /** accept mode: false = the edge must drop traffic addressed to the VIPs (owners always accept) */
  accept: boolean;
}

export type Action =
  /** Send an advert with this priority (0 = resign) to the group / every unicast peer. */
  | { type: 'sendAdvert'; priority: number; ahSeq?: number }
  | { type: 'startTimer'; timer: TimerName; at: number }
  | { type: 'stopTimer'; timer: TimerName }
  | ({ type: 'addVips' } & VipSet)
  /** Remove (absent addresses are not an error: also used at startup to clear a crashed run's VIPs). */
  | ({ type: 'removeVips' } & VipSet)
  | { type: 'sendGarp'; sends: GarpSend[] }
  | { type: 'stateChange'; from: VrrpState; to: VrrpState; reason: TransitionReason; priority: number }
  | { type: 'priorityChange'; from: number; to: number; state: VrrpState }
  /** MASTER heard a lower-priority advert (keepalived's MASTER_RX_LOWER_PRI event). */
  | { type: 'masterRxLowerPri'; peer: string; peerPriority: number; priority: number }
  | { type: 'log'; level: 'info' | 'warn'; message: string };
