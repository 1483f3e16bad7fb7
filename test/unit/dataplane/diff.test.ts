import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applyOpToTable, cloneTable, destSettingsEqual, diffTables, tablesEqual } from '../../../src/dataplane/diff.js';
import { MemoryEngine } from '../../../src/dataplane/memory.js';
import type { Op, TableState } from '../../../src/dataplane/types.js';
import { arbTable, dest, svc, table } from './tables.js';

const kinds = (ops: Op[]) => ops.map((o) => o.op);

describe('diffTables', () => {
  const s1 = svc('10.0.0.1', 80);
  const a = dest('10.1.0.1', 80);
  const b = dest('10.1.0.2', 80);

  it('adds a service before its dests', () => {
    expect(kinds(diffTables(new Map(), table([s1, [a, b]])))).toEqual(['add-service', 'add-dest', 'add-dest']);
  });

  it('deletes a service with one op (the kernel drops its dests), or dests first when asked', () => {
    expect(kinds(diffTables(table([s1, [a, b]]), new Map()))).toEqual(['del-service']);
    expect(kinds(diffTables(table([s1, [a, b]]), new Map(), { explicitDestDeletes: true }))).toEqual(['del-dest', 'del-dest', 'del-service']);
  });

  it('edits a service in place when scheduler, flags, timeout, netmask or PE change', () => {
    for (const patch of [
      { scheduler: 'rr' as const },
      { flags: { ...s1.flags, sched2: true } },
      { timeoutS: 60, flags: { ...s1.flags, persistent: true } },
      { netmask: '255.255.255.0' },
      { peName: 'sip' },
      { fullNatSource: '10.9.9.9' },
    ]) {
      const ops = diffTables(table([s1, [a]]), table([{ ...s1, ...patch }, [a]]));
      expect(kinds(ops)).toEqual(['edit-service']);
    }
  });

  it('edits a dest in place when weight, forwarding, thresholds or tunnel change', () => {
    for (const patch of [{ weight: 7 }, { fwd: 'DR' as const }, { uThreshold: 5 }, { lThreshold: 2 }]) {
      expect(kinds(diffTables(table([s1, [a]]), table([s1, [{ ...a, ...patch }]])))).toEqual(['edit-dest']);
    }
    const tun = { ...a, fwd: 'TUN' as const };
    expect(kinds(diffTables(table([s1, [tun]]), table([s1, [{ ...tun, tunnel: { type: 'gue', port: 6080 } }]])))).toEqual(['edit-dest']);
  });

  it('treats default tunnel parameters as equal to none', () => {
    const tun = { ...a, fwd: 'TUN' as const };
    expect(destSettingsEqual(tun, { ...tun, tunnel: { type: 'ipip', csum: 'nocsum' } })).toBe(true);
    expect(destSettingsEqual(a, { ...a, tunnel: { type: 'gre' } })).toBe(true); // not TUN: ignored
    expect(destSettingsEqual(tun, { ...tun, tunnel: { type: 'gre' } })).toBe(false);
    expect(destSettingsEqual(tun, { ...tun, tunnel: { type: 'ipip', csum: 'csum' } })).toBe(true); // no csum for IPIP
    expect(destSettingsEqual({ ...tun, tunnel: { type: 'gre' } }, { ...tun, tunnel: { type: 'gre', csum: 'csum' } })).toBe(false);
  });

  it('orders make-before-break: adds and raises, then lowers, then deletes', () => {
    const c = dest('10.1.0.3', 80);
    const from = table([s1, [a, { ...b, weight: 1 }, c]]);
    const to = table([s1, [{ ...a, weight: 0 }, { ...b, weight: 5 }, dest('10.1.0.9', 80)]]);
    expect(diffTables(from, to).map((o) => `${o.op} ${'dest' in o ? o.dest.key : ''}`)).toEqual([
      'edit-dest [10.1.0.2]:80',
      'add-dest [10.1.0.9]:80',
      'edit-dest [10.1.0.1]:80',
      'del-dest [10.1.0.3]:80',
    ]);
  });

  it('replaces a service whose identity changed under the same key', () => {
    const other = { ...s1, family: 'inet6' as const };
    expect(kinds(diffTables(table([s1, [a]]), table([other, [a]])))).toEqual(['del-service', 'add-service', 'add-dest']);
  });
});

describe('diffTables properties', () => {
  it('applying diff(from, to) to from yields exactly to (IPVS-like engine, no op refused)', async () => {
    await fc.assert(
      fc.asyncProperty(arbTable, arbTable, fc.boolean(), async (from, to, explicit) => {
        const engine = new MemoryEngine({ initial: from });
        const ops = diffTables(from, to, { explicitDestDeletes: explicit });
        const r = await engine.apply(ops);
        expect(r.failed).toEqual([]);
        expect(tablesEqual(await engine.observe(), to)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('diff(x, x) is empty, and so is diff(x, clone of x)', () => {
    fc.assert(
      fc.property(arbTable, (x) => {
        expect(diffTables(x, x)).toEqual([]);
        expect(diffTables(x, cloneTable(x))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('is minimal: one op per changed entry, no add of what exists, no delete of what stays', () => {
    fc.assert(
      fc.property(arbTable, arbTable, (from, to) => {
        const ops = diffTables(from, to);
        let expected = 0;
        for (const [k, s] of to) {
          const f = from.get(k);
          if (!f || f.svc.family !== s.svc.family) {
            expected += 1 + s.dests.size + (f ? 1 : 0);
            continue;
          }
          const one = table([f.svc, []]);
          const two = table([s.svc, []]);
          expected += diffTables(one, two).length; // 0 or 1 edit-service
          for (const [dk, d] of s.dests) {
            const fd = f.dests.get(dk);
            if (!fd || !destSettingsEqual(fd, d)) expected++;
          }
          for (const dk of f.dests.keys()) if (!s.dests.has(dk)) expected++;
        }
        for (const k of from.keys()) if (!to.has(k)) expected++;
        expect(ops.length).toBe(expected);
        for (const op of ops) {
          // a service is deleted only when it is not wanted, or wanted with another identity
          if (op.op === 'del-service') expect(to.get(op.svc.key)?.svc.family).not.toBe(op.svc.family);
          // nothing is added that already exists with the same identity
          if (op.op === 'add-service') expect(from.get(op.svc.key)?.svc.family).not.toBe(op.svc.family);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never puts a dest op before its service exists nor after it is deleted', () => {
    fc.assert(
      fc.property(arbTable, arbTable, (from, to) => {
        const t: TableState = cloneTable(from);
        for (const op of diffTables(from, to)) expect(applyOpToTable(t, op)).toBeUndefined();
        expect(tablesEqual(t, to)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
