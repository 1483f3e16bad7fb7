import { describe, expect, it } from 'vitest';
import { initialQuorumUp, nextQuorumUp, quorumParams } from '../../../src/lvs/quorum.js';
import { LvsManager } from '../../../src/lvs/manager.js';
import type { LvsAction } from '../../../src/lvs/types.js';
import { config, FIFO, rs, vs } from './fixtures.js';

describe('nextQuorumUp (keepalived update_quorum_state)', () => {
  // [quorum, hysteresis, state, sum, expected]
  const rows: [number, number, boolean, number, boolean][] = [
    // H = 0: down below Q, up at Q
    [3, 0, true, 3, true],
    [3, 0, true, 2, false],
    [3, 0, false, 2, false],
    [3, 0, false, 3, true],
    // H = 1, Q = 3: up holds down to Q-H = 2, falls at 1; down holds up to Q+H-1 = 3, rises at 4
    [3, 1, true, 4, true],
    [3, 1, true, 3, true],
    [3, 1, true, 2, true],
    [3, 1, true, 1, false],
    [3, 1, false, 1, false],
    [3, 1, false, 2, false],
    [3, 1, false, 3, false],
    [3, 1, false, 4, true],
    // H = 2, Q = 5
    [5, 2, true, 3, true],
    [5, 2, true, 2, false],
    [5, 2, false, 6, false],
    [5, 2, false, 7, true],
    // a zero sum is always down, even when Q - H <= 0
    [1, 0, true, 0, false],
    [2, 1, true, 0, false],
    [2, 1, true, 1, true],
    // Q = 0 (all weights 0): never up with nothing alive that weighs
    [0, 0, false, 0, false],
    [0, 0, false, 1, true],
  ];
  it.each(rows)('Q=%i H=%i up=%s sum=%i -> %s', (quorum, hysteresis, up, sum, want) => {
    expect(nextQuorumUp(up, sum, { quorum, hysteresis })).toBe(want);
  });

  it.each([
    [3, 1, 3, false],
    [3, 1, 4, true],
    [1, 0, 0, false],
    [1, 0, 1, true],
    [0, 0, 0, false],
  ])('initial state Q=%i H=%i sum=%i -> %s (sum >= Q + H)', (quorum, hysteresis, sum, want) => {
    expect(initialQuorumUp(sum, { quorum, hysteresis })).toBe(want);
  });
});

describe('quorumParams clamps like keepalived validate_check_config', () => {
  it.each([
    // weights, quorum, hysteresis -> quorum, hysteresis, notes
    [[1, 1, 1], 2, 1, 2, 1, 0],
    [[1, 1, 1], 5, 0, 3, 0, 1], // quorum > total weight -> total weight
    [[5, 5], 7, 0, 7, 0, 0], // total weight, not the number of real servers
    [[1, 1, 1], 3, 3, 3, 2, 1], // hysteresis >= quorum -> quorum - 1
    [[1, 1, 1], 5, 4, 3, 2, 2],
    [[0, 0], 1, 0, 0, 0, 1],
    [[0, 0], 1, 1, 0, 0, 2],
  ])('weights %j quorum %i hysteresis %i -> %i/%i', (weights, q, h, wq, wh, notes) => {
    const v = vs('10.0.0.1:80', { quorum: q, hysteresis: h, realServers: weights.map((w, i) => rs(`10.0.1.${i + 1}`, 80, { weight: w })) });
    const p = quorumParams(v);
    expect([p.quorum, p.hysteresis, p.notes.length]).toEqual([wq, wh, notes]);
  });
});

