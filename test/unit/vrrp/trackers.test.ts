import { describe, expect, it } from 'vitest';
import type { TrackRef } from '../../../src/config/model.js';
import {
  computeTracking,
  parseTrackFileValue,
  ScriptCounter,
  TrackerWorld,
  trackingSpec,
} from '../../../src/vrrp/trackers.js';
import { instance, script, syncGroup, trackFile } from './helpers.js';

const ref = (name: string, weight?: number, reverse = false): TrackRef => ({
  name,
  ...(weight !== undefined ? { weight } : {}),
  reverse,
  loc: { file: '', line: 0, col: 0 },
});

describe('ScriptCounter (keepalived rise/fall)', () => {
  it('starts "init"; one result decides (init state: rise-1)', () => {
    const a = new ScriptCounter(3, 2, false);
    expect(a.status).toBe('init');
    expect(a.report(true)).toBe(true);
    expect(a.status).toBe('ok');
    const b = new ScriptCounter(3, 2, false);
    b.report(false);
    expect(b.status).toBe('fail');
  });

  it('needs `fall` consecutive failures to fail and `rise` successes to recover', () => {
    const s = new ScriptCounter(3, 2, false);
    s.report(true);
    expect(s.report(false)).toBe(false);
    expect(s.status).toBe('ok');
    expect(s.report(true)).toBe(false); // back to top
    s.report(false);
    expect(s.report(false)).toBe(true);
    expect(s.status).toBe('fail');
    s.report(true);
    s.report(true);
    expect(s.status).toBe('fail');
    expect(s.report(true)).toBe(true);
    expect(s.status).toBe('ok');
  });

  it('init_fail starts failed and needs `rise` successes', () => {
    const s = new ScriptCounter(2, 1, true);
    expect(s.status).toBe('fail');
    s.report(true);
    expect(s.status).toBe('fail');
    s.report(true);
    expect(s.status).toBe('ok');
  });
});

