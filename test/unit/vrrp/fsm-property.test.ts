// Random event sequences: the state machine never throws, and what the daemon would see through
// the actions (timers armed, VIPs installed) always agrees with the machine's own state.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Action, TimerName } from '../../../src/vrrp/actions.js';
import { VrrpFsm, type FsmEvent } from '../../../src/vrrp/fsm.js';
import { instanceConfigFromModel } from '../../../src/vrrp/instance-config.js';
import { instance, rx } from './helpers.js';

const event = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'startup' as const }) },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('advert' as const),
      priority: fc.integer({ min: 0, max: 255 }),
      src: fc.constantFrom('10.99.0.11', '10.99.0.12', '10.99.0.13'),
      version: fc.constantFrom(2 as const, 3 as const),
      advertIntMs: fc.constantFrom(1000, 2000, 100),
      ttl: fc.constantFrom(255, 255, 64),
    }),
  },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('timer' as const), timer: fc.constantFrom<TimerName>('masterDown', 'advert', 'garp') }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('priority' as const), priority: fc.integer({ min: 1, max: 254 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('fault' as const), state: fc.constantFrom('ok' as const, 'fault' as const, 'pending' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sync' as const), to: fc.constantFrom('MASTER' as const, 'BACKUP' as const, 'FAULT' as const, 'FAULT_CLEARED' as const) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'shutdown' as const }) },
);

describe('state machine invariants under random events', () => {
  it.each([
    ['v2 prio 100', { priority: 100 }],
    ['v3 owner', { priority: 255, version: 3 as const }],
    ['v2 nopreempt, preempt_delay ignored', { priority: 120, preempt: false }],
    ['v3 preempt_delay, lower_prio_no_advert, higher_prio_send_advert', { priority: 150, version: 3 as const, preemptDelayMs: 1500, lowerPrioNoAdvert: true, higherPrioSendAdvert: true }],
  ])('%s', (_n, o) => {
    fc.assert(
      fc.property(fc.array(fc.tuple(event, fc.integer({ min: 0, max: 3000 })), { maxLength: 60 }), (steps) => {
        const f = new VrrpFsm(instanceConfigFromModel(instance(o), { primaryAddress: '10.99.0.12' }));
        const timers = new Map<TimerName, number>();
        let vips = false;
        let now = 0;
        for (const [e, dt] of steps) {
          now += dt;
          let ev: FsmEvent;
          if (e.kind === 'advert') ev = { type: 'advert', packet: rx({ ...e, advertIntMs: e.version === 2 ? Math.max(1000, e.advertIntMs) : e.advertIntMs }) };
          else if (e.kind === 'timer') {
            // fire an armed timer at its deadline (what a correct daemon does), else a stray fire
            const at = timers.get(e.timer);
            if (at !== undefined) now = Math.max(now, at);
            ev = { type: 'timer', timer: e.timer };
          } else if (e.kind === 'startup') ev = { type: 'startup' };
          else if (e.kind === 'priority') ev = { type: 'priority', priority: e.priority };
          else if (e.kind === 'fault') ev = { type: 'fault', state: e.state };
          else if (e.kind === 'sync') ev = { type: 'sync', to: e.to };
          else ev = { type: 'shutdown' };
          const before = f.state;
          const r = f.handle(ev, now);
          for (const a of r.actions as Action[]) {
            if (a.type === 'startTimer') {
              expect(a.at).toBeGreaterThanOrEqual(now - 1);
              timers.set(a.timer, a.at);
            } else if (a.type === 'stopTimer') timers.delete(a.timer);
            else if (a.type === 'addVips') vips = true;
            else if (a.type === 'removeVips') vips = false;
            else if (a.type === 'sendAdvert') expect([0, f.effectivePriority]).toContain(a.priority);
            else if (a.type === 'stateChange') expect(a.from).not.toBe(a.to);
          }
          if (ev.type === 'timer' && timers.get(ev.timer) !== undefined && timers.get(ev.timer)! <= now) timers.delete(ev.timer);
          // the daemon's view of the timers equals the machine's
          expect(Object.fromEntries(timers)).toEqual({ ...f.deadlines });
          expect(vips).toBe(f.state === 'MASTER');
          if (f.state === 'MASTER') expect(f.deadlines.advert).toBeDefined();
          if (f.state === 'BACKUP') expect(f.deadlines.masterDown).toBeDefined();
          if (f.state !== 'BACKUP') expect(f.deadlines.masterDown).toBeUndefined();
          if (f.state !== 'MASTER') expect(f.deadlines.advert ?? f.deadlines.garp).toBeUndefined();
          if (before === 'STOP') expect(f.state).toBe('STOP');
          if (f.faulted && f.state !== 'INIT' && f.state !== 'STOP') expect(f.state).toBe('FAULT');
        }
      }),
      { numRuns: 1500 },
    );
  });
});
