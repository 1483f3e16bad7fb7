// The nftables engine against an in-memory nftables (nft-fake.ts): batches, atomicity, drift,
// observe round trips, persistence clean-up, DR MAC handling. Real-kernel behaviour is covered by
// test/system/nftables/.
import { describe, expect, it } from 'vitest';
import { diffTables } from '../../../src/dataplane/diff.js';
import { NftablesEngine, nftablesSysctls } from '../../../src/dataplane/nftables/engine.js';
import type { MacResolver } from '../../../src/dataplane/nftables/neigh.js';
import { destKey, serviceKey, type DestSpec, type Op, type ServiceSpec, type TableState } from '../../../src/dataplane/types.js';
import type { LbKind } from '../../../src/config/model.js';
import { FakeNft } from './nft-fake.js';

const NOFLAGS = { persistent: false, onePacket: false, sched1: false, sched2: false, sched3: false };
function svc(p: Partial<ServiceSpec> = {}): ServiceSpec {
  const s: ServiceSpec = { key: '', family: 'inet', protocol: 'TCP', address: '10.0.0.1', port: 80, scheduler: 'rr', flags: { ...NOFLAGS }, timeoutS: 0, netmask: '255.255.255.255', ...p };
  if (s.fwmark) {
    delete s.protocol;
    delete s.address;
    delete s.port;
  }
  s.key = serviceKey(s);
  return s;
}
function dest(address: string, weight = 1, fwd: LbKind = 'NAT', port = 80): DestSpec {
  return { key: destKey({ address, port }), family: address.includes(':') ? 'inet6' : 'inet', address, port, fwd, weight, uThreshold: 0, lThreshold: 0 };
}
function table(...entries: [ServiceSpec, DestSpec[]][]): TableState {
  return new Map(entries.map(([s, ds]) => [s.key, { svc: s, dests: new Map(ds.map((d) => [d.key, d])) }]));
}

class FakeMacs implements MacResolver {
  macs = new Map<string, string>([
    ['10.1.0.1', '02:00:00:00:01:01'],
    ['10.1.0.2', '02:00:00:00:01:02'],
    ['10.1.0.3', '02:00:00:00:01:03'],
  ]);
  async linkMac(): Promise<string> {
    return '02:00:00:00:00:aa';
  }
  async lookup(a: string): Promise<string | null> {
    return this.macs.get(a) ?? null;
  }
  async resolve(a: string): Promise<string> {
    const m = this.macs.get(a);
    if (!m) throw new Error(`cannot resolve the MAC address of ${a}`);
    return m;
  }
  close(): void {}
}

function setup(o: { drDevice?: string } = {}) {
  const nft = new FakeNft();
  const macs = new FakeMacs();
  const warnings: string[] = [];
  const mk = () => new NftablesEngine({ transport: nft, useGeneration: false, macResolver: macs, onWarning: (w) => warnings.push(w), mhTableSize: 251, ...o });
  return { nft, macs, warnings, e: mk(), mk };
}

async function program(e: NftablesEngine, want: TableState): Promise<void> {
  const r = await e.apply(diffTables(await e.observe(), want));
  expect(r.failed).toEqual([]);
}

const RS = ['10.1.0.1', '10.1.0.2', '10.1.0.3'];
const mixed = (): TableState =>
  table(
    [svc({ scheduler: 'wrr' }), [dest(RS[0]!, 1), dest(RS[1]!, 2), dest(RS[2]!, 0)]],
    [svc({ port: 443, scheduler: 'sh', flags: { ...NOFLAGS, persistent: true, sched2: true }, timeoutS: 600, netmask: '255.255.255.0', fullNatSource: '10.1.0.254' }), [dest(RS[0]!, 1, 'NAT', 8443)]],
    [svc({ fwmark: 9, scheduler: 'mh' }), [dest(RS[1]!, 1, 'NAT', 0), dest(RS[2]!, 3, 'NAT', 0)]],
    [svc({ fwmark: 10, scheduler: 'rr', flags: { ...NOFLAGS, persistent: true }, timeoutS: 30 }), [dest(RS[1]!, 1, 'NAT', 8080)]],
    [svc({ family: 'inet6', address: 'fd00::1', protocol: 'UDP', port: 53, scheduler: 'dh' }), [dest('fd01::1', 1, 'NAT', 53), dest('fd01::2', 1, 'NAT', 53)]],
    [svc({ address: '10.0.0.2', scheduler: 'rr' }), [dest(RS[0]!, 1, 'DR'), dest(RS[1]!, 1, 'DR')]],
    [svc({ address: '10.0.0.3', scheduler: 'fo', flags: { ...NOFLAGS, persistent: true }, timeoutS: 100 }), [dest(RS[0]!, 2, 'DR'), dest(RS[2]!, 5, 'DR')]],
    [svc({ port: 8000, scheduler: 'rr' }), []],
  );

