import { describe, expect, it } from 'vitest';
import { LvsManager } from '../../../src/lvs/manager.js';
import type { LvsAction } from '../../../src/lvs/types.js';
import type { Op } from '../../../src/dataplane/types.js';
import type { Config } from '../../../src/config/model.js';
import { checker, config, FIFO, LOC, group, rs, sorry, vs, vsg, type VsOpts } from './fixtures.js';

function ops(a: LvsAction[]): Op[] {
  const o = a.find((x) => x.kind === 'ops');
  return o?.kind === 'ops' ? o.ops : [];
}
function short(o: Op): string {
  if (o.op.endsWith('service')) return `${o.op} ${o.svc.key}`;
  const d = (o as { dest: { key: string; weight: number } }).dest;
  return `${o.op} ${o.svc.key} ${d.key}${o.op === 'del-dest' ? '' : ` w=${d.weight}`}`;
}
const shortOps = (a: LvsAction[]) => ops(a).map(short);
const events = (a: LvsAction[]) => a.flatMap((x) => (x.kind === 'script' ? [`script ${x.cmd}`] : x.kind === 'fifo' ? [`fifo ${x.line}`] : []));

const V = 'TCP:[10.0.0.1]:80';
const base = (o: VsOpts = {}, rss = [rs('10.0.1.1', 80, { notifyDown: '/d1' }), rs('10.0.1.2', 80), rs('10.0.1.3', 80)]) =>
  config([vs('10.0.0.1:80', { realServers: rss, ...o }), vs('10.0.0.2:443', { realServers: [rs('10.0.2.1', 443)] })], { global: FIFO });

function started(cfg: Config): LvsManager {
  const m = new LvsManager(cfg);
  m.start(0);
  return m;
}

describe('reload: minimal diff', () => {
  it('an unchanged config gives nothing at all', () => {
    const m = started(base());
    expect(m.reload(base(), 1)).toEqual([]);
  });

  it('a weight change is one edit-dest', () => {
    const m = started(base());
    const a = m.reload(base({}, [rs('10.0.1.1', 80, { notifyDown: '/d1' }), rs('10.0.1.2', 80, { weight: 5 }), rs('10.0.1.3', 80)]), 1);
    expect(shortOps(a)).toEqual([`edit-dest ${V} [10.0.1.2]:80 w=5`]);
    expect(events(a)).toEqual([]);
  });

  it('a removed real server is one del-dest, and notifies DOWN when it was alive', () => {
    const m = started(base());
    const a = m.reload(base({}, [rs('10.0.1.2', 80), rs('10.0.1.3', 80)]), 1);
    expect(shortOps(a)).toEqual([`del-dest ${V} [10.0.1.1]:80`]);
    expect(events(a)).toEqual(['script /d1', 'fifo RS [10.0.1.1]:tcp:80 [10.0.0.1]:tcp:80 DOWN']);
  });

  it('a scheduler change is one edit-service', () => {
    const m = started(base());
    expect(shortOps(m.reload(base({ scheduler: 'rr' }), 1))).toEqual([`edit-service ${V}`]);
  });

  it('persistence and flag changes are edit-service, not delete + add', () => {
    const m = started(base());
    expect(shortOps(m.reload(base({ persistenceTimeoutS: 300 }), 1))).toEqual([`edit-service ${V}`]);
    expect(shortOps(m.reload(base({ persistenceTimeoutS: 300, schedFlags: { flag1: true, flag2: false, flag3: false, ops: false } }), 2))).toEqual([`edit-service ${V}`]);
  });

  it('a forwarding change is edit-dest', () => {
    const m = started(base());
    expect(shortOps(m.reload(base({ lbKind: 'DR' }), 1))).toEqual([`edit-dest ${V} [10.0.1.1]:80 w=1`, `edit-dest ${V} [10.0.1.2]:80 w=1`, `edit-dest ${V} [10.0.1.3]:80 w=1`]);
  });

  it('a removed virtual server is one del-service, with DOWN notifies', () => {
    const m = started(base());
    const cfg = base();
    cfg.virtualServers = [cfg.virtualServers[1]!];
    const a = m.reload(cfg, 1);
    expect(shortOps(a)).toEqual([`del-service ${V}`]);
    expect(events(a)).toEqual([
      'script /d1',
      'fifo RS [10.0.1.1]:tcp:80 [10.0.0.1]:tcp:80 DOWN',
      'fifo RS [10.0.1.2]:tcp:80 [10.0.0.1]:tcp:80 DOWN',
      'fifo RS [10.0.1.3]:tcp:80 [10.0.0.1]:tcp:80 DOWN',
      'fifo VS [10.0.0.1]:tcp:80 DOWN',
    ]);
  });

  it('a new virtual server is added', () => {
    const m = started(base());
    const cfg = base();
    cfg.virtualServers.push(vs('10.0.0.3:25', { realServers: [rs('10.0.3.1', 25)] }));
    expect(shortOps(m.reload(cfg, 1))).toEqual(['add-service TCP:[10.0.0.3]:25', 'add-dest TCP:[10.0.0.3]:25 [10.0.3.1]:25 w=1']);
  });

  it('a group that grows adds only the new service', () => {
    const g1 = vsg('G', [{ kind: 'addr', family: 'inet', address: '10.0.5.1', port: 80, loc: LOC }]);
    const g2 = vsg('G', [...g1.members, { kind: 'addr', family: 'inet', address: '10.0.5.2', port: 80, loc: LOC }]);
    const mk = (g: typeof g1) => config([vs(group('G'), { realServers: [rs('10.0.1.1', 80)] })], { groups: [g] });
    const m = started(mk(g1));
    expect(shortOps(m.reload(mk(g2), 1))).toEqual(['add-service TCP:[10.0.5.2]:80', 'add-dest TCP:[10.0.5.2]:80 [10.0.1.1]:80 w=1']);
    expect(shortOps(m.reload(mk(g1), 2))).toEqual(['del-service TCP:[10.0.5.2]:80']);
  });
});

