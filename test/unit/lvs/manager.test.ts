import { describe, expect, it } from 'vitest';
import { LvsManager } from '../../../src/lvs/manager.js';
import type { LvsAction } from '../../../src/lvs/types.js';
import type { Op } from '../../../src/dataplane/types.js';
import { config, FIFO, fwmark, group, LOC, rs, sorry, vs, vsg } from './fixtures.js';

/** ops as short strings: "add-dest TCP:[10.0.0.1]:80 [10.0.1.1]:80 w=1" */
function opsOf(actions: LvsAction[]): string[] {
  const a = actions.filter((x) => x.kind === 'ops');
  expect(a.length).toBeLessThanOrEqual(1);
  return (a[0]?.kind === 'ops' ? a[0].ops : []).map(short);
}

function short(o: Op): string {
  if (o.op.endsWith('service')) return `${o.op} ${o.svc.key}${o.op === 'del-service' ? '' : ` ${o.svc.scheduler}`}`;
  const d = (o as { dest: { key: string; weight: number; fwd: string } }).dest;
  return o.op === 'del-dest' ? `${o.op} ${o.svc.key} ${d.key}` : `${o.op} ${o.svc.key} ${d.key} w=${d.weight}${d.fwd === 'NAT' ? '' : ` ${d.fwd}`}`;
}

/** everything but ops and logs, as one string each */
function events(actions: LvsAction[]): string[] {
  return actions.flatMap((a) => (a.kind === 'script' ? [`script ${a.event} ${a.cmd}`] : a.kind === 'fifo' ? [`fifo ${a.line}`] : []));
}

const V = 'TCP:[10.0.0.1]:80';

describe('start', () => {
  it('adds every service and the real servers that start up (no alpha, or no checkers)', () => {
    const v = vs('10.0.0.1:80', {
      realServers: [rs('10.0.1.1', 80, { weight: 2 }), rs('10.0.1.2', 80, { alpha: true }), rs('10.0.1.3', 80, { checkers: 0, alpha: true }), rs('10.0.1.4', 80, { alpha: true, inhibit: true })],
    });
    const m = new LvsManager(config([v]));
    const a = m.start(0);
    expect(opsOf(a)).toEqual([
      `add-service ${V} wlc`,
      `add-dest ${V} [10.0.1.1]:80 w=2`,
      `add-dest ${V} [10.0.1.3]:80 w=1`,
      `add-dest ${V} [10.0.1.4]:80 w=0`,
    ]);
    expect(events(a)).toEqual([]);
    expect(a[0]).toMatchObject({ kind: 'ops' });
  });

  it('the checks side can give the initial state', () => {
    const v = vs('10.0.0.1:80', { realServers: [rs('10.0.1.1', 80), rs('10.0.1.2', 80, { alpha: true })] });
    const m = new LvsManager(config([v]), { initialState: (r) => (r.address === '10.0.1.1' ? { up: false } : { up: true, weight: 7 }) });
    expect(opsOf(m.start(0))).toEqual([`add-service ${V} wlc`, `add-dest ${V} [10.0.1.2]:80 w=7`]);
  });

  it('is a no-op the second time, and ignores checks before start', () => {
    const v = vs('10.0.0.1:80', { realServers: [rs('10.0.1.1', 80)] });
    const m = new LvsManager(config([v]));
    expect(m.onCheck({ rsId: v.realServers[0]!.id, up: false, reason: 'x' }, 0)).toMatchObject([{ kind: 'log', level: 'warn' }]);
    m.start(0);
    expect(m.start(1)).toMatchObject([{ kind: 'log', level: 'warn' }]);
  });
});

