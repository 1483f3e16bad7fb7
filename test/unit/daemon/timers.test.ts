import { describe, expect, it, vi } from 'vitest';
import { TimerQueue } from '../../../src/daemon/timers.js';

describe('TimerQueue', () => {
  it('fires in deadline order, replaces and clears keys', async () => {
    vi.useFakeTimers();
    let now = 0;
    const fired: string[] = [];
    const q = new TimerQueue((k) => fired.push(k), () => now);
    q.set('a', 30);
    q.set('b', 10);
    q.set('c', 20);
    q.set('a', 5); // replaces a@30
    q.clear('c');
    for (let t = 1; t <= 40; t++) {
      now = t;
      vi.advanceTimersByTime(1);
    }
    expect(fired).toEqual(['a', 'b']);
    vi.useRealTimers();
  });

  it('keeps order for many random deadlines and re-arms set inside the callback', async () => {
    vi.useFakeTimers();
    let now = 0;
    const fired: [string, number][] = [];
    const deadlines = new Map<string, number>();
    const q = new TimerQueue((k, t) => {
      fired.push([k, t]);
      if (k === 'periodic' && t < 100) q.set('periodic', t + 10);
    }, () => now, 0);
    for (let i = 0; i < 200; i++) {
      const at = Math.floor(Math.random() * 100) + 1;
      deadlines.set(`k${i}`, at);
      q.set(`k${i}`, at);
    }
    q.set('periodic', 10);
    for (let t = 1; t <= 120; t++) {
      now = t;
      vi.advanceTimersByTime(1);
    }
    const ks = fired.filter(([k]) => k !== 'periodic');
    expect(ks).toHaveLength(200);
    for (const [k, t] of ks) expect(t).toBeGreaterThanOrEqual(deadlines.get(k)!);
    for (let i = 1; i < ks.length; i++) expect(deadlines.get(ks[i]![0])!).toBeGreaterThanOrEqual(deadlines.get(ks[i - 1]![0])!);
    expect(fired.filter(([k]) => k === 'periodic').map(([, t]) => t)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    vi.useRealTimers();
  });
});