describe('quorum through the manager', () => {
  // 4 real servers of weight 1, quorum 3, hysteresis 1: starts up (4 >= 4)
  function setup() {
    const v = vs('10.0.0.1:80', {
      quorum: 3,
      hysteresis: 1,
      quorumUp: '/bin/q-up',
      quorumDown: '/bin/q-down',
      realServers: [1, 2, 3, 4].map((i) => rs(`10.0.1.${i}`, 80)),
    });
    const m = new LvsManager(config([v], { global: FIFO }));
    m.start(0);
    const ids = v.realServers.map((r) => r.id);
    const vsEvents = (a: LvsAction[]) => a.filter((x) => x.kind === 'fifo' && x.line.startsWith('VS ')).map((x) => (x as { line: string }).line);
    return { m, ids, vsEvents };
  }

  it('walks every boundary with the right notifies', () => {
    const { m, ids, vsEvents } = setup();
    const step = (i: number, up: boolean) => vsEvents(m.onCheck({ rsId: ids[i]!, up, reason: 't' }, 1));
    expect(m.status()[0]!.quorumUp).toBe(true);
    expect(step(0, false)).toEqual([]); // 3 alive: still up
    expect(step(1, false)).toEqual([]); // 2 = Q - H: still up
    expect(step(2, false)).toEqual(['VS [10.0.0.1]:tcp:80 DOWN']); // 1 < 2: down
    expect(step(2, true)).toEqual([]); // 2: still down
    expect(step(1, true)).toEqual([]); // 3 < Q + H: still down
    expect(step(0, true)).toEqual(['VS [10.0.0.1]:tcp:80 UP']); // 4 >= 4: up
    expect(step(3, false)).toEqual([]);
  });

  it('runs quorum_down / quorum_up scripts on transitions only', () => {
    const { m, ids } = setup();
    const scripts = (a: LvsAction[]) => a.filter((x) => x.kind === 'script').map((x) => (x as { cmd: string }).cmd);
    expect(scripts(m.onChecks(ids.slice(0, 3).map((rsId) => ({ rsId, up: false, reason: 'x' })), 1))).toEqual(['/bin/q-down']);
    expect(scripts(m.onChecks(ids.slice(0, 3).map((rsId) => ({ rsId, up: true, reason: 'x' })), 2))).toEqual(['/bin/q-up']);
  });

  it('starts down when the alive weight is below quorum + hysteresis', () => {
    const v = vs('10.0.0.1:80', { quorum: 2, hysteresis: 1, realServers: [rs('10.0.1.1', 80), rs('10.0.1.2', 80), rs('10.0.1.3', 80, { alpha: true })] });
    const m = new LvsManager(config([v], { global: FIFO }));
    const a = m.start(0);
    expect(m.status()[0]!.quorumUp).toBe(false);
    // keepalived notifies at start-up only when a sorry server is configured
    expect(a.filter((x) => x.kind === 'fifo')).toEqual([]);
    const b = m.onCheck({ rsId: v.realServers[2]!.id, up: true, reason: 'ok' }, 1);
    expect(b.filter((x) => x.kind === 'fifo').map((x) => (x as { line: string }).line)).toEqual([
      'RS [10.0.1.3]:tcp:80 [10.0.0.1]:tcp:80 UP',
      'VS [10.0.0.1]:tcp:80 UP',
    ]);
  });

  it('dynamic weights count towards quorum', () => {
    const v = vs('10.0.0.1:80', { quorum: 10, realServers: [rs('10.0.1.1', 80, { weight: 10 }), rs('10.0.1.2', 80, { weight: 10 })] });
    const m = new LvsManager(config([v]));
    m.start(0);
    const [a, b] = v.realServers.map((r) => r.id) as [string, string];
    m.onCheck({ rsId: a, up: false, reason: 'x' }, 1);
    expect(m.status()[0]!.quorumUp).toBe(true);
    m.onCheck({ rsId: b, up: true, reason: 'misc exit 7', weight: 5 }, 2);
    expect(m.status()[0]).toMatchObject({ quorumUp: false, aliveWeight: 5 });
    m.onCheck({ rsId: b, up: true, reason: 'misc exit 12', weight: 10 }, 3);
    expect(m.status()[0]).toMatchObject({ quorumUp: true, aliveWeight: 10 });
  });
});
