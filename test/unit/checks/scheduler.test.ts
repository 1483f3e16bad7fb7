import { describe, expect, it } from 'vitest';
import type { CheckerSpec, FileCheck, MiscCheck, TcpCheck } from '../../../src/config/model.js';
import type { CheckedRealServer, CheckerInput } from '../../../checks/input.js';
import { CheckScheduler, type ProbeJob, type RsTransition } from '../../../checks/scheduler.js';
import type { ProbeResult } from '../../../checks/types.js';
import { common, target } from './helpers.js';

const tcp = (over: Partial<TcpCheck> = {}): TcpCheck => ({ ...common({ delayLoopMs: 1000, delayBeforeRetryMs: 100, retry: 2, warmupMs: 0 }), type: 'TCP_CHECK', ...over });

function rs(id: string, checkers: CheckerSpec[], port = 80, address = '10.0.0.1', weight = 1, vsId = 'vs:TCP:[10.1.1.1]:80'): CheckedRealServer {
  return { rsId: `${vsId}/rs:${id}`, vsId, target: target(port, address), weight, checkers };
}

function input(realServers: CheckedRealServer[]): CheckerInput {
  return { realServers, settings: { enableScriptSecurity: false, trackFiles: {}, logAllFailures: false } };
}

const ok = (reason = 'ok', extra: Partial<ProbeResult> = {}): ProbeResult => ({ up: true, reason, latencyMs: 1, ...extra });
const bad = (reason = 'connect ECONNREFUSED'): ProbeResult => ({ up: false, reason, latencyMs: 1 });

/**
 * Drive the scheduler on a simulated clock: at each due time take the jobs, ask `world` for each
 * result (probes take `latency` ms), and collect every probe time and transition.
 */
function simulate(s: CheckScheduler, world: (job: ProbeJob, t: number) => ProbeResult, untilMs: number, latency = 5) {
  const probes: { key: string; t: number }[] = [];
  const transitions: (RsTransition & { t: number })[] = [];
  const pending: { at: number; job: ProbeJob; r: ProbeResult }[] = [];
  let t = 0;
  while (t <= untilMs) {
    for (const job of s.takeDue(t)) {
      probes.push({ key: job.key, t });
      pending.push({ at: t + latency, job, r: world(job, t) });
    }
    pending.sort((a, b) => a.at - b.at);
    const nextDone = pending[0]?.at ?? Infinity;
    const nextDue = s.atCapacity ? Infinity : (s.nextDueAt() ?? Infinity);
    const next = Math.min(nextDone, nextDue);
    if (next === Infinity || next > untilMs) break;
    t = Math.max(t, next);
    while (pending.length && pending[0]!.at <= t) {
      const p = pending.shift()!;
      for (const tr of s.complete(p.job.key, p.r, p.at).rs) transitions.push({ ...tr, t: p.at });
    }
  }
  return { probes, transitions };
}

const sched = (max = 100, random = () => 0) => new CheckScheduler({ maxConcurrent: max, random });

