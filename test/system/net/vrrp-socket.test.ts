// Raw VRRP sockets, GARP and unsolicited NA between lab namespaces, checked against keepalived's
// own frames (shared/captures/VECTORS.md). Node a has keepalived d1's MAC and addresses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, isRoot, useLab } from '../../helpers/netns.js';
import { Agent, AGENT_DIST, type AgentEvent } from './agent.js';

// keepalived d1 (10.99.0.11, 02:99:00:00:00:11): VRRPv3 advert, VRID 51, prio 150, VIP 10.99.0.100
const V3_FRAME = '01005e000012029900000011080045c0002000010000ff70d02c0a63000be000001231339601006442a30a630064';
const V3_PAYLOAD = V3_FRAME.slice(2 * (14 + 20));
// the same over IPv6 (VRID 52, from fe80::99:ff:fe00:11 to ff02::12); its checksum covers that pseudo-header
const V6_FRAME =
  '33330000001202990000001186dd6c0ef331001870fffe80000000000000009900fffe000011ff0200000000000000000000000000123134960100643c04fd990000000000000000000000000100';
const V6_PAYLOAD = V6_FRAME.slice(2 * (14 + 40));
// VRRPv2 inside AH: the bytes after the IPv4 header
const AH_FRAME =
  '01005e000012029900000011080045c0004000010000ff33d0490a63000be0000012700400000a63000b00000001560fe94fe5bf709699e41f072133960102013c030a6300640000000000000000';
const AH_PAYLOAD = AH_FRAME.slice(2 * (14 + 20));
const GARP_D1 = 'ffffffffffff029900000011080600010800060400010299000000110a630064ffffffffffff0a630064';
const NA_D1 =
  '33330000000102990000001186dd6000000000203afffd990000000000000000000000000100ff020000000000000000000000000001880056c220000000fd9900000000000000000000000001000201029900000011';

