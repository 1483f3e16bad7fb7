// IPVS engine logic over a scripted transport (the real kernel runs in test/system/ipvs):
// family lookup, dumps decoded into TableState, per-op errors, request pipelining.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GENL_ID_CTRL, type NlMsg } from '../../../src/net/netlink/codec.js';
import { NetlinkError } from '../../../src/net/netlink/socket.js';
import { IpvsEngine, IpvsUnavailableError, type NetlinkTransport } from '../../../src/dataplane/ipvs/engine.js';
import { destToWire, enc, serviceToWire } from '../../../src/dataplane/ipvs/codec.js';
import { destKey, serviceKey, type DestSpec, type Op, type ServiceSpec } from '../../../src/dataplane/types.js';
import { exchanges, golden } from './ipvs-golden.js';

type Handler = (type: number, flags: number, payload: Buffer) => NlMsg[] | Promise<NlMsg[]>;

class FakeTransport implements NetlinkTransport {
  sent: { type: number; flags: number; payload: Buffer }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  closed = false;
  constructor(private readonly handler: Handler, private readonly familyId = 32) {}
  async request(type: number, flags: number, payload: Uint8Array): Promise<NlMsg[]> {
    const p = Buffer.from(payload);
    if (type === GENL_ID_CTRL) return [familyReply(this.familyId)];
    this.sent.push({ type, flags, payload: p });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((r) => setImmediate(r));
      return await this.handler(type, flags, p);
    } finally {
      this.inFlight--;
    }
  }
  close(): void {
    this.closed = true;
  }
}

function familyReply(id: number): NlMsg {
  const g = golden('01-add-service-tcp-rr');
  const m = g.datagrams.find((d) => d.dir === 'recv' && d.msgs[0]?.type === GENL_ID_CTRL)!.msgs[0]!;
  const payload = Buffer.from(m.payload);
  payload.writeUInt16LE(id, payload.indexOf(Buffer.from([6, 0, 1, 0])) + 4); // CTRL_ATTR_FAMILY_ID
  return { ...m, payload };
}

const noFlags = { persistent: false, onePacket: false, sched1: false, sched2: false, sched3: false };
const svc = (p: Partial<ServiceSpec>): ServiceSpec => {
  const s: ServiceSpec = { key: '', family: 'inet', protocol: 'TCP', address: '10.0.0.1', port: 80, scheduler: 'rr', flags: noFlags, timeoutS: 0, netmask: '255.255.255.255', ...p };
  s.key = serviceKey(s);
  return s;
};
const dest = (p: Partial<DestSpec>): DestSpec => {
  const d: DestSpec = { key: '', family: 'inet', address: '10.0.0.2', port: 80, fwd: 'NAT', weight: 1, uThreshold: 0, lThreshold: 0, ...p };
  d.key = destKey(d);
  return d;
};

describe('IpvsEngine: opening', () => {
  it('a kernel without the IPVS family gives a clear error', async () => {
    const t: NetlinkTransport = {
      request: async () => {
        throw new NetlinkError(2, 'resolve generic netlink family "IPVS"');
      },
      close: () => undefined,
    };
    await expect(IpvsEngine.withTransport(t)).rejects.toThrow(IpvsUnavailableError);
    await expect(IpvsEngine.withTransport(t)).rejects.toThrow('kernel has no IPVS (ip_vs module not loaded?)');
  });

  it('other nlctrl failures are passed on as they are', async () => {
    const t: NetlinkTransport = {
      request: async () => {
        throw new NetlinkError(1, 'resolve generic netlink family "IPVS"');
      },
      close: () => undefined,
    };
    await expect(IpvsEngine.withTransport(t)).rejects.toThrow(/operation not permitted \(EPERM\)/);
  });

  it.skipIf(fs.existsSync('/proc/net/ip_vs') || process.getuid?.() !== 0)('on this host (no IPVS in the kernel) open() says so', async () => {
    await expect(IpvsEngine.open()).rejects.toThrow('kernel has no IPVS (ip_vs module not loaded?)');
  });
});

