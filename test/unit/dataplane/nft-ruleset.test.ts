// What the nftables engine writes (planService, skeletons, batches) and how it reads nft's JSON
// back (parseListing, sharedBase), plus the small codecs at its edges.
import { describe, expect, it } from 'vitest';
import { planService, inetSkeleton, netdevSkeleton, maskedSource, hashComment, withHash, shardOf, shardMap, SHARDS, type GenOptions } from '../../../src/dataplane/nftables/ruleset.js';
import { buildBatch, Physical } from '../../../src/dataplane/nftables/batch.js';
import { normToken, parseListing, sharedBase } from '../../../src/dataplane/nftables/observe.js';
import { errorLine } from '../../../src/dataplane/nftables/transport.js';
import { decodeNeigh, encodeGetNeighDump, NUD, usableMac } from '../../../src/dataplane/nftables/neigh.js';
import { decodeGenId, encodeGetGen, GETGEN_TYPE } from '../../../src/dataplane/nftables/genid.js';
import { destKey, serviceKey, type DestSpec, type ServiceSpec } from '../../../src/dataplane/types.js';
import type { LbKind } from '../../../src/config/model.js';
import { AttrWriter } from '../../../src/net/netlink/codec.js';

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
const O: GenOptions = {
  table: 'lvsd',
  drDevice: 'eth0',
  flowTimeoutS: { TCP: 900, UDP: 300, SCTP: 900 },
  dynSize: 65536,
  flowSize: 1048576,
  ingressPriority: 100,
  mhTableSize: 251,
  hashSeed: 0xabc,
  maxSlots: 1024,
};
const DR = { dirMac: '02:00:00:00:00:aa', macs: new Map([['10.1.0.1', '02:00:00:00:01:01'], ['10.1.0.2', '02:00:00:00:01:02'], ['fd01::1', '02:00:00:00:01:01']]) };
// shard suffixes ("be4tcp_17") are left out here; the sharding test checks them
const unshard = (x: string): string => x.replace(/\b((?:be|bem|dbe|dm|dmm)[46](?:tcp|udp|sctp)?)_\d+\b/g, '$1');
const rules = (p: ReturnType<typeof planService>, table: string, name: string): string[] | undefined =>
  p.objects.find((o) => o.table === table && o.name === name)?.rules?.map(unshard);
const shared = (p: ReturnType<typeof planService>, map: string): string[] =>
  p.shared.filter((e) => unshard(e.map) === map).map((e) => `${e.key}${e.comment ? ` "${e.comment}"` : ''}${e.value !== undefined ? ` : ${e.value}` : ''}`);

