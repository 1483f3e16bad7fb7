// Table builders and fast-check arbitraries shared by the dataplane tests.
import fc from 'fast-check';
import type { DestSpec, ServiceSpec, ServiceState, TableState } from '../../../src/dataplane/types.js';
import { destKey, serviceKey } from '../../../src/dataplane/types.js';
import type { LbKind, Scheduler, TunnelSpec } from '../../../src/config/model.js';

export function svc(address: string, port: number, o: Partial<ServiceSpec> = {}): ServiceSpec {
  const id = { family: address.includes(':') ? ('inet6' as const) : ('inet' as const), protocol: 'TCP' as const, address, port };
  return {
    key: serviceKey(id),
    ...id,
    scheduler: 'wlc',
    flags: { persistent: false, onePacket: false, sched1: false, sched2: false, sched3: false },
    timeoutS: 0,
    netmask: id.family === 'inet6' ? '128' : '255.255.255.255',
    ...o,
  };
}

export function dest(address: string, port: number, o: Partial<DestSpec> = {}): DestSpec {
  return { key: destKey({ address, port }), family: 'inet', address, port, fwd: 'NAT', weight: 1, uThreshold: 0, lThreshold: 0, ...o };
}

export function table(...entries: [ServiceSpec, DestSpec[]][]): TableState {
  return new Map(entries.map(([s, ds]): [string, ServiceState] => [s.key, { svc: s, dests: new Map(ds.map((d) => [d.key, d])) }]));
}

/** Plain, sorted form for deep equality in tests. */
export function plain(t: TableState): unknown {
  return [...t.values()]
    .map((s) => ({ svc: s.svc, dests: [...s.dests.values()].sort((a, b) => a.key.localeCompare(b.key)) }))
    .sort((a, b) => a.svc.key.localeCompare(b.svc.key));
}

// ---- arbitraries: a small universe of identities so that random tables overlap a lot ----

const svcIdentity = fc.oneof(
  fc.record({ kind: fc.constant('ip' as const), addr: fc.constantFrom('10.0.0.1', '10.0.0.2', 'fd00::1'), port: fc.constantFrom(80, 443), protocol: fc.constantFrom('TCP' as const, 'UDP' as const) }),
  fc.record({ kind: fc.constant('fwm' as const), mark: fc.constantFrom(1, 2), family: fc.constantFrom('inet' as const, 'inet6' as const) }),
);

const scheduler = fc.constantFrom<Scheduler>('rr', 'wlc', 'sh', 'mh');
const fwd = fc.constantFrom<LbKind>('NAT', 'DR', 'TUN');
const tunnel: fc.Arbitrary<TunnelSpec | undefined> = fc.option(
  fc.record({ type: fc.constantFrom('ipip' as const, 'gue' as const, 'gre' as const), port: fc.option(fc.constantFrom(0, 6080), { nil: undefined }), csum: fc.option(fc.constantFrom('nocsum' as const, 'csum' as const), { nil: undefined }) }, { requiredKeys: ['type'] }),
  { nil: undefined },
);

export const arbService: fc.Arbitrary<ServiceSpec> = fc
  .record({
    id: svcIdentity,
    scheduler,
    flags: fc.record({ persistent: fc.boolean(), onePacket: fc.boolean(), sched1: fc.boolean(), sched2: fc.boolean(), sched3: fc.boolean() }),
    timeoutS: fc.constantFrom(0, 300),
    pe: fc.option(fc.constant('sip'), { nil: undefined }),
  })
  .map(({ id, scheduler, flags, timeoutS, pe }) => {
    const base =
      id.kind === 'ip'
        ? { family: id.addr.includes(':') ? ('inet6' as const) : ('inet' as const), protocol: id.protocol, address: id.addr, port: id.port }
        : { family: id.family, fwmark: id.mark };
    const s: ServiceSpec = { key: serviceKey(base), ...base, scheduler, flags, timeoutS, netmask: base.family === 'inet6' ? '128' : '255.255.255.255' };
    if (pe) s.peName = pe;
    return s;
  });

export const arbDest: fc.Arbitrary<DestSpec> = fc
  .record({ addr: fc.constantFrom('10.1.0.1', '10.1.0.2', '10.1.0.3'), port: fc.constantFrom(0, 80), fwd, weight: fc.integer({ min: 0, max: 5 }), u: fc.constantFrom(0, 100), l: fc.constantFrom(0, 10), tunnel })
  .map(({ addr, port, fwd, weight, u, l, tunnel }) => {
    const d: DestSpec = { key: destKey({ address: addr, port }), family: 'inet', address: addr, port, fwd, weight, uThreshold: u, lThreshold: l };
    if (tunnel && fwd === 'TUN') d.tunnel = tunnel;
    return d;
  });

export const arbTable: fc.Arbitrary<TableState> = fc
  .array(fc.tuple(arbService, fc.array(arbDest, { maxLength: 4 })), { maxLength: 5 })
  .map((entries) => {
    const t: TableState = new Map();
    for (const [s, ds] of entries) t.set(s.key, { svc: s, dests: new Map(ds.map((d) => [d.key, d])) });
    return t;
  });
