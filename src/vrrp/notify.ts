// keepalived's notify outputs (vrrp_notify.c), as data:
// - on an instance/group state change, in this order: the state's script (notify_master,
//   notify_backup, notify_fault, notify_stop, notify_deleted) run as configured, with NO extra
//   arguments; then the generic `notify` script with 4 arguments appended:
//   INSTANCE|GROUP  NAME  MASTER|BACKUP|FAULT|STOP|DELETED  PRIORITY (0 for groups);
//   then one line on the notify FIFO(s): `INSTANCE "VI_1" MASTER 100\n`, `GROUP "VG" BACKUP 0\n`.
// - MASTER_RX_LOWER_PRI (a master heard a lower-priority advert): only a FIFO line here (the
//   model has no notify_master_rx_lower_pri script).
// - MASTER_PRIORITY / BACKUP_PRIORITY: FIFO line on effective-priority change, only with
//   notify_priority_changes.
// The daemon runs scripts fire-and-forget (keepalived waits up to 1 s only for STOP scripts,
// see `timeoutMs`), and writes FIFO lines in order: FIFOs are the ordered channel (#584, #996).
import type { NotifyScripts, ScriptUser } from '../config/model.js';

export type NotifyState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP' | 'DELETED';
export type FifoEvent = NotifyState | 'MASTER_RX_LOWER_PRI' | 'MASTER_PRIORITY' | 'BACKUP_PRIORITY';
export type NotifyTarget = 'INSTANCE' | 'GROUP';

export type NotifyAction =
  | {
      kind: 'script';
      /** the command line exactly as configured (split it like keepalived: spaces, quotes) */
      command: string;
      /** arguments to append after the configured ones */
      args: string[];
      user?: ScriptUser;
      /** STOP scripts: keepalived waits this long for them before exiting */
      timeoutMs?: number;
    }
  | { kind: 'fifo'; line: string };

/** One FIFO line, newline-terminated, exactly as keepalived writes it. */
export function fifoLine(target: NotifyTarget, name: string, event: FifoEvent, priority: number): string {
  return `${target} "${name}" ${event} ${priority}\n`;
}

function stateScript(s: NotifyScripts, state: NotifyState): string | undefined {
  switch (state) {
    case 'MASTER':
      return s.master;
    case 'BACKUP':
      return s.backup;
    case 'FAULT':
      return s.fault;
    case 'STOP':
      return s.stop;
    case 'DELETED':
      return s.deleted;
  }
}

/**
 * keepalived reports a deleted (on reload) instance as DELETED only when `notify_deleted` is
 * configured (with or without a script); otherwise as FAULT. In the model an empty string means
 * "notify_deleted without a script".
 */
export function deletedState(s: NotifyScripts): NotifyState {
  return s.deleted !== undefined ? 'DELETED' : 'FAULT';
}

export function stateNotifies(
  target: NotifyTarget,
  name: string,
  scripts: NotifyScripts,
  state: NotifyState,
  priority: number,
): NotifyAction[] {
  const out: NotifyAction[] = [];
  const user = scripts.user ? { user: scripts.user } : {};
  const stop = state === 'STOP' ? { timeoutMs: 1000 } : {};
  const specific = stateScript(scripts, state);
  if (specific) out.push({ kind: 'script', command: specific, args: [], ...user, ...stop });
  if (scripts.generic)
    out.push({ kind: 'script', command: scripts.generic, args: [target, name, state, String(priority)], ...user, ...stop });
  out.push({ kind: 'fifo', line: fifoLine(target, name, state, priority) });
  return out;
}

export function instanceNotifies(name: string, scripts: NotifyScripts, state: NotifyState, priority: number): NotifyAction[] {
  return stateNotifies('INSTANCE', name, scripts, state, priority);
}

/** Groups always report priority 0. */
export function groupNotifies(name: string, scripts: NotifyScripts, state: NotifyState): NotifyAction[] {
  return stateNotifies('GROUP', name, scripts, state, 0);
}

export function masterRxLowerPriNotify(name: string, priority: number): NotifyAction[] {
  return [{ kind: 'fifo', line: fifoLine('INSTANCE', name, 'MASTER_RX_LOWER_PRI', priority) }];
}

export function priorityChangeNotify(name: string, isMaster: boolean, priority: number): NotifyAction[] {
  return [{ kind: 'fifo', line: fifoLine('INSTANCE', name, isMaster ? 'MASTER_PRIORITY' : 'BACKUP_PRIORITY', priority) }];
}