describe('IpvsEngine: observe', () => {
  it('turns the kernel dumps of the golden `ipvsadm -Ln` into TableState', async () => {
    const g = golden('13-list-numeric');
    // NetlinkSocket hands over the data messages only (DONE/ACK end the request)
    const byRequest = new Map(exchanges(g).map((x) => [x.request.payload.toString('hex'), x.replies.filter((m) => m.type === g.familyId)]));
    const t = new FakeTransport((_type, _flags, payload) => {
      const r = byRequest.get(payload.toString('hex'));
      if (!r) throw new Error(`unexpected request ${payload.toString('hex')}`);
      return r;
    }, g.familyId);
    const e = await IpvsEngine.withTransport(t);
    const table = await e.observe();
    expect([...table.keys()]).toEqual(['TCP:[10.0.0.1]:80', 'TCP:[10.0.0.1]:443', 'TCP:[10.0.0.9]:8080', 'UDP:[2001:db8::1]:53', 'FWM:inet:42']);
    expect([...table.get('TCP:[10.0.0.1]:80')!.dests.keys()].sort()).toEqual(['[10.0.0.2]:80', '[10.0.0.3]:80', '[10.0.0.4]:80']);
    expect(table.get('TCP:[10.0.0.1]:80')!.dests.get('[10.0.0.2]:80')).toEqual(dest({ weight: 0 }));
    expect(table.get('FWM:inet:42')!.svc.scheduler).toBe('sh');
    expect(table.get('UDP:[2001:db8::1]:53')!.dests.get('[2001:db8::2]:53')!.family).toBe('inet6');
    // one service dump, then one destination dump per service, in that order
    expect(t.sent.map((s) => s.payload[0])).toEqual([4, 8, 8, 8, 8, 8]);
    expect(t.sent.every((s) => s.flags === 0x305 && s.type === 32)).toBe(true);
    await e.close();
    expect(t.closed).toBe(true);
  });

  it('a garbled dump is a decode error, not a crash or a half table', async () => {
    const t = new FakeTransport(() => [{ type: 32, flags: 2, seq: 1, pid: 0, payload: Buffer.from([1, 1, 0, 0, 8, 0, 1, 0]) }]);
    const e = await IpvsEngine.withTransport(t);
    await expect(e.observe()).rejects.toThrow(/IPVS service/);
  });
});