describe('planService', () => {
  it('NAT rr: dispatch with metadata, dest metadata, slots, one dnat rule', () => {
    const p = planService(svc(), [dest('10.1.0.2'), dest('10.1.0.1', 3, 'NAT', 8080)], O);
    expect(p.kind).toBe('nat');
    expect(shared(p, 'svc4')).toEqual(['10.0.0.1 . tcp . 80 "lvsd1 s=rr f=- t=0 m=255.255.255.255" : goto tcp4_10_0_0_1_80']);
    expect(shared(p, 'dm4')).toEqual(['10.0.0.1 . tcp . 80 . 10.1.0.1 . 8080 "lvsd1 w=3 k=NAT"', '10.0.0.1 . tcp . 80 . 10.1.0.2 . 80 "lvsd1 w=1 k=NAT"']);
    expect(shared(p, 'be4tcp')).toEqual(['10.0.0.1 . 80 . 0 : 10.1.0.1 . 8080', '10.0.0.1 . 80 . 1 : 10.1.0.2 . 80']);
    expect(rules(p, 'inet', 'tcp4_10_0_0_1_80')).toEqual(['meta l4proto tcp dnat ip to ip daddr . tcp dport . numgen inc mod 2 map @be4tcp']);
    expect(p.objects).toHaveLength(1);
  });

  it('spreads the big per-service maps over shards by a hash of the service, and says which it needs', () => {
    const p = planService(svc(), [dest('10.1.0.1')], O);
    const k = shardOf('tcp4_10_0_0_1_80');
    expect(k).toBeGreaterThanOrEqual(0);
    expect(k).toBeLessThan(SHARDS);
    expect(p.objects[0]!.rules).toEqual([`meta l4proto tcp dnat ip to ip daddr . tcp dport . numgen inc mod 1 map @be4tcp_${k}`]);
    expect(p.maps.map((m) => m.name).sort()).toEqual([`be4tcp_${k}`, `dm4_${k}`]);
    expect(p.maps.find((m) => m.name === `dm4_${k}`)).toEqual({ table: 'inet', name: `dm4_${k}`, kind: 'set', decl: '{ type ipv4_addr . inet_proto . inet_service . ipv4_addr . inet_service; }' });
    expect(shardMap('netdev', 'dbe6udp_3')!.decl).toBe('{ typeof ip6 daddr . udp dport . numgen inc mod 1 : ether daddr; }');
    expect(shardMap('inet', 'bem4_0')!.decl).toBe('{ typeof meta mark . numgen inc mod 1 : ip daddr; }');
    expect(shardMap('inet', 'dbe4tcp_1')).toBeUndefined(); // DR slots live in the netdev table
    expect(shardMap('inet', `be4tcp_${SHARDS}`)).toBeUndefined();
    expect(shardMap('inet', 'svc4')).toBeUndefined();
  });

  it('no live real server: the chain drops', () => {
    const p = planService(svc({ scheduler: 'wrr' }), [dest('10.1.0.1', 0)], O);
    expect(rules(p, 'inet', 'tcp4_10_0_0_1_80')).toEqual(['drop']);
    expect(shared(p, 'dm4')).toHaveLength(1);
    expect(rules(planService(svc(), [], O), 'inet', 'tcp4_10_0_0_1_80')).toEqual(['drop']);
  });

  it('persistence and full NAT', () => {
    const s = svc({ scheduler: 'sh', flags: { ...NOFLAGS, persistent: true }, timeoutS: 120, netmask: '255.255.255.0', fullNatSource: '10.1.0.254' });
    const p = planService(s, [dest('10.1.0.1')], O);
    expect(rules(p, 'inet', 'tcp4_10_0_0_1_80')).toEqual([
      'meta l4proto tcp dnat ip to ip saddr & 255.255.255.0 map @tcp4_10_0_0_1_80_p',
      'meta l4proto tcp dnat ip to ip daddr . tcp dport . jhash ip saddr mod 1 seed 0x00000abc map @be4tcp',
    ]);
    expect(rules(p, 'inet', 'tcp4_10_0_0_1_80_r')).toEqual(['update @tcp4_10_0_0_1_80_p { ip saddr & 255.255.255.0 timeout 120s : ip daddr . th dport }']);
    expect(p.objects.find((o) => o.name === 'tcp4_10_0_0_1_80_p')).toMatchObject({ type: 'map', dynamic: true, decl: '{ type ipv4_addr : ipv4_addr . inet_service; flags dynamic,timeout; size 65536; }' });
    expect(shared(p, 'pers4')).toEqual(['10.0.0.1 . tcp . 80 : goto tcp4_10_0_0_1_80_r']);
    expect(shared(p, 'fnat4')).toEqual(['10.0.0.1 . tcp . 80 : 10.1.0.254']);
    expect(shared(p, 'svc4')[0]).toMatch(/"lvsd1 s=sh f=P t=120 m=255\.255\.255\.0 fn=10\.1\.0\.254"/);
  });

  it('fwmark NAT keeps the port with port-0 dests, else translates per protocol', () => {
    const keep = planService(svc({ fwmark: 7 }), [dest('10.1.0.1', 1, 'NAT', 0)], O);
    expect(rules(keep, 'inet', 'fwm4_7')).toEqual(['dnat ip to meta mark . numgen inc mod 1 map @bem4']);
    expect(shared(keep, 'bem4')).toEqual(['7 . 0 : 10.1.0.1']);
    expect(shared(keep, 'fwm4')[0]).toMatch(/^7 "lvsd1 /);
    expect(shared(keep, 'dmm4')).toEqual(['7 . 10.1.0.1 . 0 "lvsd1 w=1 k=NAT"']);
    const tr = planService(svc({ fwmark: 7 }), [dest('10.1.0.1', 1, 'NAT', 8080)], O);
    expect(rules(tr, 'inet', 'fwm4_7')).toEqual([
      'meta l4proto tcp dnat ip to meta mark . numgen inc mod 1 map @bem4tcp',
      'meta l4proto udp dnat ip to meta mark . numgen inc mod 1 map @bem4udp',
      'meta l4proto sctp dnat ip to meta mark . numgen inc mod 1 map @bem4sctp',
    ]);
    expect(shared(tr, 'bem4udp')).toEqual(['7 . 0 : 10.1.0.1 . 8080']);
  });

  it('IPv6 persistence records addresses only (nft 1.0.6 dynset size limit)', () => {
    const s = svc({ family: 'inet6', address: 'fd00::1', flags: { ...NOFLAGS, persistent: true }, timeoutS: 60, netmask: '64' });
    const p = planService(s, [dest('fd01::1')], O);
    expect(rules(p, 'inet', 'tcp6_fd00__1_80')![0]).toBe('meta l4proto tcp dnat ip6 to ip6 saddr & ffff:ffff:ffff:ffff:: map @tcp6_fd00__1_80_pa');
    expect(rules(p, 'inet', 'tcp6_fd00__1_80_r')).toEqual(['update @tcp6_fd00__1_80_pa { ip6 saddr & ffff:ffff:ffff:ffff:: timeout 60s : ip6 daddr }']);
    expect(maskedSource(svc({ family: 'inet6', address: 'fd00::1', netmask: '128' }))).toBe('ip6 saddr');
    expect(maskedSource(svc({ netmask: '255.255.0.0' }))).toBe('ip saddr & 255.255.0.0');
  });

  it('DR: MAC rewrite both ways, flow table, fwd back out; inet keeps the metadata and drops', () => {
    const p = planService(svc({ scheduler: 'wrr' }), [dest('10.1.0.1', 1, 'DR'), dest('10.1.0.2', 2, 'DR')], O, DR);
    expect(p.kind).toBe('dr');
    expect(rules(p, 'inet', 'tcp4_10_0_0_1_80')).toEqual(['drop']);
    const tail = 'ether saddr set 02:00:00:00:00:aa fwd to "eth0"';
    const rec = 'update @fl4 { ip daddr . th dport . ip saddr . th sport timeout 900s : ether daddr }';
    const key = 'ip daddr . th dport . ip saddr . th sport';
    expect(rules(p, 'netdev', 'tcp4_10_0_0_1_80')).toEqual([
      // a SYN on a tuple the client closed is a new connection: forget the old flow (port reuse)
      `tcp flags & (syn | ack) == syn ${key} @flc4 delete @fl4 { ${key} : ether daddr } delete @flc4 { ${key} }`,
      `tcp flags & (fin | rst) != 0 update @flc4 { ${key} timeout 900s }`,
      `ether daddr set ${key} map @fl4 ${rec} ${tail}`,
      'meta l4proto tcp ether daddr set ip daddr . tcp dport . numgen inc mod 3 map @dbe4tcp',
      rec,
      tail,
    ]);
    expect(shared(p, 'dbe4tcp')).toEqual(['10.0.0.1 . 80 . 0 : 02:00:00:00:01:02', '10.0.0.1 . 80 . 1 : 02:00:00:00:01:01', '10.0.0.1 . 80 . 2 : 02:00:00:00:01:02']);
    expect(p.shared.filter((e) => e.table === 'netdev' && e.map === 'svc4')).toHaveLength(1);
    // the MACs are recorded with the dest metadata
    expect(shared(p, 'dm4')).toEqual(['10.0.0.1 . tcp . 80 . 10.1.0.1 . 80 "lvsd1 w=1 k=DR mac=02:00:00:00:01:01"', '10.0.0.1 . tcp . 80 . 10.1.0.2 . 80 "lvsd1 w=2 k=DR mac=02:00:00:00:01:02"']);
  });

  it('DR: IPv6 flows are keyed by a hash, persistence by the client, one-packet has no flow table', () => {
    const v6 = planService(svc({ family: 'inet6', address: 'fd00::1' }), [dest('fd01::1', 1, 'DR')], O, DR);
    expect(rules(v6, 'netdev', 'tcp6_fd00__1_80')![0]).toMatch(/^tcp flags & \(syn \| ack\) == syn jhash ip6 daddr .* @flc6 delete @fl6 /);
    expect(rules(v6, 'netdev', 'tcp6_fd00__1_80')![2]).toMatch(/^ether daddr set jhash ip6 daddr \. th dport \. ip6 saddr \. th sport mod 4294967295 seed 0xabc map @fl6 /);
    // UDP has no connection to reuse
    const udp = planService(svc({ protocol: 'UDP' }), [dest('10.1.0.1', 1, 'DR')], O, DR);
    expect(rules(udp, 'netdev', 'udp4_10_0_0_1_80')![0]).toMatch(/^ether daddr set ip daddr \. th dport \. ip saddr \. th sport map @fl4 /);
    const pers = planService(svc({ flags: { ...NOFLAGS, persistent: true }, timeoutS: 30 }), [dest('10.1.0.1', 1, 'DR')], O, DR);
    expect(rules(pers, 'netdev', 'tcp4_10_0_0_1_80')).toEqual([
      'ether daddr set ip saddr map @tcp4_10_0_0_1_80_p update @tcp4_10_0_0_1_80_p { ip saddr timeout 30s : ether daddr } ether saddr set 02:00:00:00:00:aa fwd to "eth0"',
      'meta l4proto tcp ether daddr set ip daddr . tcp dport . numgen inc mod 1 map @dbe4tcp',
      'update @tcp4_10_0_0_1_80_p { ip saddr timeout 30s : ether daddr }',
      'ether saddr set 02:00:00:00:00:aa fwd to "eth0"',
    ]);
    const ops = planService(svc({ flags: { ...NOFLAGS, onePacket: true } }), [dest('10.1.0.1', 1, 'DR')], O, DR);
    expect(rules(ops, 'netdev', 'tcp4_10_0_0_1_80')).toEqual(['meta l4proto tcp ether daddr set ip daddr . tcp dport . numgen inc mod 1 map @dbe4tcp', 'ether saddr set 02:00:00:00:00:aa fwd to "eth0"']);
  });

  it('DR: a real server without a MAC gets no slot and is reported', () => {
    const p = planService(svc(), [dest('10.1.0.1', 1, 'DR'), dest('10.1.0.9', 1, 'DR')], O, DR);
    expect(p.unresolved).toEqual(['10.1.0.9']);
    expect(shared(p, 'dbe4tcp')).toEqual(['10.0.0.1 . 80 . 0 : 02:00:00:00:01:01']);
    expect(shared(p, 'dm4')[1]).toBe('10.0.0.1 . tcp . 80 . 10.1.0.9 . 80 "lvsd1 w=1 k=DR"');
    expect(() => planService(svc(), [dest('10.1.0.1', 1, 'DR')], O)).toThrow(/MAC/);
  });
});

describe('skeletons and batches', () => {
  it('skeleton rules cover both families and every protocol; the netdev hash carries the device', () => {
    const s = inetSkeleton();
    expect(s.chains.map((c) => [c.name, c.rules.length])).toEqual([
      ['prerouting', 4],
      ['persist', 8],
      ['postrouting', 8],
    ]);
    expect(s.sets.map((x) => x.name)).toEqual(['svc4', 'fwm4', 'pers4', 'pfwm4', 'fnat4', 'fnatm4', 'svc6', 'fwm6', 'pers6', 'pfwm6', 'fnat6', 'fnatm6']);
    const a = netdevSkeleton('eth0', 100, 10);
    const b = netdevSkeleton('eth1', 100, 10);
    expect(hashComment(a.chains[0]!.rules[0]!, a.chains[0]!.salt)).not.toBe(hashComment(b.chains[0]!.rules[0]!, b.chains[0]!.salt));
    expect(withHash('drop')).toBe(`drop comment "${hashComment('drop')}"`);
  });

  it('orders a batch so every reference exists when it is made', () => {
    const phys = new Physical();
    const s = svc({ flags: { ...NOFLAGS, persistent: true }, timeoutS: 9 });
    const plan = planService(s, [dest('10.1.0.1')], O);
    const b = buildBatch({ opts: O, phys, touched: new Map([[plan.base, { svc: s, plan }]]), orphans: [], needNetdev: false });
    const idx = (re: RegExp): number => b.lines.findIndex((l) => re.test(l));
    expect(idx(/^add table inet lvsd$/)).toBe(0);
    expect(idx(/^add map inet lvsd tcp4_10_0_0_1_80_p /)).toBeLessThan(idx(/^add rule inet lvsd tcp4_10_0_0_1_80 /));
    expect(idx(/^add chain inet lvsd tcp4_10_0_0_1_80_r$/)).toBeLessThan(idx(/^add element inet lvsd pers4 /));
    expect(idx(/^add set inet lvsd dm4_\d+ /)).toBeLessThan(idx(/^add element inet lvsd dm4_/));
    expect(b.owners[idx(/^add element inet lvsd dm4_/)]).toBe(plan.base);
    expect(b.owners[0]).toBe('');
    b.commit();
    // the same plan again: nothing to do
    const again = buildBatch({ opts: O, phys, touched: new Map([[plan.base, { svc: s, plan }]]), orphans: [], needNetdev: false });
    expect(again.lines).toEqual([]);
    // and gone: elements first, then chains (flushed), then maps
    const del = buildBatch({ opts: O, phys, touched: new Map([[plan.base, { svc: s, plan: null }]]), orphans: [], needNetdev: false });
    const kinds = del.lines.map((l) => l.split(' ').slice(0, 2).join(' '));
    expect(kinds.indexOf('delete element')).toBeLessThan(kinds.indexOf('flush chain'));
    expect(kinds.lastIndexOf('flush chain')).toBeLessThan(kinds.indexOf('delete chain'));
    expect(kinds.lastIndexOf('delete chain')).toBeLessThan(kinds.indexOf('delete map'));
    del.commit();
    expect(phys.bases()).toEqual([]);
  });
});

describe('reading nft JSON', () => {
  // shapes as nft 1.0.6 prints them (captured on this kernel)
  const listing = JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 } },
      { table: { family: 'inet', name: 'lvsd', handle: 1 } },
      {
        map: {
          family: 'inet',
          name: 'svc6',
          table: 'lvsd',
          type: ['ipv6_addr', 'inet_proto', 'inet_service'],
          handle: 7,
          map: 'verdict',
          elem: [[{ elem: { val: { concat: ['fd00:0::100', 'tcp', 80] }, comment: 'lvsd1 s=rr f=- t=0 m=128' } }, { goto: { target: 'tcp6_fd00__100_80' } }]],
        },
      },
      { map: { family: 'inet', name: 'fwm4', table: 'lvsd', type: 'mark', handle: 2, map: 'verdict', elem: [[{ elem: { val: 5, comment: 'c' } }, { goto: { target: 'fwm4_5' } }]] } },
      { map: { family: 'netdev', name: 'tcp4_10_0_0_2_80_p', table: 'lvsd', type: 'ipv4_addr', handle: 7, map: 'ether_addr', elem: [[{ elem: { val: '192.0.2.1', timeout: 30, expires: 29 } }, '02:00:00:00:00:0A']] } },
      { set: { family: 'inet', name: 'dm4_3', table: 'lvsd', type: ['ipv4_addr'], handle: 6, elem: [{ elem: { val: { concat: ['10.0.0.1', 'tcp', 80, '10.1.0.1', 8080] }, comment: 'lvsd1 w=1 k=NAT' } }] } },
      { chain: { family: 'inet', table: 'lvsd', name: 'prerouting', handle: 13, type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } },
      { chain: { family: 'inet', table: 'lvsd', name: 'tcp4_10_0_0_1_80', handle: 14 } },
      { rule: { family: 'inet', table: 'lvsd', chain: 'tcp4_10_0_0_1_80', handle: 71, comment: 'h:cf620997', expr: [{ drop: null }] } },
      { rule: { family: 'inet', table: 'lvsd', chain: 'tcp4_10_0_0_1_80', handle: 72, expr: ['update @x { ip saddr : ip daddr . th dport }'] } },
    ],
  });

  it('parses elements, comments, verdicts and rule comments into canonical tokens', () => {
    const l = parseListing(listing);
    expect(l.sets.get('svc6')!.elems).toEqual([{ key: ['fd00::100', 'tcp', '80'], value: ['goto tcp6_fd00__100_80'], comment: 'lvsd1 s=rr f=- t=0 m=128' }]);
    expect(l.sets.get('fwm4')!.elems[0]!.key).toEqual(['5']);
    expect(l.sets.get('tcp4_10_0_0_2_80_p')!.elems[0]).toEqual({ key: ['192.0.2.1'], value: ['02:00:00:00:00:0a'] });
    expect(l.sets.get('dm4_3')!.kind).toBe('set');
    expect(l.chains.get('prerouting')).toEqual({ type: 'nat', hook: 'prerouting', prio: -100, rules: [] });
    expect(l.chains.get('tcp4_10_0_0_1_80')!.rules).toEqual(['h:cf620997', '']);
    expect(normToken('0x00000005')).toBe('5');
    expect(() => parseListing('not json')).toThrow(/does not parse/);
    expect(() => parseListing('{"x":1}')).toThrow(/no "nftables" array/);
  });

  it('maps shared elements to their service', () => {
    expect(sharedBase('svc4', ['10.0.0.1', 'tcp', '80'])).toBe('tcp4_10_0_0_1_80');
    expect(sharedBase('dm6_2', ['fd00::1', 'udp', '53', 'fd01::1', '53'])).toBe('udp6_fd00__1_53');
    expect(sharedBase('be4sctp_12', ['10.0.0.1', '80', '3'])).toBe('sctp4_10_0_0_1_80');
    expect(sharedBase('bem4tcp_0', ['9', '0'])).toBe('fwm4_9');
    expect(sharedBase('dm4_31', ['10.0.0.1', 'tcp', '80', '10.1.0.1', '8080'])).toBe('tcp4_10_0_0_1_80');
    expect(sharedBase('fnat4', ['10.0.0.1', 'sctp', '80'])).toBe('sctp4_10_0_0_1_80');
    expect(sharedBase('dmm6_5', ['9', 'fd01::1', '0'])).toBe('fwm6_9');
    expect(sharedBase('svc4', ['10.0.0.1', 'icmp', '80'])).toBeUndefined();
    expect(sharedBase('other', ['1'])).toBeUndefined();
  });
});