describe('effective priority and fault', () => {
  const scripts = {
    chk: script('chk', { weight: 0 }),
    plus: script('plus', { weight: 20 }),
    minus: script('minus', { weight: -30 }),
    rev: script('rev', { weight: 10, weightReverse: true }),
  };
  const files = { f: trackFile('f', { weight: 1 }), f0: trackFile('f0', { weight: 0 }), f10: trackFile('f10', { weight: 10 }) };
  const world = () => new TrackerWorld(scripts);

  it('the instance interface is tracked unweighted unless dont_track_primary', () => {
    const w = world();
    w.setInterface('eth0', false);
    expect(computeTracking(trackingSpec(instance(), undefined, {}, {}), w)).toMatchObject({ fault: 'fault' });
    expect(computeTracking(trackingSpec(instance({ dontTrackPrimary: true }), undefined, {}, {}), w)).toMatchObject({ fault: 'ok' });
  });

  it.each([
    // interface weight/reverse, link up?, expected priority / fault
    [undefined, false, true, 100, 'ok'],
    [undefined, false, false, 100, 'fault'],
    [undefined, true, true, 100, 'fault'], // weight 0 reverse: down when the interface is UP
    [undefined, true, false, 100, 'ok'],
    [10, false, true, 110, 'ok'], // +w while up
    [10, false, false, 100, 'ok'],
    [-10, false, true, 100, 'ok'],
    [-10, false, false, 90, 'ok'], // -|w| while down
    [10, true, true, 90, 'ok'], // reverse: decreased while up
    [10, true, false, 100, 'ok'],
    [-10, true, true, 100, 'ok'],
    [-10, true, false, 110, 'ok'], // reverse: increased while down
  ] as const)('track_interface eth1 weight %s reverse %s, up %s → %i %s', (w, rev, up, prio, fault) => {
    const wd = world();
    wd.setInterface('eth1', up);
    const spec = trackingSpec(instance({ trackInterfaces: [ref('eth1', w, rev)] }), undefined, {}, {});
    expect(computeTracking(spec, wd)).toMatchObject({ priority: prio, fault });
  });

  it('vrrp_script: unweighted → pending until first result, then FAULT on failure', () => {
    const w = world();
    const spec = trackingSpec(instance({ trackScripts: [ref('chk')] }), undefined, scripts, {});
    expect(computeTracking(spec, w).fault).toBe('pending');
    w.scriptResult('chk', false);
    expect(computeTracking(spec, w)).toMatchObject({ fault: 'fault', reasons: ['script chk failing'] });
    w.scriptResult('chk', true);
    expect(computeTracking(spec, w).fault).toBe('ok');
  });

  it('vrrp_script weights: +w while succeeding, -|w| while failing, nothing before the first run', () => {
    const w = world();
    const spec = trackingSpec(instance({ trackScripts: [ref('plus'), ref('minus')] }), undefined, scripts, {});
    expect(computeTracking(spec, w).priority).toBe(100);
    w.scriptResult('plus', true);
    w.scriptResult('minus', true);
    expect(computeTracking(spec, w).priority).toBe(120);
    w.scriptResult('plus', false);
    w.scriptResult('minus', false);
    expect(computeTracking(spec, w).priority).toBe(70);
  });

  it('vrrp_script reverse, from the script or overridden in track_script', () => {
    const w = world();
    w.scriptResult('rev', true);
    expect(computeTracking(trackingSpec(instance({ trackScripts: [ref('rev')] }), undefined, scripts, {}), w).priority).toBe(90);
    // track_script rev weight 10 (no reverse) overrides the script's reverse
    expect(computeTracking(trackingSpec(instance({ trackScripts: [ref('rev', 10)] }), undefined, scripts, {}), w).priority).toBe(110);
  });

  it('clamps to 1..254 and never adjusts an owner', () => {
    const w = world();
    w.scriptResult('plus', true);
    w.scriptResult('minus', false);
    const hi = trackingSpec(instance({ priority: 250, trackScripts: [ref('plus')] }), undefined, scripts, {});
    expect(computeTracking(hi, w).priority).toBe(254);
    const lo = trackingSpec(instance({ priority: 10, trackScripts: [ref('minus')] }), undefined, scripts, {});
    expect(computeTracking(lo, w).priority).toBe(1);
    const owner = trackingSpec(instance({ priority: 255, trackScripts: [ref('minus')] }), undefined, scripts, {});
    expect(computeTracking(owner, w).priority).toBe(255);
  });

  it('track_file: value × weight added; ≤ -254 ⇒ FAULT; weight 0 ⇒ non-zero is FAULT', () => {
    const w = world();
    const spec = trackingSpec(instance({ trackFiles: [ref('f10')] }), undefined, {}, files);
    w.setFile('f10', 5);
    expect(computeTracking(spec, w)).toMatchObject({ priority: 150, fault: 'ok' });
    w.setFile('f10', -25);
    expect(computeTracking(spec, w)).toMatchObject({ priority: 1, fault: 'ok' }); // -250 + 100 → clamp 1
    w.setFile('f10', -26);
    expect(computeTracking(spec, w).fault).toBe('fault'); // -260 ≤ -254
    const z = trackingSpec(instance({ trackFiles: [ref('f0')] }), undefined, {}, files);
    w.setFile('f0', 0);
    expect(computeTracking(z, w).fault).toBe('ok');
    w.setFile('f0', 3);
    expect(computeTracking(z, w).fault).toBe('fault');
    const zr = trackingSpec(instance({ trackFiles: [ref('f0', 0, true)] }), undefined, {}, files);
    expect(computeTracking(zr, w).fault).toBe('ok'); // reverse: non-zero is fine, 0 is the fault
    w.setFile('f0', 0);
    expect(computeTracking(zr, w).fault).toBe('fault');
  });

  it('track_file values are clamped to ±254 when read, then by weight to [-254, 253]', () => {
    const w = world();
    w.setFile('f', 100000);
    expect(w.files.get('f')).toBe(254);
    const spec = trackingSpec(instance({ trackFiles: [ref('f', 2)] }), undefined, {}, files);
    expect(computeTracking(spec, w).priority).toBe(254); // 100 + 253 → 254 cap
  });

  it('sync groups: group trackers apply to members, all weights forced to 0', () => {
    const g = syncGroup('VG', ['VI_1'], { trackScripts: [ref('plus')], trackInterfaces: [ref('eth2', 20)] });
    const spec = trackingSpec(instance({ syncGroup: 'VG', trackScripts: [ref('minus')] }), g, scripts, {});
    expect(spec.items.every((i) => i.weight === 0)).toBe(true);
    expect(spec.warnings.length).toBe(3);
    const w = world();
    w.scriptResult('plus', true);
    w.scriptResult('minus', true);
    w.setInterface('eth2', true);
    expect(computeTracking(spec, w)).toMatchObject({ priority: 100, fault: 'ok' });
    w.setInterface('eth2', false);
    expect(computeTracking(spec, w).fault).toBe('fault');
  });

  it('unknown tracked names are ignored with a warning', () => {
    const spec = trackingSpec(instance({ trackScripts: [ref('nope')], trackFiles: [ref('nofile')] }), undefined, scripts, files);
    expect(spec.warnings).toHaveLength(2);
    expect(spec.items.map((i) => i.kind)).toEqual(['interface']);
  });
});

describe('parseTrackFileValue (strtol base 0, clamp ±254)', () => {
  it.each([
    ['0', 0],
    ['12\n', 12],
    ['  -7 trailing', -7],
    ['+5', 5],
    ['0x1f', 31],
    ['010', 8],
    ['08', 0],
    ['0x', 0],
    ['abc', 0],
    ['', 0],
    ['999', 254],
    ['-999', -254],
  ])('%j → %i', (t, v) => expect(parseTrackFileValue(t)).toBe(v));
});