type VrrpEv = AgentEvent & {
  socket: string;
  family: string;
  protocol: number;
  src: string;
  dst: string;
  ttl: number;
  payload: string;
  datagram?: string;
  fromSelf: boolean;
};
type FrameEv = AgentEvent & { socket: string; frame: string; pkttype: number };
type SendResult = { sent: number; failed: { dst: string; error: string }[] };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Internet checksum over a hex string (0 when a header's checksum is right). */
function checksum(hex: string): number {
  const b = Buffer.from(hex, 'hex');
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
  if (b.length % 2) s += b[b.length - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

describe.skipIf(!isRoot)('VRRP sockets, GARP and NA in a lab (root)', () => {
  const lab = useLab({ nodes: ['a', 'b', 'c'], ipv6: true });
  let a: Agent;
  let b: Agent;
  let c: Agent;

  beforeAll(async () => {
    await ensureBuilt(AGENT_DIST);
    [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => Agent.start(lab(), n)));
    // wire taps in b: IPv4, IPv6, ARP
    for (const [name, receive] of [
      ['ip4', 0x0800],
      ['ip6', 0x86dd],
      ['arp', 0x0806],
    ] as const)
      await b.call('packet.open', { ifname: 'eth0', name, receive });
  });
  afterAll(async () => {
    await Promise.all([a, b, c].map((x) => x?.stop()));
  });

  it('IPv4 multicast: b receives a\'s advert with TTL 255, right src/dst, bytes unchanged; identical to keepalived on the wire', async () => {
    const ra = await a.call<{ source: string; groups: string[] }>('vrrp.open', { ifname: 'eth0', family: 'inet' });
    expect(ra).toMatchObject({ source: '10.99.0.11', groups: ['224.0.0.18'] });
    await b.call('vrrp.open', { ifname: 'eth0', family: 'inet' });
    const markA = a.mark();
    const markB = b.mark();
    const r = await a.call<SendResult>('vrrp.send', { socket: 'eth0/inet', payload: V3_PAYLOAD });
    expect(r).toEqual({ sent: 1, failed: [] });
    const got = await b.waitEvent<VrrpEv>('vrrp', (e) => e.socket === 'eth0/inet', { since: markB });
    expect(got).toMatchObject({ family: 'inet', protocol: 112, src: '10.99.0.11', dst: '224.0.0.18', ttl: 255, payload: V3_PAYLOAD, fromSelf: false });

    // the frame on b's wire: keepalived's bytes, except the IP ID and therefore the header checksum
    const wire = await b.waitEvent<FrameEv>('frame', (e) => e.socket === 'ip4' && e.frame.slice(46, 48) === '70', { since: markB });
    const mask = (f: string): string => f.slice(0, 36) + 'xxxx' + f.slice(40, 48) + 'xxxx' + f.slice(52);
    expect(mask(wire.frame)).toBe(mask(V3_FRAME));
    expect(checksum(wire.frame.slice(28, 68))).toBe(0);

    // IP_MULTICAST_LOOP is off: a does not hear itself
    await sleep(200);
    expect(a.events<VrrpEv>('vrrp', markA)).toEqual([]);
  });

  it('receiving needs the group join; after joining, adverts arrive', async () => {
    await c.call('vrrp.open', { ifname: 'eth0', family: 'inet', groups: [] });
    let mark = c.mark();
    await a.call('vrrp.send', { socket: 'eth0/inet', payload: V3_PAYLOAD });
    await sleep(300);
    expect(c.events('vrrp', mark)).toEqual([]);
    expect(await c.call('vrrp.join', { socket: 'eth0/inet', group: '224.0.0.18' })).toEqual(['224.0.0.18']);
    mark = c.mark();
    await a.call('vrrp.send', { socket: 'eth0/inet', payload: V3_PAYLOAD });
    await c.waitEvent<VrrpEv>('vrrp', (e) => e.src === '10.99.0.11' && e.ttl === 255, { since: mark });
    // and leaving stops it again
    await c.call('vrrp.leave', { socket: 'eth0/inet', group: '224.0.0.18' });
    mark = c.mark();
    await a.call('vrrp.send', { socket: 'eth0/inet', payload: V3_PAYLOAD });
    await sleep(300);
    expect(c.events('vrrp', mark)).toEqual([]);
  });

  it('IPv6 multicast: link-local source, ff02::12, hop limit 255, payload (with codec checksum) unchanged', async () => {
    const ra = await a.call<{ source: string }>('vrrp.open', { ifname: 'eth0', family: 'inet6' });
    expect(ra.source).toBe('fe80::99:ff:fe00:11');
    await b.call('vrrp.open', { ifname: 'eth0', family: 'inet6' });
    const mark = b.mark();
    expect(await a.call<SendResult>('vrrp.send', { socket: 'eth0/inet6', payload: V6_PAYLOAD })).toEqual({ sent: 1, failed: [] });
    const got = await b.waitEvent<VrrpEv>('vrrp', (e) => e.socket === 'eth0/inet6', { since: mark });
    expect(got).toMatchObject({ family: 'inet6', protocol: 112, src: 'fe80::99:ff:fe00:11', dst: 'ff02::12', ttl: 255, payload: V6_PAYLOAD, fromSelf: false });
    // on the wire: keepalived's frame except the flow label (20 bits the kernel picks)
    const wire = await b.waitEvent<FrameEv>('frame', (e) => e.socket === 'ip6' && e.frame.slice(40, 42) === '70', { since: mark });
    const mask = (f: string): string => f.slice(0, 31) + 'xxxxx' + f.slice(36);
    expect(mask(wire.frame)).toBe(mask(V6_FRAME));
  });

  it('unicast peers (IPv4 and IPv6), per-send TTL, and per-destination failures', async () => {
    let mark = b.mark();
    const r4 = await a.call<SendResult>('vrrp.send', { socket: 'eth0/inet', payload: V3_PAYLOAD, to: ['10.99.0.12', '10.99.0.13'] });
    expect(r4).toEqual({ sent: 2, failed: [] });
    const u4 = await b.waitEvent<VrrpEv>('vrrp', (e) => e.family === 'inet' && e.dst === '10.99.0.12', { since: mark });
    expect(u4).toMatchObject({ src: '10.99.0.11', ttl: 255, payload: V3_PAYLOAD });

    mark = b.mark();
    await a.call('vrrp.send', { socket: 'eth0/inet', payload: V3_PAYLOAD, to: ['10.99.0.12'], ttl: 64 });
    expect((await b.waitEvent<VrrpEv>('vrrp', (e) => e.dst === '10.99.0.12', { since: mark })).ttl).toBe(64);

    mark = b.mark();
    const r6 = await a.call<SendResult>('vrrp.send', { socket: 'eth0/inet6', payload: V6_PAYLOAD, to: ['fd99::12'], src: 'fd99::11' });
    expect(r6).toEqual({ sent: 1, failed: [] });
    const u6 = await b.waitEvent<VrrpEv>('vrrp', (e) => e.family === 'inet6' && e.dst === 'fd99::12', { since: mark });
    expect(u6).toMatchObject({ src: 'fd99::11', ttl: 255, payload: V6_PAYLOAD });

    const mixed = await a.call<SendResult>('vrrp.send', { socket: 'eth0/inet', payload: V3_PAYLOAD, to: ['10.99.0.12', 'fd99::12'] });
    expect(mixed.sent).toBe(1);
    expect(mixed.failed).toEqual([{ dst: 'fd99::12', error: expect.stringMatching(/not IPv4/) }]);
  });

  it('demultiplexes by VRID and flags packets from our own addresses', async () => {
    await b.call('vrrp.open', { ifname: 'eth0', family: 'inet', name: 'vrid51', vrid: 51, localAddresses: ['10.99.0.11'] });
    const mark = b.mark();
    const other = '31' + '34' + V3_PAYLOAD.slice(4); // VRID 52
    await a.call('vrrp.send', { socket: 'eth0/inet', payload: other });
    await a.call('vrrp.send', { socket: 'eth0/inet', payload: V3_PAYLOAD });
    const got = await b.waitEvent<VrrpEv>('vrrp', (e) => e.socket === 'vrid51', { since: mark });
    expect(got.fromSelf).toBe(true);
    await sleep(100);
    expect(b.events<VrrpEv>('vrrp', mark).filter((e) => e.socket === 'vrid51').map((e) => e.payload)).toEqual([V3_PAYLOAD]);
    const stats = await b.call<{ unmatched: number; fromSelf: number }>('vrrp.stats', { socket: 'vrid51' });
    expect(stats.unmatched).toBeGreaterThanOrEqual(1);
    expect(stats.fromSelf).toBeGreaterThanOrEqual(2);
  });

  it('AH-wrapped VRRPv2: sent as IP protocol 51, received with protocol 51 and the raw bytes', async () => {
    await b.call('vrrp.open', { ifname: 'eth0', family: 'inet', name: 'ah', ah: true, vrid: 51 });
    const mark = b.mark();
    expect(await a.call<SendResult>('vrrp.send', { socket: 'eth0/inet', payload: AH_PAYLOAD, protocol: 51 })).toEqual({ sent: 1, failed: [] });
    const got = await b.waitEvent<VrrpEv>('vrrp', (e) => e.socket === 'ah' && e.protocol === 51, { since: mark });
    expect(got).toMatchObject({ src: '10.99.0.11', dst: '224.0.0.18', ttl: 255, payload: AH_PAYLOAD });
    const wire = await b.waitEvent<FrameEv>('frame', (e) => e.socket === 'ip4' && e.frame.slice(46, 48) === '33', { since: mark });
    const mask = (f: string): string => f.slice(0, 36) + 'xxxx' + f.slice(40, 48) + 'xxxx' + f.slice(52);
    expect(mask(wire.frame)).toBe(mask(AH_FRAME));
  });

  it('complete datagrams from the VRRP codec (ipHeaderIncluded) go out exactly as keepalived\'s, IP ID included', async () => {
    for (const frame of [V3_FRAME, AH_FRAME]) {
      const mark = b.mark();
      const r = await a.call<SendResult>('vrrp.send', { socket: 'eth0/inet', payload: frame.slice(28), ipHeaderIncluded: true });
      expect(r).toEqual({ sent: 1, failed: [] });
      const wire = await b.waitEvent<FrameEv>('frame', (e) => e.socket === 'ip4' && e.frame.slice(36, 40) === frame.slice(36, 40), { since: mark });
      expect(wire.frame).toBe(frame);
      const got = await b.waitEvent<VrrpEv>('vrrp', (e) => e.datagram === frame.slice(28), { since: mark });
      expect(got.payload).toBe(frame.slice(68));
    }
    const bad = await a.call<SendResult>('vrrp.send', { socket: 'eth0/inet', payload: '6000', ipHeaderIncluded: true });
    expect(bad.failed[0]!.error).toMatch(/not an IPv4 datagram/);
  });

  it('the socket pool shares one socket per interface+family and reference-counts group joins', async () => {
    expect(await c.call('pool.acquire', { lease: 'i1', ifname: 'eth0', family: 'inet' })).toEqual({ groups: ['224.0.0.18'], sockets: 1 });
    expect(await c.call('pool.acquire', { lease: 'i2', ifname: 'eth0', family: 'inet', groups: ['224.0.0.18', '224.0.0.99'] })).toEqual({
      groups: ['224.0.0.18', '224.0.0.99'],
      sockets: 1,
    });
    expect(await c.call('pool.acquire', { lease: 'i3', ifname: 'eth0', family: 'inet6' })).toMatchObject({ groups: ['ff02::12'], sockets: 2 });
    expect(await c.call('pool.release', { lease: 'i2' })).toEqual({ closed: false, groups: ['224.0.0.18'], sockets: 2 });
    expect(await c.call('pool.release', { lease: 'i1' })).toEqual({ closed: true, groups: [], sockets: 1 });
    expect(await c.call('pool.release', { lease: 'i3' })).toMatchObject({ closed: true, sockets: 0 });
  });

  it('a send on a downed link fails with a report instead of throwing', async () => {
    await a.call('vrrp.open', { ifname: 'eth0', family: 'inet', name: 'down', groups: [] });
    await lab().exec('a', 'ip', 'link', 'set', 'eth0', 'down');
    try {
      const r = await a.call<SendResult>('vrrp.send', { socket: 'down', payload: V3_PAYLOAD });
      expect(r.sent).toBe(0);
      expect(r.failed[0]!.error).toMatch(/ENETDOWN|ENETUNREACH|network is (down|unreachable)/i);
      expect(await a.call<{ sendErrors: number }>('vrrp.stats', { socket: 'down' })).toMatchObject({ sendErrors: 1 });
    } finally {
      await lab().exec('a', 'ip', 'link', 'set', 'eth0', 'up');
      await lab().waitIpv6Ready('a');
    }
  });

  it('gratuitous ARP from a reaches b exactly as keepalived sends it (5 per burst)', async () => {
    const mark = b.mark();
    const r = await a.call<{ frame: string }>('garp.send', { ifname: 'eth0', ip: '10.99.0.100', count: 5 });
    expect(r.frame).toBe(GARP_D1);
    await b.waitEvent<FrameEv>('frame', (e) => e.socket === 'arp' && e.frame.includes('0a630064ffffffffffff0a630064'), { since: mark });
    await sleep(100);
    const frames = b.events<FrameEv>('frame', mark).filter((e) => e.socket === 'arp' && e.frame.includes('0a630064ffffffffffff'));
    expect(frames.map((f) => f.frame)).toEqual(Array(5).fill(GARP_D1));
    expect(frames[0]!.pkttype).toBe(1); // PACKET_BROADCAST
  });

  it('unsolicited NA from a reaches b exactly as keepalived sends it', async () => {
    const mark = b.mark();
    await a.call('garp.send', { ifname: 'eth0', ip: 'fd99::100', family: 'inet6' });
    const na = await b.waitEvent<FrameEv>('frame', (e) => e.socket === 'ip6' && e.frame.slice(108, 110) === '88', { since: mark });
    expect(na.frame).toBe(NA_D1);
  });
});