describe('edge codecs', () => {
  it('finds the failing line in nft error text (file and in-memory forms)', () => {
    expect(errorLine('/dev/stdin:3:29-30: Error: Could not process rule: No such file or directory\n')).toBe(3);
    expect(errorLine('/proc/self/fd/21:12:41-44: Error: x')).toBe(12);
    expect(errorLine('/tmp/lvsd-nft-abc/batch.nft:7:1: Error: syntax error')).toBe(7);
    expect(errorLine('internal:0:0-0: Error: x')).toBe(0);
    expect(errorLine('Error: something without a place')).toBeUndefined();
  });

  it('decodes neighbour entries', () => {
    const msg = (af: number, state: number, dst: number[], ll?: number[]): Buffer => {
      const h = Buffer.alloc(12);
      h.writeUInt8(af, 0);
      h.writeInt32LE(4, 4);
      h.writeUInt16LE(state, 8);
      const w = new AttrWriter().bytes(1, Buffer.from(dst));
      if (ll) w.bytes(2, Buffer.from(ll));
      return Buffer.concat([h, w.toBuffer()]);
    };
    const e = decodeNeigh(msg(2, NUD.REACHABLE, [10, 98, 0, 21], [2, 0x99, 0, 0, 0, 0x21]))!;
    expect(e).toEqual({ family: 'inet', ifindex: 4, state: NUD.REACHABLE, address: '10.98.0.21', mac: '02:99:00:00:00:21' });
    expect(usableMac(e)).toBe('02:99:00:00:00:21');
    expect(usableMac({ ...e, state: NUD.FAILED })).toBeNull();
    expect(usableMac({ ...e, state: NUD.INCOMPLETE })).toBeNull();
    const v6 = decodeNeigh(msg(10, NUD.STALE, [0xfd, 0x98, ...new Array(13).fill(0), 0x21], [2, 0, 0, 0, 0, 1]))!;
    expect(v6.address).toBe('fd98::21');
    expect(decodeNeigh(msg(7, 0, [1]))).toBeNull();
    expect(() => decodeNeigh(Buffer.alloc(3))).toThrow(/short ndmsg/);
    expect(encodeGetNeighDump('inet6')[0]).toBe(10);
  });

  it('decodes the nftables generation', () => {
    expect(GETGEN_TYPE).toBe(0x0a10);
    expect(encodeGetGen()).toEqual(Buffer.alloc(4));
    const id = Buffer.alloc(4);
    id.writeUInt32BE(0x01020304, 0);
    expect(decodeGenId(Buffer.concat([Buffer.alloc(4), new AttrWriter().bytes(1, id).toBuffer()]))).toBe(0x01020304);
    expect(() => decodeGenId(Buffer.alloc(4))).toThrow(/NFTA_GEN_ID/);
  });
});