describe('checker state machine', () => {
  it('starts up without alpha, down with alpha, and reports each real server once initially', () => {
    const s = sched();
    const ev = s.load(input([rs('a', [tcp()]), rs('b', [tcp({ alpha: true })], 81)]), 0);
    expect(ev.rs.map((t) => [t.rsId.split('/')[1], t.up, t.initial])).toEqual([['rs:a', true, true], ['rs:b', false, true]]);
    expect(ev.rs[1]!.reason).toContain('alpha');
  });

  it('goes down on the (retry+1)-th consecutive failure, retrying after delay_before_retry', () => {
    const s = sched();
    s.load(input([rs('a', [tcp({ retry: 2, delayBeforeRetryMs: 100, delayLoopMs: 1000 })])]), 0);
    const { probes, transitions } = simulate(s, () => bad(), 1500);
    // t=0 fail, retry at 105 fail, retry at 210 fail -> down; then every delay_loop (no retries while down)
    expect(probes.map((p) => p.t)).toEqual([0, 105, 210, 1215]);
    expect(transitions).toHaveLength(1);
    expect(transitions[0]).toMatchObject({ up: false, t: 215, reason: 'connect ECONNREFUSED', initial: false });
  });

  it('a success in between resets the retry count; one success brings it back up', () => {
    const s = sched();
    s.load(input([rs('a', [tcp({ retry: 1 })])]), 0);
    const pattern = [false, true, false, true, false, false, true];
    let i = 0;
    const { transitions } = simulate(s, () => (pattern[i++] ?? true ? ok() : bad()), 10_000);
    expect(transitions.map((t) => t.up)).toEqual([false, true]);
  });

  it('retry 0 goes down on the first failure', () => {
    const s = sched();
    s.load(input([rs('a', [tcp({ retry: 0 })])]), 0);
    const { transitions } = simulate(s, () => bad(), 100);
    expect(transitions.map((t) => [t.up, t.t])).toEqual([[false, 5]]);
  });

  it('spreads first probes over [0, warmup] with the injected randomness', () => {
    const rnd = [0, 0.5, 0.999];
    const s = sched(100, () => rnd.shift()!);
    s.load(input([rs('a', [tcp({ warmupMs: 1000 })], 80), rs('b', [tcp({ warmupMs: 1000 })], 81), rs('c', [tcp({ warmupMs: 1000 })], 82)]), 0);
    const { probes } = simulate(s, () => ok(), 999);
    expect(probes.map((p) => p.t)).toEqual([0, 500, 999]);
  });

  it('a flapping server with retry/delay_before_retry only goes down on sustained failure', () => {
    const s = sched();
    s.load(input([rs('a', [tcp({ retry: 2, delayBeforeRetryMs: 200, delayLoopMs: 1000 })])]), 0);
    // down for 150 ms every 2 s (a blip), then hard down from t=10 s to t=14 s
    const down = (t: number) => (t % 2000 < 150) || (t >= 10_000 && t < 14_000);
    const { transitions } = simulate(s, (_j, t) => (down(t) ? bad('blip') : ok()), 20_000);
    expect(transitions.map((t) => [t.up, Math.floor(t.t / 1000)])).toEqual([
      [false, 10],
      [true, 14],
    ]);
  });
});

describe('real server aggregation', () => {
  it('is up only while every checker is up', () => {
    const s = sched();
    const a = tcp({ retry: 0 });
    const b = tcp({ retry: 0, connectPort: 8080 });
    s.load(input([rs('a', [a, b])]), 0);
    const { transitions } = simulate(s, (job, t) => (job.spec.connectPort === 8080 && t > 1500 && t < 3500 ? bad('port 8080 refused') : ok()), 6000);
    expect(transitions.map((t) => [t.up, t.reason])).toEqual([
      [false, 'port 8080 refused'],
      [true, 'ok'],
    ]);
  });

  it('a real server without checkers is up', () => {
    const ev = sched().load(input([rs('a', [])]), 0);
    expect(ev.rs[0]).toMatchObject({ up: true, reason: 'no checkers' });
  });

  it('misc_dynamic sets the weight to exit status - 2; unchanged on plain success', () => {
    const misc: MiscCheck = { ...common({ retry: 0, delayLoopMs: 1000 }), type: 'MISC_CHECK', path: '/bin/x', timeoutMs: 0, dynamic: true };
    const s = sched();
    const ev = s.load(input([rs('a', [misc], 80, '10.0.0.1', 5)]), 0);
    expect(ev.rs[0]).toMatchObject({ up: true, weight: 5 });
    const weights = [10, undefined, 20, 0];
    let i = 0;
    const { transitions } = simulate(s, () => ok('w', { weight: weights[i++] }), 3500);
    expect(transitions.map((t) => t.weight)).toEqual([10, 20, 0]);
    expect(transitions.every((t) => t.up)).toBe(true);
  });

  it('FILE_CHECK dynamic adds value x weight; no retries; clamps to 0..65535', () => {
    const file: FileCheck = { ...common({ retry: 3, delayLoopMs: 1000, alpha: true }), type: 'FILE_CHECK', trackFile: 'f', dynamic: true, weightReverse: false };
    const s = sched();
    const ev = s.load(input([rs('a', [file], 80, '10.0.0.1', 100)]), 0);
    // alpha is ignored for FILE_CHECK: the file is the state
    expect(ev.rs[0]).toMatchObject({ up: true, weight: 100 });
    const results = [ok('v', { weightDelta: 50 }), ok('v', { weightDelta: -500 }), bad('file does not exist'), ok('v', { weightDelta: 70000 })];
    let i = 0;
    const { transitions, probes } = simulate(s, () => results[i++] ?? ok('v', { weightDelta: 70000 }), 3500);
    expect(transitions.map((t) => [t.up, t.weight])).toEqual([[true, 150], [true, 0], [false, 100], [true, 65535]]);
    expect(probes.map((p) => p.t)).toEqual([0, 1005, 2010, 3015]);
  });
});