describe('real server transitions', () => {
  const mk = (o: Parameters<typeof rs>[2] = {}, global = FIFO) => {
    const v = vs('10.0.0.1:80', { quorum: 1, realServers: [rs('10.0.1.1', 80, { notifyUp: '/bin/up a', notifyDown: '/bin/down a', ...o }), rs('10.0.1.2', 80)] });
    const m = new LvsManager(config([v], { global }));
    m.start(0);
    return { m, id: v.realServers[0]!.id };
  };

  it('down removes the dest and notifies; up adds it back', () => {
    const { m, id } = mk();
    const d = m.onCheck({ rsId: id, up: false, reason: 'connect refused' }, 1);
    expect(opsOf(d)).toEqual([`del-dest ${V} [10.0.1.1]:80`]);
    expect(events(d)).toEqual(['script notify_down /bin/down a', 'fifo RS [10.0.1.1]:tcp:80 [10.0.0.1]:tcp:80 DOWN']);
    expect(d.find((x) => x.kind === 'log')).toMatchObject({ msg: 'Removing service [10.0.1.1]:tcp:80 from VS [10.0.0.1]:tcp:80 (connect refused)' });
    const u = m.onCheck({ rsId: id, up: true, reason: 'ok' }, 2);
    expect(opsOf(u)).toEqual([`add-dest ${V} [10.0.1.1]:80 w=1`]);
    expect(events(u)).toEqual(['script notify_up /bin/up a', 'fifo RS [10.0.1.1]:tcp:80 [10.0.0.1]:tcp:80 UP']);
  });

  it('a repeated state does nothing', () => {
    const { m, id } = mk();
    m.onCheck({ rsId: id, up: false, reason: 'x' }, 1);
    expect(m.onCheck({ rsId: id, up: false, reason: 'x' }, 2)).toEqual([]);
  });

  it('inhibit_on_failure keeps a down real server with weight 0', () => {
    const { m, id } = mk({ inhibit: true, weight: 4 });
    expect(opsOf(m.onCheck({ rsId: id, up: false, reason: 'x' }, 1))).toEqual([`edit-dest ${V} [10.0.1.1]:80 w=0`]);
    expect(m.status()[0]!.realServers[0]).toMatchObject({ alive: false, poolWeight: 0 });
    expect(opsOf(m.onCheck({ rsId: id, up: true, reason: 'x' }, 2))).toEqual([`edit-dest ${V} [10.0.1.1]:80 w=4`]);
  });

  it('dynamic weight edits the dest; no weight means the configured one', () => {
    const { m, id } = mk({ weight: 3 });
    const a = m.onCheck({ rsId: id, up: true, reason: 'misc exit 7', weight: 5 }, 1);
    expect(opsOf(a)).toEqual([`edit-dest ${V} [10.0.1.1]:80 w=5`]);
    expect(events(a)).toEqual([]);
    expect(a.find((x) => x.kind === 'log')).toMatchObject({ msg: 'Changing weight from 3 to 5 for active service [10.0.1.1]:tcp:80 of VS [10.0.0.1]:tcp:80' });
    expect(opsOf(m.onCheck({ rsId: id, up: true, reason: 'ok' }, 2))).toEqual([`edit-dest ${V} [10.0.1.1]:80 w=3`]);
    // a weight change while down is remembered for when it comes back
    m.onCheck({ rsId: id, up: false, reason: 'x', weight: 9 }, 3);
    expect(opsOf(m.onCheck({ rsId: id, up: true, reason: 'x', weight: 9 }, 4))).toEqual([`add-dest ${V} [10.0.1.1]:80 w=9`]);
  });

  it('alpha: the first failure of a server that starts down still notifies DOWN, once', () => {
    const { m, id } = mk({ alpha: true });
    const a = m.onCheck({ rsId: id, up: false, reason: 'x' }, 1);
    expect(opsOf(a)).toEqual([]);
    expect(events(a)).toEqual(['script notify_down /bin/down a', 'fifo RS [10.0.1.1]:tcp:80 [10.0.0.1]:tcp:80 DOWN']);
    expect(events(m.onCheck({ rsId: id, up: false, reason: 'x' }, 2))).toEqual([]);
  });

  it('no FIFO lines without a notify FIFO; the global notify_fifo counts too', () => {
    const { m, id } = mk({}, {} as typeof FIFO);
    expect(events(m.onCheck({ rsId: id, up: false, reason: 'x' }, 1))).toEqual(['script notify_down /bin/down a']);
    const g = mk({}, { notifyFifo: { path: '/tmp/f' } } as unknown as typeof FIFO);
    expect(events(g.m.onCheck({ rsId: g.id, up: false, reason: 'x' }, 1))).toContain('fifo RS [10.0.1.1]:tcp:80 [10.0.0.1]:tcp:80 DOWN');
  });

  it('unknown real servers and servers without checkers are ignored with a warning', () => {
    const v = vs('10.0.0.1:80', { realServers: [rs('10.0.1.1', 80, { checkers: 0 })] });
    const m = new LvsManager(config([v]));
    m.start(0);
    expect(m.onCheck({ rsId: 'nope', up: false, reason: 'x' }, 1)).toMatchObject([{ kind: 'log', level: 'warn' }]);
    expect(m.onCheck({ rsId: v.realServers[0]!.id, up: false, reason: 'x' }, 1)).toMatchObject([{ kind: 'log', level: 'warn' }]);
  });
});

