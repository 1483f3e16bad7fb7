// The state machine, table-driven: every RFC 5798 §6.4 transition, then keepalived specifics.
import { describe, expect, it } from 'vitest';
import type { VrrpInstance } from '../../../src/config/model.js';
import type { Action } from '../../../src/vrrp/actions.js';
import { encodeVrrp } from '../../../src/vrrp/codec.js';
import { VrrpFsm, type FsmEvent, type StepResult } from '../../../src/vrrp/fsm.js';
import { instanceConfigFromModel } from '../../../src/vrrp/instance-config.js';
import { rxFromIpv6 } from '../../../src/vrrp/receive.js';
import { instance, rx, vip, type AdvertOpts } from './helpers.js';

const ME = '10.99.0.12'; // we are "d2"; the peer "d1" is 10.99.0.11

function make(o: Partial<VrrpInstance> = {}, primary = ME): VrrpFsm {
  return new VrrpFsm(instanceConfigFromModel(instance(o), { primaryAddress: primary }));
}

function of<T extends Action['type']>(r: StepResult, t: T): Extract<Action, { type: T }>[] {
  return r.actions.filter((a): a is Extract<Action, { type: T }> => a.type === t);
}

function types(r: StepResult): string[] {
  return r.actions.map((a) => (a.type === 'startTimer' || a.type === 'stopTimer' ? `${a.type}:${a.timer}` : a.type));
}

const advert = (o: AdvertOpts): FsmEvent => ({ type: 'advert', packet: rx(o) });

/** started BACKUP at t=0 */
function backup(o: Partial<VrrpInstance> = {}): VrrpFsm {
  const f = make(o);
  f.handle({ type: 'startup' }, 0);
  expect(f.state).toBe('BACKUP');
  return f;
}

/** MASTER since t=0 (down timer expired) */
function master(o: Partial<VrrpInstance> = {}): VrrpFsm {
  const f = backup(o);
  f.handle({ type: 'timer', timer: 'masterDown' }, f.deadlines.masterDown!);
  expect(f.state).toBe('MASTER');
  return f;
}

interface Row {
  row: string;
  given: () => VrrpFsm;
  when: FsmEvent;
  at: number | ((f: VrrpFsm) => number);
  then: (r: StepResult, f: VrrpFsm, at: number) => void;
}

