import { describe, expect, it } from 'vitest';
import { masterDownMs, normaliseAdvertIntMs, skewMs } from '../../../src/vrrp/timers.js';

describe('Skew_Time / Master_Down_Interval (keepalived integer µs)', () => {
  it.each([
    // version, prio, interval ms, down adverts, skew ms, MDI ms, where the number comes from
    [2, 100, 1000, 3, 609.375, 3609.375, 'lab (a)/(c): 3609.6 / 609.6 ms on the wire'],
    [3, 100, 1000, 3, 609.375, 3609.375, 'v3 at 1 s equals v2'],
    [3, 100, 100, 3, 60.937, 360.937, 'lab (b)/(c\'): 361.1 / 61.1 ms; keepalived truncates 60937.5 µs'],
    [3, 100, 10, 3, 6.093, 36.093, 'lab (b\'): 36.3 ms'],
    [2, 150, 1000, 3, 414.062, 3414.062, 'lab preempt: 3.414 s for the returning prio-150 d1'],
    [3, 150, 100, 3, 41.406, 341.406, 'lab preempt v3/0.1: 0.341 s'],
    [3, 150, 10, 3, 4.14, 34.14, 'lab preempt v3/0.01: 34 ms'],
    [3, 100, 100, 30, 60.937, 3060.937, 'maintainer advice #2179: down_timer_adverts 30'],
    [2, 255, 1000, 3, 3.906, 3003.906, 'owner'],
    [2, 1, 1000, 3, 996.093, 3996.093, 'lowest priority'],
  ] as [2 | 3, number, number, number, number, number, string][])('v%i prio %i at %i ms (×%i): skew %f, MDI %f — %s', (v, prio, intMs, n, skew, mdi) => {
    expect(skewMs(v, prio, intMs)).toBeCloseTo(skew, 6);
    expect(masterDownMs(v, prio, intMs, n)).toBeCloseTo(mdi, 6);
  });

  it('v2 skew ignores the interval (RFC 3768: (256-prio)/256 s)', () => {
    expect(skewMs(2, 100, 5000)).toBe(609.375);
    expect(masterDownMs(2, 100, 5000, 3)).toBe(15609.375);
  });
});

describe('advert_int normalisation (keepalived vrrp.c)', () => {
  it.each([
    [2, 1000, 1000],
    [2, 1400, 1000],
    [2, 1500, 2000],
    [2, 100, 1000],
    [2, 300000, 255000],
    [3, 100, 100],
    [3, 104, 100],
    [3, 5, 10],
    [3, 50000, 40950],
  ] as const)('v%i %i ms → %i ms', (v, ms, out) => {
    expect(normaliseAdvertIntMs(v, ms)).toBe(out);
  });
});