describe('NftablesEngine (in-memory nftables)', () => {
  it('programs a table from empty and observes it back exactly, also from a fresh engine', async () => {
    const { e, mk, nft, warnings } = setup({ drDevice: 'eth0' });
    const want = mixed();
    await program(e, want);
    expect(nft.batches).toHaveLength(1);
    expect(await e.observe()).toEqual(want);
    const fresh = mk();
    expect(await fresh.observe()).toEqual(want);
    expect(fresh.lastDrift).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('observe() never lists the dynamic maps (flows, persistence), which can hold millions of clients', async () => {
    const { e, mk, nft } = setup({ drDevice: 'eth0' });
    await program(e, mixed());
    nft.listed.length = 0;
    await mk().observe();
    expect(nft.listed[0]).toBe('list ruleset');
    expect(nft.listed.filter((l) => /_pa?$|fl[46]$/.test(l))).toEqual([]);
    expect(nft.listed.filter((l) => l.startsWith('list table'))).toEqual([]);
  });

  it('a weight change rewrites only that service, in a few lines', async () => {
    const { e, nft } = setup({ drDevice: 'eth0' });
    const want = mixed();
    await program(e, want);
    const s = [...want.values()][0]!;
    const d = { ...s.dests.get(destKey({ address: RS[1]!, port: 80 }))!, weight: 5 };
    const r = await e.apply([{ op: 'edit-dest', svc: s.svc, dest: d }]);
    expect(r).toEqual({ applied: 1, failed: [] });
    const batch = nft.batches.at(-1)!;
    expect(batch).not.toMatch(/table|10\.0\.0\.2|10\.0\.0\.3|443|fwm/);
    expect(batch.trim().split('\n').length).toBeLessThanOrEqual(7);
    expect(e.lastBatch!.lines).toBe(batch.trim().split('\n').length);
    s.dests.set(d.key, d);
    expect(await mk2(nft).observe()).toEqual(want);
  });

  it('refuses ops the kernel would refuse, and applies nothing of the batch', async () => {
    const { e, nft } = setup();
    await program(e, table([svc(), [dest(RS[0]!)]]));
    const n = nft.batches.length;
    const ops: Op[] = [
      { op: 'add-dest', svc: svc(), dest: dest(RS[1]!) },
      { op: 'add-dest', svc: svc({ port: 99 }), dest: dest(RS[1]!) },
      { op: 'del-dest', svc: svc(), dest: dest(RS[2]!) },
      { op: 'add-service', svc: svc() },
    ];
    const r = await e.apply(ops);
    expect(r.applied).toBe(0);
    expect(r.failed.map((f) => f.op)).toEqual([ops[1], ops[2], ops[3]]);
    expect(r.failed[0]!.error).toMatch(/does not exist \(ESRCH\)/);
    expect(r.failed[1]!.error).toMatch(/ENOENT/);
    expect(r.failed[2]!.error).toMatch(/EEXIST/);
    expect(nft.batches).toHaveLength(n);
  });

  it('refuses what nftables cannot express, with the limitation as the reason', async () => {
    const { e, nft } = setup();
    const s = svc({ scheduler: 'lblc' });
    const r = await e.apply([
      { op: 'add-service', svc: s },
      { op: 'add-dest', svc: s, dest: dest(RS[0]!) },
    ]);
    expect(r.applied).toBe(0);
    expect(r.failed).toHaveLength(1);
    expect(r.failed[0]!.error).toMatch(/nftables cannot do this: scheduler lblc/);
    expect(nft.batches).toHaveLength(0);
    expect(e.limitations(svc(), [dest(RS[0]!, 1, 'DR')])[0]).toMatch(/DR needs the interface/);
  });

  it('is atomic: a refused batch changes nothing, and the failing line names its op', async () => {
    const { e, nft } = setup();
    const a = svc();
    const b = svc({ port: 81 });
    await program(e, table([a, [dest(RS[0]!), dest(RS[1]!)]], [b, [dest(RS[0]!), dest(RS[1]!)]]));
    const before = structuredClone(nft.state);
    nft.failOn = /10\.0\.0\.1 \. tcp \. 81 \./;
    const ops: Op[] = [
      { op: 'edit-dest', svc: a, dest: dest(RS[0]!, 3) },
      { op: 'add-dest', svc: b, dest: dest(RS[2]!) },
    ];
    const r = await e.apply(ops);
    expect(r.applied).toBe(0);
    expect(r.failed).toHaveLength(1);
    expect(r.failed[0]!.op).toBe(ops[1]);
    expect(r.failed[0]!.error).toMatch(/nftables refused the batch, nothing was applied: .*injected.*batch line \d+/s);
    expect(nft.state).toEqual(before);
    // the mirror was re-read: the same ops go through now
    expect((await e.apply(ops)).failed).toEqual([]);
  });

  it('leaves a drifted service out of observe(), and rewrites it whole when it is added again', async () => {
    const { e, nft, mk } = setup();
    const want = table([svc(), [dest(RS[0]!), dest(RS[1]!)]], [svc({ port: 81 }), [dest(RS[0]!)]]);
    await program(e, want);
    // someone changes the service's rule behind the engine's back
    nft.state.get('inet lvsd')!.chains.get('tcp4_10_0_0_1_80')!.rules[0] = { text: 'drop', comment: '' };
    const watcher = mk();
    const seen = await watcher.observe();
    expect([...seen.keys()]).toEqual([svc({ port: 81 }).key]);
    expect(watcher.lastDrift.join('\n')).toMatch(/service TCP:\[10\.0\.0\.1\]:80: chain tcp4_10_0_0_1_80 does not hold the expected rules; it will be rewritten/);
    await program(watcher, want);
    expect(await mk().observe()).toEqual(want);
  });

  it('rebuilds a table whose skeleton was damaged', async () => {
    const { e, nft, mk } = setup();
    const want = table([svc(), [dest(RS[0]!)]]);
    await program(e, want);
    nft.state.get('inet lvsd')!.chains.get('prerouting')!.rules.pop();
    const w = mk();
    expect(await w.observe()).toEqual(new Map());
    expect(w.lastDrift[0]).toMatch(/inet table lvsd: chain prerouting does not hold lvsd's rules; it will be rebuilt/);
    await program(w, want);
    expect(nft.batches.at(-1)).toMatch(/^delete table inet lvsd\nadd table inet lvsd/);
    expect(await mk().observe()).toEqual(want);
  });

  it('removes leftovers of services nobody wants any more', async () => {
    const { e, nft, mk } = setup();
    await program(e, table([svc(), [dest(RS[0]!)]], [svc({ port: 81 }), [dest(RS[0]!)]]));
    // a service whose metadata comment got lost: unreadable, so it is an orphan
    const svc4 = nft.state.get('inet lvsd')!.sets.get('svc4')!;
    svc4.elems.get('10.0.0.1 . tcp . 81')!.comment = 'garbage';
    const w = mk();
    expect([...(await w.observe()).keys()]).toEqual([svc().key]);
    await program(w, table([svc(), [dest(RS[0]!, 2)]]));
    const t = nft.state.get('inet lvsd')!;
    expect([...t.chains.keys()].filter((c) => c.includes('_81'))).toEqual([]);
    expect([...t.sets.values()].flatMap((s) => [...s.elems.keys()]).filter((k) => k.includes(' 81 ') || k.includes('. 81'))).toEqual([]);
  });

  it('drops persistence entries that point at a removed or drained real server', async () => {
    const { e, nft } = setup();
    const s = svc({ flags: { ...NOFLAGS, persistent: true }, timeoutS: 60 });
    await program(e, table([s, [dest(RS[0]!), dest(RS[1]!), dest(RS[2]!)]]));
    const p = nft.state.get('inet lvsd')!.sets.get('tcp4_10_0_0_1_80_p')!;
    p.elems.set('192.0.2.1', { value: '10.1.0.1 . 80' });
    p.elems.set('192.0.2.2', { value: '10.1.0.2 . 80' });
    p.elems.set('192.0.2.3', { value: '10.1.0.3 . 80' });
    expect((await e.apply([{ op: 'del-dest', svc: s, dest: dest(RS[0]!) }])).failed).toEqual([]);
    expect([...nft.state.get('inet lvsd')!.sets.get('tcp4_10_0_0_1_80_p')!.elems.keys()]).toEqual(['192.0.2.2', '192.0.2.3']);
    expect((await e.apply([{ op: 'edit-dest', svc: s, dest: dest(RS[1]!, 0) }])).failed).toEqual([]);
    expect([...nft.state.get('inet lvsd')!.sets.get('tcp4_10_0_0_1_80_p')!.elems.keys()]).toEqual(['192.0.2.3']);
  });

  it('DR: a real server whose MAC is unknown gets no slot, and is taken in once it resolves', async () => {
    const { e, macs, warnings } = setup({ drDevice: 'eth0' });
    const s = svc({ scheduler: 'rr' });
    const want = table([s, [dest(RS[0]!, 1, 'DR'), dest('10.1.0.9', 1, 'DR')]]);
    await program(e, want);
    expect(warnings.join('\n')).toMatch(/cannot resolve the MAC address of 10\.1\.0\.9; it gets no traffic until resolved/);
    expect(await e.observe()).toEqual(want);
    macs.macs.set('10.1.0.9', '02:00:00:00:01:09');
    const seen = await e.observe();
    expect(seen.has(s.key)).toBe(false); // reported as drifted so the reconciler rewrites it
    await program(e, want);
    expect(await e.observe()).toEqual(want);
  });

  it('drops the netdev table (the ingress hook) once no DR service is left', async () => {
    const { e, nft, mk } = setup({ drDevice: 'eth0' });
    const nat = svc({ port: 81 });
    const want = table([svc(), [dest(RS[0]!, 1, 'DR')]], [nat, [dest(RS[0]!)]]);
    await program(e, want);
    expect(nft.state.has('netdev lvsd')).toBe(true);
    want.delete(svc().key);
    await program(e, want);
    expect(nft.batches.at(-1)!.split('\n')[0]).toBe('delete table netdev lvsd');
    expect(nft.batches.at(-1)).not.toMatch(/element netdev/);
    expect(nft.state.has('netdev lvsd')).toBe(false);
    expect(await mk().observe()).toEqual(want);
  });

  it('DR: refreshMacs() notices a real server whose MAC changed, and observe() has it rewritten', async () => {
    const { e, macs, nft } = setup({ drDevice: 'eth0' });
    const s = svc();
    const want = table([s, [dest(RS[0]!, 1, 'DR'), dest(RS[1]!, 1, 'DR')]]);
    await program(e, want);
    macs.macs.set(RS[1]!, '02:00:00:00:02:02'); // NIC replaced
    expect(await e.refreshMacs()).toEqual([RS[1]]);
    expect((await e.observe()).has(s.key)).toBe(false);
    await program(e, want);
    expect(JSON.stringify([...nft.state.get('netdev lvsd')!.sets.values()].map((x) => [...x.elems.values()]))).toContain('02:00:00:00:02:02');
    expect(await e.observe()).toEqual(want);
  });

  it('DR without a DR interface is refused up front', async () => {
    const { e } = setup();
    const s = svc();
    const r = await e.apply([
      { op: 'add-service', svc: s },
      { op: 'add-dest', svc: s, dest: dest(RS[0]!, 1, 'DR') },
    ]);
    expect(r.failed[0]!.error).toMatch(/DR needs the interface/);
  });

  it('checks its options', () => {
    expect(() => new NftablesEngine({ transport: new FakeNft(), table: 'bad name' })).toThrow(/table name/);
    expect(() => new NftablesEngine({ transport: new FakeNft(), mhTableSize: 1000 })).toThrow(/prime/);
    expect(() => new NftablesEngine({ transport: new FakeNft(), drDevice: 'eth0"; flush ruleset' })).toThrow(/interface name/);
  });

  it('tells the daemon which sysctls the services need', () => {
    const t = mixed();
    expect(nftablesSysctls(t.values()).map((x) => `${x.key}=${x.value}`)).toEqual(['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    expect(nftablesSysctls(table([svc(), [dest(RS[0]!, 1, 'DR')]]).values())).toEqual([]);
  });

  it('destroy() removes only its own tables', async () => {
    const { e, nft } = setup({ drDevice: 'eth0' });
    nft.state.set('inet other', { sets: new Map(), chains: new Map() });
    await program(e, mixed());
    expect([...nft.state.keys()].sort()).toEqual(['inet lvsd', 'inet other', 'netdev lvsd']);
    await e.destroy();
    expect([...nft.state.keys()]).toEqual(['inet other']);
    expect(await e.observe()).toEqual(new Map());
  });
});

function mk2(nft: FakeNft): NftablesEngine {
  return new NftablesEngine({ transport: nft, useGeneration: false, macResolver: new FakeMacs(), mhTableSize: 251, drDevice: 'eth0' });
}