const RFC_5798_6_4: Row[] = [
  {
    row: '6.4.1 Initialize: Startup, Priority = 255 → send advert, GARP, Adver_Timer, MASTER',
    given: () => make({ priority: 255 }),
    when: { type: 'startup' },
    at: 0,
    then: (r, f) => {
      expect(f.state).toBe('MASTER');
      expect(of(r, 'sendAdvert')).toEqual([{ type: 'sendAdvert', priority: 255 }]);
      expect(of(r, 'sendGarp')[0]!.sends).toHaveLength(5);
      expect(of(r, 'startTimer').find((t) => t.timer === 'advert')!.at).toBe(1000);
      expect(of(r, 'stateChange')).toEqual([{ type: 'stateChange', from: 'INIT', to: 'MASTER', reason: 'owner', priority: 255 }]);
    },
  },
  {
    row: '6.4.1 Initialize: Startup, Priority < 255 → Master_Down_Timer = MDI, BACKUP',
    given: () => make({ priority: 100 }),
    when: { type: 'startup' },
    at: 0,
    then: (r, f) => {
      expect(f.state).toBe('BACKUP');
      expect(f.masterAdverIntMs).toBe(1000);
      expect(of(r, 'startTimer')).toEqual([{ type: 'startTimer', timer: 'masterDown', at: 3609.375 }]);
      expect(of(r, 'sendAdvert')).toEqual([]);
      expect(of(r, 'stateChange')[0]).toMatchObject({ from: 'INIT', to: 'BACKUP', reason: 'startup' });
    },
  },
  {
    row: '6.4.2 Backup: Shutdown → cancel Master_Down_Timer, Initialize (STOP)',
    given: () => backup(),
    when: { type: 'shutdown' },
    at: 500,
    then: (r, f) => {
      expect(f.state).toBe('STOP');
      expect(types(r)).toEqual(['stopTimer:masterDown', 'stateChange']);
    },
  },
  {
    row: '6.4.2 Backup: Master_Down_Timer fires → send advert, GARP, Adver_Timer, MASTER',
    given: () => backup(),
    when: { type: 'timer', timer: 'masterDown' },
    at: 3609.375,
    then: (r, f) => {
      expect(f.state).toBe('MASTER');
      // keepalived order: advert first (old master drops VIPs), then VIPs, GARPs, notify
      expect(types(r)).toEqual(['sendAdvert', 'addVips', 'sendGarp', 'startTimer:garp', 'startTimer:advert', 'stateChange']);
      expect(of(r, 'sendAdvert')[0]!.priority).toBe(100);
      expect(of(r, 'startTimer').find((t) => t.timer === 'advert')!.at).toBe(4609.375);
      expect(of(r, 'stateChange')[0]!.reason).toBe('master-down');
    },
  },
  {
    row: '6.4.2 Backup: advert with Priority 0 → Master_Down_Timer = Skew_Time',
    given: () => backup(),
    when: advert({ priority: 0 }),
    at: 2000,
    then: (r, f) => {
      expect(f.state).toBe('BACKUP');
      expect(of(r, 'startTimer')).toEqual([{ type: 'startTimer', timer: 'masterDown', at: 2609.375 }]);
    },
  },
  {
    row: '6.4.2 Backup: advert priority ≥ local → Master_Adver_Interval from advert, reset Master_Down_Timer',
    given: () => backup({ version: 3 }),
    when: advert({ version: 3, priority: 150, advertIntMs: 2000 }),
    at: 1000,
    then: (r, f) => {
      expect(f.masterAdverIntMs).toBe(2000);
      expect(of(r, 'startTimer')).toEqual([{ type: 'startTimer', timer: 'masterDown', at: 1000 + 3 * 2000 + 1218.75 }]);
      expect(f.masterAddr).toBe('10.99.0.11');
      expect(f.masterPriority).toBe(150);
    },
  },
  {
    row: '6.4.2 Backup: advert priority < local, Preempt_Mode False → accepted, reset Master_Down_Timer',
    given: () => backup({ preempt: false }),
    when: advert({ priority: 50 }),
    at: 1000,
    then: (r) => expect(of(r, 'startTimer')).toEqual([{ type: 'startTimer', timer: 'masterDown', at: 4609.375 }]),
  },
  {
    row: '6.4.2 Backup: advert priority < local, Preempt_Mode True → discarded (timer keeps running)',
    given: () => backup(),
    when: advert({ priority: 50 }),
    at: 1000,
    then: (r, f) => {
      expect(r.actions).toEqual([]);
      expect(f.deadlines.masterDown).toBe(3609.375);
      expect(f.stats.lowerPriorityIgnored).toBe(1);
    },
  },
  {
    row: '6.4.3 Master: Shutdown → cancel Adver_Timer, send advert priority 0, Initialize (STOP)',
    given: () => master(),
    when: { type: 'shutdown' },
    at: 5000,
    then: (r, f) => {
      expect(f.state).toBe('STOP');
      expect(types(r)).toEqual(['sendAdvert', 'stopTimer:advert', 'stopTimer:garp', 'removeVips', 'stateChange']);
      expect(of(r, 'sendAdvert')[0]!.priority).toBe(0);
    },
  },
  {
    row: '6.4.3 Master: Adver_Timer fires → send advert, reset Adver_Timer',
    given: () => master(),
    when: { type: 'timer', timer: 'advert' },
    at: 4609.375,
    then: (r) => expect(types(r)).toEqual(['sendAdvert', 'startTimer:advert']),
  },
  {
    row: '6.4.3 Master: advert priority 0 → send advert, reset Adver_Timer',
    given: () => master(),
    when: advert({ priority: 0 }),
    at: 4000,
    then: (r, f) => {
      expect(f.state).toBe('MASTER');
      expect(of(r, 'sendAdvert')).toEqual([{ type: 'sendAdvert', priority: 100 }]);
      expect(of(r, 'startTimer')).toEqual([{ type: 'startTimer', timer: 'advert', at: 5000 }]);
    },
  },
  {
    row: '6.4.3 Master: advert priority greater → cancel Adver_Timer, Master_Down_Timer, BACKUP',
    given: () => master({ version: 3 }),
    when: advert({ version: 3, priority: 150, advertIntMs: 500 }),
    at: 4000,
    then: (r, f) => {
      expect(f.state).toBe('BACKUP');
      expect(f.masterAdverIntMs).toBe(500);
      expect(types(r)).toEqual(['stopTimer:advert', 'stopTimer:garp', 'removeVips', 'stateChange', 'startTimer:masterDown']);
      expect(of(r, 'startTimer')[0]!.at).toBe(4000 + 1500 + 304.687);
      expect(of(r, 'sendAdvert')).toEqual([]);
      expect(of(r, 'stateChange')[0]!.reason).toBe('higher-priority');
    },
  },
  {
    row: '6.4.3 Master: equal priority, higher primary address → BACKUP',
    given: () => master(),
    when: advert({ priority: 100, src: '10.99.0.13' }),
    at: 4000,
    then: (_r, f) => expect(f.state).toBe('BACKUP'),
  },
  {
    row: '6.4.3 Master: equal priority, lower primary address → stays MASTER',
    given: () => master(),
    when: advert({ priority: 100, src: '10.99.0.11' }),
    at: 4000,
    then: (_r, f) => expect(f.state).toBe('MASTER'),
  },
  {
    row: '6.4.3 Master: lower priority → stays MASTER (keepalived re-sends its advert)',
    given: () => master(),
    when: advert({ priority: 50 }),
    at: 4000,
    then: (r, f) => {
      expect(f.state).toBe('MASTER');
      expect(of(r, 'sendAdvert')).toEqual([{ type: 'sendAdvert', priority: 100 }]);
      expect(of(r, 'masterRxLowerPri')).toEqual([{ type: 'masterRxLowerPri', peer: '10.99.0.11', peerPriority: 50, priority: 100 }]);
    },
  },
];

