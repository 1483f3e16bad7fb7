import { describe, expect, it } from 'vitest';
import { TimerQueue } from '../../../src/daemon/timers.js';

// Precise keys (VRRP's master-down timer) must fire at or after their deadline, never early,
// while ordinary keys keep the batching slack. Real timers: only "not early" is asserted.
describe('TimerQueue precise keys', () => {
  it('fires precise deadlines never before they are due, in order, and clears them', async () => {
    const clock = (): number => performance.now();
    const fired: { key: string; at: number; now: number }[] = [];
    const deadlines = new Map<string, number>();
    const q = new TimerQueue((key, now) => fired.push({ key, at: deadlines.get(key)!, now }), clock, 0.5, (k) => k.startsWith('p'));
    const t0 = clock();
    for (let i = 0; i < 20; i++) {
      const at = t0 + 3 + i * 1.37 + Math.random() * 0.9;
      deadlines.set(`p${i}`, at);
      q.set(`p${i}`, at);
    }
    deadlines.set('n', t0 + 5.2);
    q.set('n', t0 + 5.2);
    q.set('pgone', t0 + 4);
    q.clear('pgone');
    await new Promise((r) => setTimeout(r, 60));
    q.stop();
    const precise = fired.filter((f) => f.key.startsWith('p'));
    expect(precise.map((f) => f.key)).toEqual([...Array(20).keys()].map((i) => `p${i}`));
    for (const f of precise) expect(f.now).toBeGreaterThanOrEqual(f.at);
    expect(fired.some((f) => f.key === 'n')).toBe(true);
    expect(fired.some((f) => f.key === 'pgone')).toBe(false);
  });

  it('stop() cancels a deadline that is being polled for', async () => {
    const fired: string[] = [];
    const q = new TimerQueue((k) => fired.push(k), () => performance.now(), 0.5, () => true);
    q.set('x', performance.now() + 0.5); // inside the poll window at once
    q.stop();
    await new Promise((r) => setTimeout(r, 10));
    expect(fired).toEqual([]);
  });
});