describe('reload: state carried over', () => {
  it('a down real server stays down (no re-add of a failed server)', () => {
    const cfg = base();
    const m = started(cfg);
    m.onCheck({ rsId: cfg.virtualServers[0]!.realServers[1]!.id, up: false, reason: 'x' }, 1);
    expect(m.reload(base(), 2)).toEqual([]);
    expect(m.status()[0]!.realServers[1]).toMatchObject({ alive: false });
  });

  it('new real servers with alpha start down, others up', () => {
    const m = started(base());
    const a = m.reload(base({}, [rs('10.0.1.1', 80, { notifyDown: '/d1' }), rs('10.0.1.2', 80), rs('10.0.1.3', 80), rs('10.0.1.4', 80, { alpha: true }), rs('10.0.1.5', 80)]), 1);
    expect(shortOps(a)).toEqual([`add-dest ${V} [10.0.1.5]:80 w=1`]);
  });

  it('an existing real server keeps its state when an alpha checker is added', () => {
    const m = started(base());
    expect(m.reload(base({}, [rs('10.0.1.1', 80, { notifyDown: '/d1', alpha: true }), rs('10.0.1.2', 80), rs('10.0.1.3', 80)]), 1)).toEqual([]);
  });

  it('a real server whose checkers are all removed comes up', () => {
    const cfg = base();
    const m = started(cfg);
    m.onCheck({ rsId: cfg.virtualServers[0]!.realServers[2]!.id, up: false, reason: 'x' }, 1);
    const a = m.reload(base({}, [rs('10.0.1.1', 80, { notifyDown: '/d1' }), rs('10.0.1.2', 80), rs('10.0.1.3', 80, { checkers: 0 })]), 2);
    expect(shortOps(a)).toEqual([`add-dest ${V} [10.0.1.3]:80 w=1`]);
    expect(events(a)).toEqual(['fifo RS [10.0.1.3]:tcp:80 [10.0.0.1]:tcp:80 UP']);
  });

  it('quorum state is kept, and re-evaluated against a new quorum once', () => {
    const cfg = base({ quorum: 2, quorumDown: '/qd' });
    const m = started(cfg);
    const ids = cfg.virtualServers[0]!.realServers.map((r) => r.id);
    m.onCheck({ rsId: ids[0]!, up: false, reason: 'x' }, 1);
    expect(m.status()[0]!.quorumUp).toBe(true);
    // still up with the same quorum
    expect(m.reload(base({ quorum: 2, quorumDown: '/qd' }), 2)).toEqual([]);
    // quorum 3 > 2 alive: lost, notified once
    const a = m.reload(base({ quorum: 3, quorumDown: '/qd' }), 3);
    expect(events(a)).toEqual(['script /qd', 'fifo VS [10.0.0.1]:tcp:80 DOWN']);
    expect(m.status()[0]!.quorumUp).toBe(false);
  });

  it('a sorry server added while below quorum goes in', () => {
    const cfg = base({ quorum: 3 });
    const m = started(cfg);
    m.onCheck({ rsId: cfg.virtualServers[0]!.realServers[0]!.id, up: false, reason: 'x' }, 1);
    const a = m.reload(base({ quorum: 3, sorryServer: sorry('10.0.9.9', 80) }), 2);
    expect(shortOps(a)).toEqual([`add-dest ${V} [10.0.9.9]:80 w=1`, `del-dest ${V} [10.0.1.2]:80`, `del-dest ${V} [10.0.1.3]:80`]);
  });

  it('a dynamic weight survives a reload while the real server keeps a dynamic checker', () => {
    const misc = checker(false, { type: 'MISC_CHECK', path: '/x', timeoutMs: 1000, dynamic: true } as never);
    const rss = () => [rs('10.0.1.1', 80, { checkerList: [misc] }), rs('10.0.1.2', 80)];
    const cfg = base({}, rss());
    const m = started(cfg);
    m.onCheck({ rsId: cfg.virtualServers[0]!.realServers[0]!.id, up: true, reason: 'exit 9', weight: 7 }, 1);
    expect(m.reload(base({}, rss()), 2)).toEqual([]);
    const a = m.reload(base({}, [rs('10.0.1.1', 80), rs('10.0.1.2', 80)]), 3);
    expect(shortOps(a)).toEqual([`edit-dest ${V} [10.0.1.1]:80 w=1`]);
  });

  it('reload before start only replaces the config', () => {
    const m = new LvsManager(base());
    expect(m.reload(base({ scheduler: 'rr' }), 0)).toEqual([]);
    expect(ops(m.start(1))[0]).toMatchObject({ op: 'add-service', svc: { scheduler: 'rr' } });
  });
});
