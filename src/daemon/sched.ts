// Realtime scheduling for the daemon's event loop, where VRRP timers fire and adverts are sent
// (keepalived's vrrp_rt_priority). Under EEVDF a niced-up (negative nice) loop still waits for
// the running task's slice on wake-up; a SCHED_RR thread preempts every normal task at once, so
// CPU load elsewhere (the checker, other services) no longer delays adverts (measured in
// bench/isolation). Only the calling (main) thread changes, with SCHED_RESET_ON_FORK: the
// checker worker/process and helpers started later keep the normal policy. Needs CAP_SYS_NICE.
// A runaway loop is bounded by the kernel's RT throttling (sched_rt_runtime_us, 95 % of a CPU).
import { C, native } from '../net/native.js';

export interface SchedInfo {
  policy: 'SCHED_OTHER' | 'SCHED_FIFO' | 'SCHED_RR' | `policy ${number}`;
  priority: number;
  resetOnFork: boolean;
}

/** SCHED_RR at `priority` (1..99) for the calling thread; throws (EPERM without CAP_SYS_NICE). */
export function setLoopRealtime(priority: number): void {
  const p = Math.min(99, Math.max(1, Math.round(priority)));
  native().setScheduler(C('SCHED_RR'), p, true);
}

/** The calling thread's scheduling policy. */
export function loopSched(): SchedInfo {
  const s = native().getScheduler();
  const names: Record<number, SchedInfo['policy']> = { [C('SCHED_OTHER')]: 'SCHED_OTHER', [C('SCHED_FIFO')]: 'SCHED_FIFO', [C('SCHED_RR')]: 'SCHED_RR' };
  return { policy: names[s.policy] ?? `policy ${s.policy}`, priority: s.priority, resetOnFork: s.resetOnFork };
}