describe('RFC 5798 §6.4 transitions', () => {
  it.each(RFC_5798_6_4)('$row', ({ given, when, at, then }) => {
    const f = given();
    const t = typeof at === 'function' ? at(f) : at;
    then(f.handle(when, t), f, t);
  });
});

describe('keepalived specifics', () => {
  it('state MASTER (non-owner) starts BACKUP and takes over only when its own timer expires (3414.062 ms at prio 150)', () => {
    const f = make({ initialState: 'MASTER', priority: 150 });
    const r = f.handle({ type: 'startup' }, 0);
    expect(f.state).toBe('BACKUP');
    expect(of(r, 'removeVips')).toHaveLength(1); // "removing VIPs" at start
    expect(f.deadlines.masterDown).toBeCloseTo(3414.062, 6);
    // lower-priority adverts of the current master (d2, 100) are ignored: the timer is not reset
    expect(f.handle(advert({ priority: 100, src: '10.99.0.12' }), 1000).actions).toEqual([]);
    expect(f.handle(advert({ priority: 100, src: '10.99.0.12' }), 2000).actions).toEqual([]);
    const m = f.handle({ type: 'timer', timer: 'masterDown' }, 3414.062);
    expect(f.state).toBe('MASTER');
    expect(of(m, 'stateChange')[0]!.reason).toBe('preempt');
  });

  it('priority 255 is MASTER at startup even with state BACKUP, and ignores tracker priority changes', () => {
    const f = make({ priority: 255, initialState: 'BACKUP' });
    f.handle({ type: 'startup' }, 0);
    expect(f.state).toBe('MASTER');
    expect(f.handle({ type: 'priority', priority: 200 }, 10).actions).toEqual([]);
    expect(f.effectivePriority).toBe(255);
  });

  it('equal-priority tie-break compares IPv6 addresses as unsigned bytes', () => {
    const mk = () => {
      const f = new VrrpFsm(
        instanceConfigFromModel(instance({ family: 'inet6', version: 3, vrid: 52, virtualIps: [vip('fd99::100', 64)] }), {
          primaryAddress: 'fe80::99:ff:fe00:12',
        }),
      );
      f.handle({ type: 'startup' }, 0);
      f.handle({ type: 'timer', timer: 'masterDown' }, f.deadlines.masterDown!);
      return f;
    };
    const v6 = (src: string): FsmEvent => {
      const msg = encodeVrrp(
        { version: 3, vrid: 52, priority: 100, advertIntMs: 1000, addresses: ['fd99::100'] },
        { family: 'inet6', src, dst: 'ff02::12' },
      );
      const r = rxFromIpv6(msg, { src, dst: 'ff02::12', hopLimit: 255 });
      if (!r.ok) throw new Error(r.detail);
      return { type: 'advert', packet: r.value };
    };
    const a = mk();
    a.handle(v6('fe80::99:ff:fe00:11'), 5000); // lower
    expect(a.state).toBe('MASTER');
    const b = mk();
    b.handle(v6('fe80::99:ff:fe00:ff'), 5000); // higher in the last byte
    expect(b.state).toBe('BACKUP');
    const c = mk();
    c.handle(v6('fe81::1'), 5000); // higher in the first byte, lower after
    expect(c.state).toBe('BACKUP');
  });

  it('nopreempt: a higher-priority backup keeps accepting a lower-priority master', () => {
    const f = backup({ priority: 200, preempt: false });
    for (let t = 1000; t < 20000; t += 1000) f.handle(advert({ priority: 100 }), t);
    expect(f.state).toBe('BACKUP');
    expect(f.deadlines.masterDown).toBe(19000 + 3000 + 218.75);
  });

  it('preempt_delay: lower-priority adverts are accepted until the delay has passed, then ignored', () => {
    const f = backup({ priority: 200, preemptDelayMs: 2000 });
    f.handle(advert({ priority: 100 }), 1000); // starts the delay: preempt at 3000
    expect(f.preemptAt).toBe(3000);
    f.handle(advert({ priority: 100 }), 2000);
    f.handle(advert({ priority: 100 }), 3000); // not > now any more → accepted? preemptAt > now is false → ignored
    expect(f.deadlines.masterDown).toBe(2000 + 3218.75);
    f.handle(advert({ priority: 100 }), 4000);
    f.handle(advert({ priority: 100 }), 5000);
    expect(f.state).toBe('BACKUP');
    const r = f.handle({ type: 'timer', timer: 'masterDown' }, 5218.75);
    expect(f.state).toBe('MASTER');
    expect(of(r, 'stateChange')[0]!.reason).toBe('preempt');
    // ≈ delay (2 s) + MDI after the first lower-priority advert, as keepalived's man page says
  });

  it('preempt_delay stops when a higher-priority master appears', () => {
    const f = backup({ priority: 200, preemptDelayMs: 2000 });
    f.handle(advert({ priority: 100 }), 1000);
    f.handle(advert({ priority: 250 }), 1500);
    expect(f.preemptAt).toBeUndefined();
  });

  it('preempt_delay is cleared with state MASTER (keepalived config fix-up)', () => {
    const cfg = instanceConfigFromModel(instance({ initialState: 'MASTER', preemptDelayMs: 5000 }), { primaryAddress: ME });
    expect(cfg.preemptDelayMs).toBe(0);
    expect(cfg.warnings.join()).toMatch(/preempt delay will not work/);
  });

  it('v3 backup adopts the master interval and reverts to its own when it becomes master', () => {
    const f = backup({ version: 3, advertIntMs: 1000 });
    f.handle(advert({ version: 3, priority: 150, advertIntMs: 100 }), 100);
    expect(f.masterAdverIntMs).toBe(100);
    expect(f.deadlines.masterDown).toBeCloseTo(100 + 300 + 60.937, 6);
    const r = f.handle({ type: 'timer', timer: 'masterDown' }, f.deadlines.masterDown!);
    expect(f.masterAdverIntMs).toBe(1000);
    expect(of(r, 'startTimer').find((t) => t.timer === 'advert')!.at).toBeCloseTo(460.937 + 1000, 6);
  });

  it('lower_prio_no_advert: a master does not answer lower-priority adverts', () => {
    const f = master({ lowerPrioNoAdvert: true });
    const r = f.handle(advert({ priority: 50 }), 4000);
    expect(of(r, 'sendAdvert')).toEqual([]);
    expect(of(r, 'masterRxLowerPri')).toHaveLength(1);
  });

  it('higher_prio_send_advert: a master sends one advert before stepping down', () => {
    const f = master({ higherPrioSendAdvert: true });
    const r = f.handle(advert({ priority: 150 }), 4000);
    expect(types(r)[0]).toBe('sendAdvert');
    expect(f.state).toBe('BACKUP');
  });

  it('lower-priority advert triggers the lower-priority GARP burst now and after garp_lower_prio_delay', () => {
    const f = master({ garpLowerPrioRepeat: 2, garpLowerPrioDelayMs: 3000, garpMasterDelayMs: 0 });
    const r = f.handle(advert({ priority: 50 }), 4000);
    expect(of(r, 'sendGarp')[0]!.sends.map((s) => s.address)).toEqual(['10.99.0.100', '10.99.0.100']);
    expect(f.deadlines.garp).toBe(7000);
    const later = f.handle({ type: 'timer', timer: 'garp' }, 7000);
    expect(of(later, 'sendGarp')[0]!.sends).toHaveLength(2);
  });

  it('FAULT: BACKUP → FAULT silently drops the timer; MASTER → FAULT resigns with priority 0; leaving FAULT → BACKUP', () => {
    const b = backup();
    const r1 = b.handle({ type: 'fault', state: 'fault', reason: 'eth0 down' }, 100);
    expect(b.state).toBe('FAULT');
    expect(types(r1)).toEqual(['stopTimer:masterDown', 'stateChange']);
    expect(b.handle(advert({ priority: 150 }), 200).drop?.reason).toBe('ignored-state');
    expect(b.handle({ type: 'timer', timer: 'masterDown' }, 4000).actions).toEqual([]);
    const r2 = b.handle({ type: 'fault', state: 'ok' }, 5000);
    expect(b.state).toBe('BACKUP');
    expect(of(r2, 'stateChange')[0]).toMatchObject({ from: 'FAULT', to: 'BACKUP', reason: 'fault-cleared' });
    expect(b.deadlines.masterDown).toBe(8609.375);

    const m = master();
    const r3 = m.handle({ type: 'fault', state: 'fault' }, 5000);
    expect(m.state).toBe('FAULT');
    expect(types(r3)).toEqual(['sendAdvert', 'stopTimer:advert', 'stopTimer:garp', 'removeVips', 'stateChange']);
    expect(of(r3, 'sendAdvert')[0]!.priority).toBe(0);
  });

  it('an owner leaving FAULT goes straight back to MASTER', () => {
    const f = make({ priority: 255 });
    f.handle({ type: 'fault', state: 'fault' }, 0);
    f.handle({ type: 'startup' }, 0);
    expect(f.state).toBe('FAULT');
    f.handle({ type: 'fault', state: 'ok' }, 10);
    expect(f.state).toBe('MASTER');
  });

  it('an unweighted script that has not run keeps the instance in INIT, then decides', () => {
    const f = make();
    f.handle({ type: 'fault', state: 'pending' }, 0);
    expect(f.handle({ type: 'startup' }, 0).actions).toEqual([]);
    expect(f.state).toBe('INIT');
    f.handle({ type: 'fault', state: 'ok' }, 50);
    expect(f.state).toBe('BACKUP');
    const g = make();
    g.handle({ type: 'fault', state: 'pending' }, 0);
    g.handle({ type: 'startup' }, 0);
    const r = g.handle({ type: 'fault', state: 'fault' }, 50);
    expect(g.state).toBe('FAULT');
    expect(of(r, 'stateChange')[0]).toMatchObject({ from: 'INIT', to: 'FAULT' });
  });

  it('priority change in BACKUP moves the running down timer by the skew difference', () => {
    const f = backup({ priority: 100 });
    const r = f.handle({ type: 'priority', priority: 200 }, 1000);
    expect(of(r, 'priorityChange')).toEqual([{ type: 'priorityChange', from: 100, to: 200, state: 'BACKUP' }]);
    // skew 609.375 → 218.75
    expect(f.deadlines.masterDown).toBe(3609.375 - 609.375 + 218.75);
    expect(of(f.handle({ type: 'priority', priority: 300 }, 1000), 'priorityChange')[0]).toMatchObject({ to: 254 });
  });

  it('a master uses its new priority in the next advert', () => {
    const f = master();
    f.handle({ type: 'priority', priority: 80 }, 4000);
    const r = f.handle({ type: 'timer', timer: 'advert' }, 4609.375);
    expect(of(r, 'sendAdvert')[0]!.priority).toBe(80);
  });

  it('two address owners: keepalived lowers its own priority to 254 and steps down to the higher address', () => {
    const f = make({ priority: 255 });
    f.handle({ type: 'startup' }, 0);
    const r = f.handle(advert({ priority: 255, src: '10.99.0.13' }), 100);
    expect(of(r, 'log')[0]!.message).toMatch(/address owner/);
    expect(f.effectivePriority).toBe(254);
    expect(f.state).toBe('BACKUP');
  });

  it('accept mode travels with the VIP actions; owners always accept', () => {
    const m = master({ accept: false });
    const r = m.handle({ type: 'shutdown' }, 5000);
    expect(of(r, 'removeVips')[0]!.accept).toBe(false);
    const o = make({ priority: 255, accept: false });
    expect(of(o.handle({ type: 'startup' }, 0), 'addVips')[0]!.accept).toBe(true);
  });

  it('stale and early timers are ignored / re-armed', () => {
    const f = backup();
    expect(f.handle({ type: 'timer', timer: 'advert' }, 100).actions).toEqual([]);
    expect(f.handle({ type: 'timer', timer: 'masterDown' }, 1000).actions).toEqual([
      { type: 'startTimer', timer: 'masterDown', at: 3609.375 },
    ]);
    expect(f.state).toBe('BACKUP');
    f.handle({ type: 'timer', timer: 'masterDown' }, 3608.5); // < 1 ms early: fine
    expect(f.state).toBe('MASTER');
  });

  it('AH: every advert carries the next sequence number; the counter follows received sequence numbers', () => {
    const f = backup({ auth: { type: 'AH', password: 'labpass1' } });
    f.handle(advert({ ah: { seq: 41 } }), 100);
    expect(f.ah.seq).toBe(41);
    const r = f.handle({ type: 'timer', timer: 'masterDown' }, f.deadlines.masterDown!);
    expect(of(r, 'sendAdvert')[0]!.ahSeq).toBe(42);
    const r2 = f.handle({ type: 'timer', timer: 'advert' }, f.deadlines.advert!);
    expect(of(r2, 'sendAdvert')[0]!.ahSeq).toBe(43);
  });

  it('STOP is final', () => {
    const f = master();
    f.handle({ type: 'shutdown' }, 5000);
    expect(f.handle({ type: 'timer', timer: 'advert' }, 6000).actions).toEqual([]);
    expect(f.handle({ type: 'fault', state: 'ok' }, 6000).actions).toEqual([]);
    expect(f.handle({ type: 'startup' }, 6000).actions).toEqual([]);
    expect(f.handle(advert({ priority: 150 }), 6000).drop?.reason).toBe('ignored-state');
  });
});