describe('deduplication', () => {
  it('one probe stream for a real server shared by two virtual servers, results fanned out', () => {
    const s = sched();
    const shared = tcp({ retry: 0 });
    const ev = s.load(input([rs('a', [shared], 80, '10.0.0.5', 1, 'vs:A'), rs('a', [{ ...shared, loc: { file: 'other.conf', line: 9, col: 1 } }], 80, '10.0.0.5', 1, 'vs:B')]), 0);
    expect(ev.rs).toHaveLength(2);
    expect(s.checkerCount).toBe(1);
    const { probes, transitions } = simulate(s, (_j, t) => (t > 2500 ? bad() : ok()), 5000);
    expect(new Set(probes.map((p) => p.key)).size).toBe(1);
    expect(probes.map((p) => p.t)).toEqual([0, 1005, 2010, 3015, 4020]);
    expect(transitions.map((t) => [t.vsId, t.up])).toEqual([['vs:A', false], ['vs:B', false]]);
  });

  it('differing probe fields make distinct streams', () => {
    const s = sched();
    s.load(input([rs('a', [tcp()], 80, '10.0.0.5', 1, 'vs:A'), rs('a', [tcp({ connectTimeoutMs: 999 })], 80, '10.0.0.5', 1, 'vs:B'), rs('b', [tcp()], 81, '10.0.0.5', 1, 'vs:C')]), 0);
    expect(s.checkerCount).toBe(3);
  });
});

describe('concurrency', () => {
  it('never runs more than maxConcurrent probes; the rest wait their turn', () => {
    const s = sched(3);
    s.load(input(Array.from({ length: 10 }, (_, i) => rs(`r${i}`, [tcp()], 1000 + i))), 0);
    let peak = 0;
    const { probes } = simulate(
      s,
      () => {
        peak = Math.max(peak, s.running);
        return ok();
      },
      100,
      10,
    );
    expect(peak).toBe(3);
    // all 10 were due at 0: they ran in waves of 3 as slots freed
    expect(probes.map((p) => p.t)).toEqual([0, 0, 0, 10, 10, 10, 20, 20, 20, 30]);
  });
});

describe('reload and resume', () => {
  it('keeps the state of unchanged checkers across a reload; new ones start fresh', () => {
    const s = sched();
    const a = tcp({ retry: 0 });
    s.load(input([rs('a', [a])]), 0);
    const [job] = s.takeDue(0);
    expect(s.complete(job!.key, bad(), 1).rs[0]).toMatchObject({ up: false });
    const ev = s.load(input([rs('a', [a]), rs('b', [tcp({ alpha: true })], 81)]), 2);
    expect(ev.rs.map((t) => [t.rsId.split('/')[1], t.up, t.initial])).toEqual([['rs:b', false, true]]);
    expect(s.rsStates().find((r) => r.rsId.endsWith('rs:a'))!.up).toBe(false);
    // a changed checker is a new checker: here it starts up (no alpha) so the real server flips
    const ev2 = s.load(input([rs('a', [tcp({ retry: 0, connectTimeoutMs: 2000 })])]), 3);
    expect(ev2.rs.map((t) => [t.up, t.initial])).toEqual([[true, false]]);
  });

  it('resumes checkers from snapshots (a restarted checker process does not flap)', () => {
    const a = tcp({ alpha: true });
    const s1 = sched();
    s1.load(input([rs('a', [a])]), 0);
    const [job] = s1.takeDue(0);
    s1.complete(job!.key, ok(), 1);
    const snaps = s1.checkerSnapshots();
    const s2 = sched();
    const ev = s2.load(input([rs('a', [a])]), 0, snaps);
    expect(ev.rs[0]).toMatchObject({ up: true, initial: true });
    expect(s2.checkerSnapshots()).toEqual(snaps);
  });

  it('ignores results for checkers removed meanwhile', () => {
    const s = sched();
    s.load(input([rs('a', [tcp()])]), 0);
    const [job] = s.takeDue(0);
    s.load(input([]), 1);
    expect(s.complete(job!.key, bad(), 2)).toEqual({ rs: [], checkers: [] });
  });
});
