import { describe, expect, it } from 'vitest';
import { MemoryEngine } from '../../../src/dataplane/memory.js';
import type { Op } from '../../../src/dataplane/types.js';
import { dest, plain, svc, table } from './tables.js';

const s1 = svc('10.0.0.1', 80);
const s2 = svc('10.0.0.2', 80);
const a = dest('10.1.0.1', 80);
const b = dest('10.1.0.2', 80);

describe('MemoryEngine', () => {
  it('applies ops one by one like IPVS: refused ops fail with the errno name, the rest go in', async () => {
    const e = new MemoryEngine({ initial: table([s1, [a]]) });
    const ops: Op[] = [
      { op: 'add-service', svc: s1 },
      { op: 'add-dest', svc: s1, dest: b },
      { op: 'edit-dest', svc: s2, dest: a },
      { op: 'del-dest', svc: s1, dest: dest('10.9.9.9', 80) },
      { op: 'del-service', svc: s2 },
      { op: 'edit-dest', svc: s1, dest: { ...a, weight: 4 } },
    ];
    const r = await e.apply(ops);
    expect(r.applied).toBe(2);
    expect(r.failed.map((f) => f.error)).toEqual([
      'service TCP:[10.0.0.1]:80 already exists (EEXIST)',
      'service TCP:[10.0.0.2]:80 does not exist (ESRCH)',
      'dest [10.9.9.9]:80 of TCP:[10.0.0.1]:80 does not exist (ENOENT)',
      'service TCP:[10.0.0.2]:80 does not exist (ESRCH)',
    ]);
    expect(e.applied).toEqual([ops[1], ops[5]]);
    expect(plain(await e.observe())).toEqual(plain(table([s1, [{ ...a, weight: 4 }, b]])));
  });

  it('deleting a service drops its dests', async () => {
    const e = new MemoryEngine({ initial: table([s1, [a, b]]) });
    await e.apply([{ op: 'del-service', svc: s1 }]);
    expect((await e.observe()).size).toBe(0);
  });

  it('atomic mode: one refused op and nothing of the batch goes in', async () => {
    const e = new MemoryEngine({ atomic: true });
    const r = await e.apply([
      { op: 'add-service', svc: s1 },
      { op: 'add-dest', svc: s2, dest: a },
    ]);
    expect(r.applied).toBe(0);
    expect(r.failed).toHaveLength(1);
    expect((await e.observe()).size).toBe(0);
    expect(e.applied).toEqual([]);
  });

  it('observe returns a copy', async () => {
    const e = new MemoryEngine({ initial: table([s1, [a]]) });
    const t = await e.observe();
    t.get(s1.key)!.dests.clear();
    expect((await e.observe()).get(s1.key)!.dests.size).toBe(1);
  });

  it('failNext makes matching ops fail the given number of times', async () => {
    const e = new MemoryEngine();
    e.failNext((op) => op.op === 'add-service', 'ENOMEM: out of memory', 2);
    expect((await e.apply([{ op: 'add-service', svc: s1 }])).failed[0]!.error).toBe('ENOMEM: out of memory');
    expect((await e.apply([{ op: 'add-service', svc: s1 }])).failed).toHaveLength(1);
    expect((await e.apply([{ op: 'add-service', svc: s1 }])).failed).toEqual([]);
    e.failNextObserve('dump failed');
    await expect(e.observe()).rejects.toThrow('dump failed');
    await expect(e.observe()).resolves.toBeInstanceOf(Map);
  });

  it('drift hooks change the table without recording ops', async () => {
    const e = new MemoryEngine({ initial: table([s1, [a, b]]) });
    e.driftDelete(s1.key, a.key);
    e.driftEditDest(s1.key, b.key, { weight: 9 });
    e.driftEditService(s1.key, { scheduler: 'rr' });
    e.driftAdd(s2, a);
    expect(plain(await e.observe())).toEqual(plain(table([{ ...s1, scheduler: 'rr' }, [{ ...b, weight: 9 }]], [s2, [a]])));
    expect(e.applied).toEqual([]);
    e.driftDelete(s2.key);
    expect((await e.observe()).has(s2.key)).toBe(false);
    expect(() => e.driftEditDest(s2.key, a.key, { weight: 1 })).toThrow(/no dest/);
  });
});