describe('sorry server', () => {
  const mk = (ss = sorry('10.0.9.9', 80), rsOpts: Parameters<typeof rs>[2] = {}) => {
    const v = vs('10.0.0.1:80', {
      quorum: 2,
      quorumUp: '/bin/qu',
      quorumDown: '/bin/qd',
      sorryServer: ss,
      realServers: [rs('10.0.1.1', 80, rsOpts), rs('10.0.1.2', 80, rsOpts), rs('10.0.1.3', 80, rsOpts)],
    });
    const m = new LvsManager(config([v], { global: FIFO }));
    const start = m.start(0);
    return { m, ids: v.realServers.map((r) => r.id), start };
  };

  it('goes in when quorum is lost (alive real servers out) and out when it is back', () => {
    const { m, ids, start } = mk();
    expect(opsOf(start)).not.toContain(`add-dest ${V} [10.0.9.9]:80 w=1`);
    expect(opsOf(m.onCheck({ rsId: ids[0]!, up: false, reason: 'x' }, 1))).toEqual([`del-dest ${V} [10.0.1.1]:80`]);
    const lost = m.onCheck({ rsId: ids[1]!, up: false, reason: 'x' }, 2);
    expect(opsOf(lost)).toEqual([`add-dest ${V} [10.0.9.9]:80 w=1`, `del-dest ${V} [10.0.1.2]:80`, `del-dest ${V} [10.0.1.3]:80`]);
    expect(events(lost)).toEqual([
      'fifo RS [10.0.1.2]:tcp:80 [10.0.0.1]:tcp:80 DOWN',
      'script quorum_down /bin/qd',
      'fifo VS [10.0.0.1]:tcp:80 DOWN',
    ]);
    expect(m.status()[0]).toMatchObject({ quorumUp: false, sorryActive: true });
    // a real server coming back while below quorum stays out of the pool
    const back1 = m.onCheck({ rsId: ids[2]!, up: true, reason: 'x' }, 3);
    expect(opsOf(back1)).toEqual([]);
    m.onCheck({ rsId: ids[2]!, up: false, reason: 'x' }, 4);
    m.onCheck({ rsId: ids[0]!, up: true, reason: 'x' }, 5);
    const gained = m.onCheck({ rsId: ids[1]!, up: true, reason: 'x' }, 6);
    expect(opsOf(gained)).toEqual([`add-dest ${V} [10.0.1.1]:80 w=1`, `add-dest ${V} [10.0.1.2]:80 w=1`, `del-dest ${V} [10.0.9.9]:80`]);
    expect(events(gained)).toEqual([
      'fifo RS [10.0.1.2]:tcp:80 [10.0.0.1]:tcp:80 UP',
      'script quorum_up /bin/qu',
      'fifo VS [10.0.0.1]:tcp:80 UP',
    ]);
  });

  it('with sorry_server_inhibit it stays at weight 0 instead of leaving', () => {
    const { m, ids, start } = mk(sorry('10.0.9.9', 80, { inhibit: true, lbKind: 'DR' }));
    expect(opsOf(start)).toContain(`add-dest ${V} [10.0.9.9]:80 w=0 DR`);
    m.onCheck({ rsId: ids[0]!, up: false, reason: 'x' }, 1);
    expect(opsOf(m.onCheck({ rsId: ids[1]!, up: false, reason: 'x' }, 2))).toEqual([`edit-dest ${V} [10.0.9.9]:80 w=1 DR`, `del-dest ${V} [10.0.1.2]:80`, `del-dest ${V} [10.0.1.3]:80`]);
    expect(opsOf(m.onCheck({ rsId: ids[1]!, up: true, reason: 'x' }, 3))).toEqual([
      `add-dest ${V} [10.0.1.2]:80 w=1`,
      `add-dest ${V} [10.0.1.3]:80 w=1`,
      `edit-dest ${V} [10.0.9.9]:80 w=0 DR`,
    ]);
  });

  it('inhibited real servers stay at weight 0 while the sorry server serves', () => {
    const { m, ids } = mk(sorry('10.0.9.9', 80), { inhibit: true });
    m.onCheck({ rsId: ids[0]!, up: false, reason: 'x' }, 1);
    expect(opsOf(m.onCheck({ rsId: ids[1]!, up: false, reason: 'x' }, 2))).toEqual([
      `add-dest ${V} [10.0.9.9]:80 w=1`,
      `edit-dest ${V} [10.0.1.2]:80 w=0`,
      `edit-dest ${V} [10.0.1.3]:80 w=0`,
    ]);
  });

  it('starting below quorum puts the sorry server in and notifies DOWN', () => {
    const v = vs('10.0.0.1:80', { sorryServer: sorry('10.0.9.9', 80), quorumDown: '/bin/qd', realServers: [rs('10.0.1.1', 80, { alpha: true })] });
    const m = new LvsManager(config([v], { global: FIFO }));
    const a = m.start(0);
    expect(opsOf(a)).toEqual([`add-service ${V} wlc`, `add-dest ${V} [10.0.9.9]:80 w=1`]);
    expect(events(a)).toEqual(['script quorum_down /bin/qd', 'fifo VS [10.0.0.1]:tcp:80 DOWN']);
  });

  it('a sorry server at a real server address takes over that entry while in use', () => {
    const v = vs('10.0.0.1:80', { sorryServer: sorry('10.0.1.2', 80, { lbKind: 'DR' }), realServers: [rs('10.0.1.1', 80), rs('10.0.1.2', 80, { inhibit: true })] });
    const m = new LvsManager(config([v]));
    m.start(0);
    const ids = v.realServers.map((r) => r.id);
    m.onCheck({ rsId: ids[1]!, up: false, reason: 'x' }, 1);
    expect(opsOf(m.onCheck({ rsId: ids[0]!, up: false, reason: 'x' }, 2))).toEqual([`edit-dest ${V} [10.0.1.2]:80 w=1 DR`, `del-dest ${V} [10.0.1.1]:80`]);
  });
});

