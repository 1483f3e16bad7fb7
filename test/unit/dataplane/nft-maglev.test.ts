// Maglev lookup table (src/dataplane/nftables/maglev.ts): the paper's properties.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isPrime, MAGLEV_SIZES, maglevTable, maglevTurns } from '../../../src/dataplane/nftables/maglev.js';

const backends = (n: number, weight = 1) => Array.from({ length: n }, (_, i) => ({ id: `10.0.${i >> 8}.${i & 255}:80`, weight }));
const countOf = (t: number[], n: number): number[] => {
  const c = new Array<number>(n).fill(0);
  for (const x of t) c[x]!++;
  return c;
};

describe('maglev', () => {
  it('uses prime table sizes and refuses others', () => {
    for (const m of MAGLEV_SIZES) expect(isPrime(m)).toBe(true);
    expect(isPrime(1)).toBe(false);
    expect(isPrime(1024)).toBe(false);
    expect(() => maglevTable(backends(3), 1000)).toThrow(/prime/);
  });

  it('fills every slot, and equal weights get M/N slots each (differing by at most one)', () => {
    for (const [n, m] of [
      [3, 251],
      [10, 1021],
      [7, 4093],
    ] as const) {
      const t = maglevTable(backends(n), m);
      expect(t).toHaveLength(m);
      const c = countOf(t, n);
      expect(Math.max(...c) - Math.min(...c)).toBeLessThanOrEqual(1);
      expect(c.reduce((a, b) => a + b, 0)).toBe(m);
    }
  });

  it('gives weighted backends slots in proportion (1:2:3, and weights reduced by their gcd)', () => {
    const t = maglevTable(
      [
        { id: 'a', weight: 10 },
        { id: 'b', weight: 20 },
        { id: 'c', weight: 30 },
      ],
      1021,
    );
    const c = countOf(t, 3);
    expect(Math.abs(c[0]! - 1021 / 6)).toBeLessThanOrEqual(3);
    expect(Math.abs(c[1]! - 1021 / 3)).toBeLessThanOrEqual(3);
    expect(Math.abs(c[2]! - 1021 / 2)).toBeLessThanOrEqual(3);
    expect(maglevTurns([10, 20, 30], 1021)).toEqual([1, 2, 3]);
    expect(maglevTurns([0, 5], 251)).toEqual([0, 1]);
  });

  it('weight 0 owns nothing; no live backend gives an empty table', () => {
    const t = maglevTable([{ id: 'a', weight: 0 }, ...backends(2)], 251);
    expect(t).not.toContain(0);
    expect(maglevTable([{ id: 'a', weight: 0 }], 251)).toEqual([]);
  });

  it('removing a backend moves its slots and only a few others (minimal disruption)', () => {
    for (const [n, m, bound] of [
      [3, 1021, 0.03],
      [10, 1021, 0.05],
      [10, 4093, 0.02],
    ] as const) {
      const b = backends(n);
      const before = maglevTable(b, m);
      for (let r = 0; r < n; r++) {
        const after = maglevTable(
          b.map((x, i) => (i === r ? { ...x, weight: 0 } : x)),
          m,
        );
        let extra = 0;
        for (let i = 0; i < m; i++) {
          expect(after[i]).not.toBe(r);
          if (before[i] !== r && after[i] !== before[i]) extra++;
        }
        expect(extra / m).toBeLessThanOrEqual(bound);
      }
    }
  });

  it('adding a backend takes about 1/(N+1) of the slots', () => {
    const b = backends(10);
    const before = maglevTable(b, 4093);
    const after = maglevTable([...b, { id: 'new:80', weight: 1 }], 4093);
    let moved = 0;
    for (let i = 0; i < 4093; i++) if (after[i] !== before[i]) moved++;
    expect(moved / 4093).toBeGreaterThan(1 / 11 - 0.01);
    expect(moved / 4093).toBeLessThan(1 / 11 + 0.03);
  });

  it('is a pure function of the backends (same table on every director)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.ipV4(), { minLength: 1, maxLength: 12 }), fc.constantFrom(251, 509, 1021), (ips, m) => {
        const b = ips.map((ip) => ({ id: `${ip}:80`, weight: 1 }));
        const t = maglevTable(b, m);
        expect(maglevTable(b.map((x) => ({ ...x })), m)).toEqual(t);
        expect(t).toHaveLength(m);
        // every backend owns at least one slot when M >= N
        expect(new Set(t).size).toBe(ips.length);
      }),
      { numRuns: 50 },
    );
  });
});
