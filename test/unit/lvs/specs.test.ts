import { describe, expect, it } from 'vitest';
import { destFor, expandRange, granularityToNetmask, servicesFor, sorryDestFor } from '../../../src/lvs/specs.js';
import { config, fwmark, group, LOC, rs, sorry, vs, vsg } from './fixtures.js';

describe('servicesFor', () => {
  it('an IP virtual server is one service with its scheduler and flags', () => {
    const v = vs('10.0.0.1:80', {
      scheduler: 'sh',
      schedFlags: { flag1: true, flag2: true, flag3: false, ops: false },
      realServers: [rs('10.0.1.1', 80)],
    });
    const { services, problems } = servicesFor(v, config([v]));
    expect(problems).toEqual([]);
    expect(services).toEqual([
      {
        key: 'TCP:[10.0.0.1]:80',
        family: 'inet',
        protocol: 'TCP',
        address: '10.0.0.1',
        port: 80,
        scheduler: 'sh',
        flags: { persistent: false, onePacket: false, sched1: true, sched2: true, sched3: false },
        timeoutS: 0,
        netmask: '255.255.255.255',
      },
    ]);
  });

  it.each([
    ['inet', '10.0.0.1:443', undefined, '255.255.255.255'],
    ['inet', '10.0.0.1:443', '255.255.255.0', '255.255.255.0'],
    ['inet', '10.0.0.1:443', '24', '255.255.255.0'],
    ['inet6', '[fd00::1]:443', undefined, '128'],
    ['inet6', '[fd00::1]:443', '64', '64'],
    ['inet6', '[fd00::1]:443', '/48', '48'],
  ])('persistence (%s %s granularity %s) -> netmask %s', (_f, addr, gran, mask) => {
    const v = vs(addr, { persistenceTimeoutS: 360, ...(gran ? { persistenceGranularity: gran } : {}), persistenceEngine: 'sip' });
    const [s] = servicesFor(v, config([v])).services;
    expect(s!.flags.persistent).toBe(true);
    expect(s!.timeoutS).toBe(360);
    expect(s!.netmask).toBe(mask);
    expect(s!.peName).toBe('sip');
  });

  it('granularity is ignored without persistence, and a bad one is reported', () => {
    const a = vs('10.0.0.1:80', { persistenceGranularity: '255.255.0.0' });
    expect(servicesFor(a, config([a])).services[0]!.netmask).toBe('255.255.255.255');
    const b = vs('10.0.0.1:80', { persistenceTimeoutS: 60, persistenceGranularity: '255.0.255.0' });
    const r = servicesFor(b, config([b]));
    expect(r.services[0]!.netmask).toBe('255.255.255.255');
    expect(r.problems[0]).toMatch(/persistence_granularity/);
  });

  it('one-packet scheduling and full NAT source carry over', () => {
    const v = vs('10.0.0.1:53', { protocol: 'UDP', schedFlags: { flag1: false, flag2: false, flag3: true, ops: true }, fullNatSource: '10.9.9.9' });
    const [s] = servicesFor(v, config([v])).services;
    expect(s!.key).toBe('UDP:[10.0.0.1]:53');
    expect(s!.flags).toEqual({ persistent: false, onePacket: true, sched1: false, sched2: false, sched3: true });
    expect(s!.fullNatSource).toBe('10.9.9.9');
  });

  it('a fwmark virtual server is one fwmark service', () => {
    const v = vs(fwmark(7, 'inet6'));
    const [s] = servicesFor(v, config([v])).services;
    expect(s).toMatchObject({ key: 'FWM:inet6:7', family: 'inet6', fwmark: 7, netmask: '128' });
    expect(s!.protocol).toBeUndefined();
  });

  it('a group expands to one service per address and per fwmark, without duplicates', () => {
    const g = vsg('web', [
      { kind: 'addr', family: 'inet', address: '10.0.0.1', port: 80, loc: LOC },
      { kind: 'addr', family: 'inet', address: '10.0.0.10', last: '10.0.0.12', port: 8080, loc: LOC },
      { kind: 'addr', family: 'inet6', address: 'fd00::fe', last: 'fd00::101', port: 80, loc: LOC },
      { kind: 'fwmark', family: 'inet', fwmark: 3, loc: LOC },
      { kind: 'addr', family: 'inet', address: '10.0.0.1', port: 80, loc: LOC },
    ]);
    const v = vs(group('web'));
    const { services, problems } = servicesFor(v, config([v], { groups: [g] }));
    expect(problems).toEqual([]);
    expect(services.map((s) => s.key)).toEqual([
      'TCP:[10.0.0.1]:80',
      'TCP:[10.0.0.10]:8080',
      'TCP:[10.0.0.11]:8080',
      'TCP:[10.0.0.12]:8080',
      'TCP:[fd00::fe]:80',
      'TCP:[fd00::ff]:80',
      'TCP:[fd00::100]:80',
      'TCP:[fd00::101]:80',
      'FWM:inet:3',
    ]);
    expect(services[4]!.netmask).toBe('128');
  });

  it('reports an unknown group, an empty group and an oversized range', () => {
    const v = vs(group('nope'));
    expect(servicesFor(v, config([v])).problems[0]).toMatch(/nope is not defined/);
    const e = vs(group('empty'));
    expect(servicesFor(e, config([e], { groups: [vsg('empty', [])] })).problems[0]).toMatch(/no members/);
    const big = vs(group('big'));
    const r = servicesFor(big, config([big], { groups: [vsg('big', [{ kind: 'addr', family: 'inet', address: '10.0.0.0', last: '10.255.255.255', port: 80, loc: LOC }])] }));
    expect(r.services).toEqual([]);
    expect(r.problems[0]).toMatch(/more than 65536/);
  });
});