describe('names in FIFO lines', () => {
  it('fwmark and group virtual servers use keepalived formats', () => {
    const g = vsg('G', [{ kind: 'addr', family: 'inet', address: '10.0.0.5', port: 443, loc: LOC }]);
    const gf = vsg('F', [{ kind: 'fwmark', family: 'inet', fwmark: 9, loc: LOC }]);
    const a = vs(fwmark(5), { lbKind: 'DR', realServers: [rs('10.0.1.1', 0)] });
    const b = vs(group('G'), { realServers: [rs('10.0.2.1', 443)] });
    const c = vs(group('G'), { protocol: 'UDP', realServers: [rs('10.0.3.1', 443)] });
    const d = vs(group('F'), { realServers: [rs('10.0.4.1', 80)] });
    const v6 = vs('[fd00::1]:80', { realServers: [rs('fd00::5', 80)] });
    const m = new LvsManager(config([a, b, c, d, v6], { groups: [g, gf], global: FIFO }));
    m.start(0);
    const lines = [a, b, c, d, v6].flatMap((v) => events(m.onCheck({ rsId: v.realServers[0]!.id, up: false, reason: 'x' }, 1)));
    expect(lines).toEqual([
      'fifo RS [10.0.1.1]:none:0 FWM 5 DOWN',
      'fifo VS FWM 5 DOWN',
      'fifo RS [10.0.2.1]:tcp:443 [G]:0 DOWN',
      'fifo VS [G]:0 DOWN',
      'fifo RS [10.0.3.1]:udp:443 [G]:1 DOWN',
      'fifo VS [G]:1 DOWN',
      'fifo RS [10.0.4.1]:none:80 [F]:0 DOWN',
      'fifo VS [F]:0 DOWN',
      'fifo RS [fd00::5]:tcp:80 [fd00::1]:tcp:80 DOWN',
      'fifo VS [fd00::1]:tcp:80 DOWN',
    ]);
  });
});