describe('IpvsEngine: apply', () => {
  const s1 = svc({});
  const ops: Op[] = [
    { op: 'add-service', svc: s1 },
    { op: 'add-dest', svc: s1, dest: dest({}) },
    { op: 'add-dest', svc: svc({ port: 81 }), dest: dest({}) },
    { op: 'add-service', svc: svc({ port: 82, scheduler: 'foo' as never }) },
    { op: 'edit-dest', svc: s1, dest: dest({ address: '10.0.0.9' }) },
    { op: 'del-service', svc: svc({ port: 83 }) },
    { op: 'add-dest', svc: s1, dest: dest({ address: '10.0.0.300' }) },
    { op: 'add-service', svc: s1 },
  ];
  // the kernel's answers for the ops above, in order (0 = ACK)
  const errnos = [0, 0, 3, 2, 2, 3, -1, 17];

  it('reports each refusal with the kernel errno and what it means here', async () => {
    let i = 0;
    const t = new FakeTransport(() => {
      while (errnos[i] === -1) i++; // the bad address never reaches the kernel
      const err = errnos[i++]!;
      if (err) throw new NetlinkError(err, 'ignored');
      return [];
    });
    const e = await IpvsEngine.withTransport(t);
    const r = await e.apply(ops);
    expect(r.applied).toBe(2);
    expect(r.failed.map((f) => f.error)).toEqual([
      'add destination [10.0.0.2]:80 to TCP:[10.0.0.1]:81: No such process (ESRCH) — service does not exist',
      "add service TCP:[10.0.0.1]:82: No such file or directory (ENOENT) — scheduler 'foo' not available (no ip_vs_foo module in this kernel?)",
      'edit destination [10.0.0.9]:80 in TCP:[10.0.0.1]:80: No such file or directory (ENOENT) — destination does not exist',
      'delete service TCP:[10.0.0.1]:83: No such process (ESRCH) — service does not exist',
      'add destination [10.0.0.300]:80 to TCP:[10.0.0.1]:80: "10.0.0.300" is not an IP address',
      'add service TCP:[10.0.0.1]:80: File already exists (EEXIST) — service already exists',
    ]);
    expect(r.failed.map((f) => f.op)).toEqual([ops[2], ops[3], ops[4], ops[5], ops[6], ops[7]]);
    expect(t.sent.map((s) => s.payload[0])).toEqual([1, 5, 5, 1, 6, 3, 1]);
  });

  it('window 1 waits for each ACK; a larger window pipelines but keeps the order', async () => {
    const many: Op[] = Array.from({ length: 100 }, (_, k) => ({ op: 'add-dest', svc: s1, dest: dest({ port: 1000 + k }) }));
    for (const [window, max] of [
      [1, 1],
      [8, 8],
      [1000, 100],
    ] as const) {
      const t = new FakeTransport(() => []);
      const e = await IpvsEngine.withTransport(t, { window });
      const r = await e.apply(many);
      expect(r).toEqual({ applied: 100, failed: [] });
      expect(t.maxInFlight).toBe(max);
      // the order on the wire is the op order
      expect(t.sent.map((s) => s.payload.toString('hex'))).toEqual(
        many.map((o) => (o.op === 'add-dest' ? enc.newDest(serviceToWire(o.svc), destToWire(o.dest)).payload.toString('hex') : '')),
      );
    }
  });

  it('batch mode: N requests per datagram, each op still gets its own outcome', async () => {
    const many: Op[] = Array.from({ length: 600 }, (_, k) => ({ op: 'add-dest', svc: s1, dest: dest({ port: 1000 + k }) }));
    const t = new FakeTransport(() => []);
    const sizes: number[] = [];
    const sent: Buffer[] = [];
    (t as NetlinkTransport).requestBatch = (type, items) => {
      expect(type).toBe(32);
      sizes.push(items.length);
      return items.map((it) => {
        sent.push(Buffer.from(it.payload));
        // the kernel refuses destination port 1300 and 1599 (the last of the last batch)
        const port = Buffer.from(it.payload).readUInt16BE(4 + 48 + 4 + 8 + 20 + 4);
        return port === 1300 || port === 1599 ? Promise.reject(new NetlinkError(3, it.context)) : Promise.resolve([]);
      });
    };
    const e = await IpvsEngine.withTransport(t, { batch: 256 });
    const r = await e.apply(many);
    expect(sizes).toEqual([256, 256, 88]);
    expect(t.sent.length).toBe(0); // nothing went the one-by-one way
    expect(sent.map((b) => b.toString('hex'))).toEqual(
      many.map((o) => (o.op === 'add-dest' ? enc.newDest(serviceToWire(o.svc), destToWire(o.dest)).payload.toString('hex') : '')),
    );
    expect(r.applied).toBe(598);
    expect(r.failed.map((f) => f.error)).toEqual([
      'add destination [10.0.0.2]:1300 to TCP:[10.0.0.1]:80: No such process (ESRCH) — service does not exist',
      'add destination [10.0.0.2]:1599 to TCP:[10.0.0.1]:80: No such process (ESRCH) — service does not exist',
    ]);
    // one-by-one on request
    const r1 = await e.apply(many.slice(0, 3), { batch: 1, window: 1 });
    expect(r1).toEqual({ applied: 3, failed: [] });
    expect(t.sent.length).toBe(3);
  });

  it('timeouts and other transport failures are per-op errors too', async () => {
    const t = new FakeTransport(() => {
      throw new Error('add service TCP:[10.0.0.1]:80: no answer from the kernel in 5000 ms');
    });
    const e = await IpvsEngine.withTransport(t);
    const r = await e.apply([{ op: 'add-service', svc: s1 }]);
    expect(r.failed[0]!.error).toBe('add service TCP:[10.0.0.1]:80: add service TCP:[10.0.0.1]:80: no answer from the kernel in 5000 ms');
  });

  it('a closed engine refuses politely', async () => {
    const t = new FakeTransport(() => []);
    const e = await IpvsEngine.withTransport(t);
    await e.close();
    const r = await e.apply([{ op: 'add-service', svc: s1 }]);
    expect(r.failed[0]!.error).toMatch(/IPVS engine is closed/);
    await expect(e.observe()).rejects.toThrow(/closed/);
  });
});

describe('IpvsEngine: limitations', () => {
  it('is empty for what IPVS does, and names what it cannot do', async () => {
    const e = await IpvsEngine.withTransport(new FakeTransport(() => []));
    const sv = svc({ scheduler: 'mh', flags: { ...noFlags, sched1: true, sched2: true }, timeoutS: 300 });
    expect(
      e.limitations(sv, [
        dest({}),
        dest({ address: '10.0.0.3', fwd: 'DR', weight: 5, uThreshold: 100, lThreshold: 10 }),
        dest({ address: '10.0.0.4', fwd: 'TUN', tunnel: { type: 'gue', port: 6080, csum: 'remcsum' } }),
        dest({ family: 'inet6', address: 'fd00::4', fwd: 'TUN', tunnel: { type: 'gre' } }),
      ]),
    ).toEqual([]);
    expect(
      e.limitations(svc({ fullNatSource: '10.0.0.250', netmask: '255.0.255.0' }), [
        dest({ family: 'inet6', address: 'fd00::5', fwd: 'NAT' }),
        dest({ address: '10.0.0.6', fwd: 'TUN', tunnel: { type: 'gue' } }),
      ]),
    ).toEqual([
      'full NAT (lvsd_fullnat) needs the nftables engine: IPVS cannot rewrite the client source address',
      'IPv4 persistence netmask "255.0.255.0" is not contiguous',
      'real server [fd00::5]:80: IPVS mixes IPv4 and IPv6 only with TUN forwarding, not NAT',
      'real server [10.0.0.6]:80: a GUE tunnel needs a port',
    ]);
  });
});
