// vrrp_sync_group: members transition together (keepalived vrrp_sync.c).
// - Any member FAULT (its own trackers) → every member FAULT (a MASTER resigns with priority 0);
//   the group leaves FAULT only when no member has a fault of its own, then all go BACKUP.
// - A member whose Master_Down_Timer expires may only become MASTER when every other member also
//   wants MASTER, or the group already is MASTER (vrrp_sync_can_goto_master; avoids thrashing);
//   otherwise it stays BACKUP and re-arms its timer. Once one member is MASTER, all follow.
// - A MASTER member stepping down to BACKUP (higher-priority peer) takes every member to BACKUP.
// - A member that comes up (startup / fault cleared) while the group is MASTER is pulled up to
//   MASTER too (keepalived would instead drop the whole group to BACKUP and re-elect).
// - Group notifies (scripts + `GROUP "NAME" STATE 0`) on every group state change, including the
//   initial BACKUP/FAULT once all members have started, and STOP at shutdown.
// Pure: `reconcile` inspects member state machines and returns the events the caller must feed to
// members, plus the group states entered (the caller renders notifies), until it returns nothing.
import type { VrrpState } from './actions.js';
import type { FsmEvent, VrrpFsm } from './fsm.js';

export type GroupState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT' | 'STOP';

export interface MemberChange {
  member: string;
  from: VrrpState;
  to: VrrpState;
  reason: string;
}

export interface ReconcileResult {
  forced: { member: string; event: FsmEvent }[];
  /** group states entered, in order */
  entered: GroupState[];
}

export class SyncGroupCoordinator {
  state: GroupState = 'INIT';

  constructor(
    readonly name: string,
    private readonly members: ReadonlyMap<string, VrrpFsm>,
  ) {
    for (const [n, fsm] of members) fsm.syncGate = () => this.canGotoMaster(n);
  }

  get memberNames(): string[] {
    return [...this.members.keys()];
  }

  canGotoMaster(member: string): boolean {
    if (this.state === 'MASTER') return true;
    for (const [n, f] of this.members) if (n !== member && f.state !== 'STOP' && !f.wantMaster) return false;
    return true;
  }

  /** `changes`: member transitions since the last call (MASTER→BACKUP must be seen as a change). */
  reconcile(changes: readonly MemberChange[]): ReconcileResult {
    const forced: ReconcileResult['forced'] = [];
    const entered: GroupState[] = [];
    const enter = (s: GroupState) => {
      this.state = s;
      entered.push(s);
    };
    const fsms = [...this.members.entries()];
    if (this.state === 'STOP') return { forced, entered };
    if (fsms.every(([, f]) => f.state === 'STOP')) {
      enter('STOP');
      return { forced, entered };
    }
    const active = fsms.filter(([, f]) => f.state !== 'STOP');
    const ownFault = active.some(([, f]) => f.ownFault === 'fault');
    if (ownFault) {
      if (this.state !== 'FAULT') enter('FAULT');
      for (const [n, f] of active) if (!f.syncFault) forced.push({ member: n, event: { type: 'sync', to: 'FAULT' } });
      return { forced, entered };
    }
    if (this.state === 'FAULT') {
      for (const [n, f] of active) if (f.syncFault) forced.push({ member: n, event: { type: 'sync', to: 'FAULT_CLEARED' } });
      if (forced.length) return { forced, entered }; // members move first; the next pass sets the group state
      enter('BACKUP');
    }
    if (active.some(([, f]) => f.state === 'INIT')) return { forced, entered }; // wait for every member to start
    if (this.state !== 'MASTER' && active.some(([, f]) => f.state === 'MASTER')) {
      enter('MASTER');
      for (const [n, f] of active) if (f.state === 'BACKUP') forced.push({ member: n, event: { type: 'sync', to: 'MASTER' } });
      return { forced, entered };
    }
    if (this.state === 'MASTER') {
      const steppedDown = changes.some((c) => c.from === 'MASTER' && c.to === 'BACKUP' && c.reason !== 'sync-group');
      if (steppedDown) {
        enter('BACKUP');
        for (const [n, f] of active) if (f.state === 'MASTER') forced.push({ member: n, event: { type: 'sync', to: 'BACKUP' } });
      } else {
        for (const [n, f] of active) if (f.state === 'BACKUP') forced.push({ member: n, event: { type: 'sync', to: 'MASTER' } });
      }
      return { forced, entered };
    }
    if (this.state === 'INIT') enter(active.some(([, f]) => f.state === 'FAULT') ? 'FAULT' : 'BACKUP');
    return { forced, entered };
  }
}