describe('group virtual servers', () => {
  it('a real server change touches every service of the group', () => {
    const g = vsg('G', [
      { kind: 'addr', family: 'inet', address: '10.0.0.5', last: '10.0.0.6', port: 80, loc: LOC },
      { kind: 'fwmark', family: 'inet', fwmark: 9, loc: LOC },
    ]);
    const v = vs(group('G'), { lbKind: 'DR', realServers: [rs('10.0.2.1', 80), rs('10.0.2.2', 80)] });
    const m = new LvsManager(config([v], { groups: [g] }));
    expect(opsOf(m.start(0))).toHaveLength(3 + 6);
    expect(opsOf(m.onCheck({ rsId: v.realServers[0]!.id, up: false, reason: 'x' }, 1))).toEqual([
      'del-dest TCP:[10.0.0.5]:80 [10.0.2.1]:80',
      'del-dest TCP:[10.0.0.6]:80 [10.0.2.1]:80',
      'del-dest FWM:inet:9 [10.0.2.1]:0',
    ]);
  });

  it('a service claimed by two virtual servers stays with the first one', () => {
    const a = vs('10.0.0.1:80', { realServers: [rs('10.0.1.1', 80)] });
    const g = vsg('G', [{ kind: 'addr', family: 'inet', address: '10.0.0.1', port: 80, loc: LOC }]);
    const b = vs(group('G'), { realServers: [rs('10.0.2.1', 80)] });
    const m = new LvsManager(config([a, b], { groups: [g] }));
    const s = m.start(0);
    expect(opsOf(s)).toEqual([`add-service ${V} wlc`, `add-dest ${V} [10.0.1.1]:80 w=1`]);
    expect(s.find((x) => x.kind === 'log' && x.level === 'error')).toMatchObject({ msg: expect.stringMatching(/already provided by vs:TCP/) });
    expect(opsOf(m.onCheck({ rsId: b.realServers[0]!.id, up: false, reason: 'x' }, 1))).toEqual([]);
  });
});

describe('batches', () => {
  it('onChecks emits one ops action for all transitions, notifies in order', () => {
    const v = vs('10.0.0.1:80', { realServers: [rs('10.0.1.1', 80, { notifyDown: '/d1' }), rs('10.0.1.2', 80, { notifyDown: '/d2' }), rs('10.0.1.3', 80)] });
    const m = new LvsManager(config([v]));
    m.start(0);
    const a = m.onChecks(
      [
        { rsId: v.realServers[1]!.id, up: false, reason: 'x' },
        { rsId: v.realServers[0]!.id, up: false, reason: 'x' },
      ],
      1,
    );
    expect(a[0]!.kind).toBe('ops');
    expect(opsOf(a)).toEqual([`del-dest ${V} [10.0.1.1]:80`, `del-dest ${V} [10.0.1.2]:80`]);
    expect(events(a)).toEqual(['script notify_down /d2', 'script notify_down /d1']);
  });
});

describe('shutdown', () => {
  it('omega runs the down notifiers; without omega nothing is notified', () => {
    const mk = (omega: boolean) => {
      const v = vs('10.0.0.1:80', { omega, quorumDown: '/qd', realServers: [rs('10.0.1.1', 80, { notifyDown: '/d1' }), rs('10.0.1.2', 80, { alpha: true, notifyDown: '/d2' })] });
      const m = new LvsManager(config([v], { global: FIFO }));
      m.start(0);
      return m.shutdown(5);
    };
    expect(events(mk(true))).toEqual([
      'script notify_down /d1',
      'fifo RS [10.0.1.1]:tcp:80 [10.0.0.1]:tcp:80 DOWN',
      'script quorum_down /qd',
      'fifo VS [10.0.0.1]:tcp:80 DOWN',
    ]);
    expect(events(mk(false))).toEqual([]);
    expect(opsOf(mk(true))).toEqual([]);
  });
});