describe('expandRange', () => {
  it('crosses octet boundaries and refuses reversed ranges', () => {
    expect(expandRange('10.0.0.254', '10.0.1.1')).toEqual(['10.0.0.254', '10.0.0.255', '10.0.1.0', '10.0.1.1']);
    expect(() => expandRange('10.0.0.2', '10.0.0.1')).toThrow(/ends before/);
    expect(() => expandRange('10.0.0.2', 'fd00::1')).toThrow(/mixes/);
  });
});

describe('granularityToNetmask', () => {
  it.each([
    ['255.255.255.0', 'inet', '255.255.255.0'],
    ['255.255.0.0', 'inet', '255.255.0.0'],
    ['32', 'inet', '255.255.255.255'],
    ['1', 'inet', '128.0.0.0'],
    ['255.0.255.0', 'inet', undefined],
    ['33', 'inet', undefined],
    ['0', 'inet6', undefined],
    ['129', 'inet6', undefined],
    ['ffff::', 'inet6', undefined],
  ] as const)('%s (%s) -> %s', (g, fam, want) => {
    expect(granularityToNetmask(g, fam)).toBe(want);
  });
});

describe('destFor / sorryDestFor', () => {
  const svcOf = (v: ReturnType<typeof vs>) => servicesFor(v, config([v])).services[0]!;

  it('forwarding method comes from the real server, else the virtual server', () => {
    const v = vs('10.0.0.1:80', { lbKind: 'DR', realServers: [rs('10.0.1.1', 80, { weight: 3, uthreshold: 100, lthreshold: 10 }), rs('10.0.1.2', 80, { lbKind: 'NAT' })] });
    const s = svcOf(v);
    expect(destFor(v, v.realServers[0]!, s, 3)).toEqual({ key: '[10.0.1.1]:80', family: 'inet', address: '10.0.1.1', port: 80, fwd: 'DR', weight: 3, uThreshold: 100, lThreshold: 10 });
    expect(destFor(v, v.realServers[1]!, s, 1).fwd).toBe('NAT');
  });

  it('TUN dests carry tunnel parameters (default IPIP), others none', () => {
    const v = vs('10.0.0.1:80', { lbKind: 'TUN', tunnel: { type: 'gue', port: 6080 }, realServers: [rs('10.0.1.1', 80), rs('10.0.1.2', 80, { lbKind: 'TUN' }), rs('10.0.1.3', 80, { lbKind: 'DR' })] });
    const s = svcOf(v);
    expect(destFor(v, v.realServers[0]!, s, 1).tunnel).toEqual({ type: 'gue', port: 6080 });
    expect(destFor(v, v.realServers[1]!, s, 1).tunnel).toEqual({ type: 'ipip' });
    expect(destFor(v, v.realServers[2]!, s, 1).tunnel).toBeUndefined();
  });

  it('weights are clamped to the kernel range', () => {
    const v = vs('10.0.0.1:80', { realServers: [rs('10.0.1.1', 80)] });
    const s = svcOf(v);
    expect(destFor(v, v.realServers[0]!, s, -4).weight).toBe(0);
    expect(destFor(v, v.realServers[0]!, s, 2 ** 40).weight).toBe(2_147_483_647);
  });

  it('ports: fwmark DR/TUN dests have port 0, address services fill in a zero port', () => {
    const f = vs(fwmark(5), { lbKind: 'DR', realServers: [rs('10.0.1.1', 80), rs('10.0.1.2', 8080, { lbKind: 'NAT' })] });
    const fs = svcOf(f);
    expect(destFor(f, f.realServers[0]!, fs, 1).key).toBe('[10.0.1.1]:0');
    expect(destFor(f, f.realServers[1]!, fs, 1).key).toBe('[10.0.1.2]:8080');
    const a = vs('10.0.0.1:443', { realServers: [rs('10.0.1.1', 0)] });
    expect(destFor(a, a.realServers[0]!, svcOf(a), 1).key).toBe('[10.0.1.1]:443');
  });

  it('the sorry server uses its own lvs_method, else the virtual server one', () => {
    const v = vs('10.0.0.1:80', { lbKind: 'DR', sorryServer: sorry('10.0.9.9', 80) });
    const s = svcOf(v);
    expect(sorryDestFor(v, v.sorryServer!, s, 1)).toEqual({ key: '[10.0.9.9]:80', family: 'inet', address: '10.0.9.9', port: 80, fwd: 'DR', weight: 1, uThreshold: 0, lThreshold: 0 });
    expect(sorryDestFor(v, sorry('10.0.9.9', 80, { lbKind: 'NAT' }), s, 1).fwd).toBe('NAT');
  });
});
