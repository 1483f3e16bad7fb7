import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ipMreqn,
  ipv6Mreq,
  ipv6SendCmsgs,
  parseV4Datagram,
  parseV6Datagram,
  vridOf,
  IPPROTO_AH,
  IPPROTO_VRRP,
} from '../../../src/net/vrrp-wire.js';
import { buildIpv4Header, internetChecksum, parseIpv4 } from '../../../src/net/inet.js';
import { buildCmsg, ipv4Bytes, ipv6Bytes, parseCmsgs, sockaddrIn6 } from '../../../src/net/sockaddr.js';

// From shared/captures/VECTORS.md: Ethernet frames; the IP packet starts at byte 14.
const V3_IPV4 = '01005e000012029900000011080045c0002000010000ff70d02c0a63000be000001231339601006442a30a630064';
const V2_AH =
  '01005e000012029900000011080045c0004000010000ff33d0490a63000be0000012700400000a63000b00000001560fe94fe5bf709699e41f072133960102013c030a6300640000000000000000';
const V3_IPV6 =
  '33330000001202990000001186dd6c0ef331001870fffe80000000000000009900fffe000011ff0200000000000000000000000000123134960100643c04fd990000000000000000000000000100';
const ip = (frame: string): Buffer => Buffer.from(frame, 'hex').subarray(14);

function pktinfo4(ifindex: number, dst: string): Buffer {
  const d = Buffer.alloc(12);
  d.writeInt32LE(ifindex, 0);
  ipv4Bytes(dst).copy(d, 8);
  return buildCmsg(0, 8, d);
}

describe('IPv4 header', () => {
  it('rebuilds keepalived\'s advert header exactly (TOS c0, TTL 255, no DF, checksum)', () => {
    const h = buildIpv4Header({
      src: ipv4Bytes('10.99.0.11'),
      dst: ipv4Bytes('224.0.0.18'),
      protocol: 112,
      payloadLength: 12,
      ttl: 255,
      tos: 0xc0,
      id: 1,
    });
    expect(h.toString('hex')).toBe(ip(V3_IPV4).subarray(0, 20).toString('hex'));
  });

  it('the VRRPv3/IPv4 checksum of the capture covers the pseudo-header', () => {
    const p = parseIpv4(ip(V3_IPV4))!;
    const pseudo = Buffer.concat([p.src, p.dst, Buffer.from([0, 112, 0, p.payload.length])]);
    expect(internetChecksum(pseudo, p.payload)).toBe(0);
  });

  it('parseIpv4 flags truncation and rejects garbage', () => {
    expect(parseIpv4(ip(V3_IPV4).subarray(0, 25))!.truncated).toBe(true);
    expect(parseIpv4(Buffer.from('60000000', 'hex'))).toBeNull();
    const bad = Buffer.from(ip(V3_IPV4));
    bad[0] = 0x44; // IHL 16 bytes < 20
    expect(parseIpv4(bad)).toBeNull();
  });
});

describe('membership and pktinfo structs', () => {
  it('ip_mreqn: group, local, ifindex', () => {
    expect(ipMreqn('224.0.0.18', 7).toString('hex')).toBe('e0000012' + '00000000' + '07000000');
    expect(ipMreqn('224.0.0.18', 7, '10.0.0.1').subarray(4, 8).toString('hex')).toBe('0a000001');
  });

  it('ipv6_mreq: group, ifindex', () => {
    expect(ipv6Mreq('ff02::12', 3).toString('hex')).toBe('ff020000000000000000000000000012' + '03000000');
  });

  it('IPV6_PKTINFO + IPV6_HOPLIMIT cmsgs parse back', () => {
    const c = parseCmsgs(ipv6SendCmsgs('fe80::99:ff:fe00:11', 5, 255));
    expect(c.map((x) => [x.level, x.type])).toEqual([
      [41, 50],
      [41, 52],
    ]);
    expect(c[0]!.data.subarray(0, 16).toString('hex')).toBe(ipv6Bytes('fe80::99:ff:fe00:11').toString('hex'));
    expect(c[0]!.data.readUInt32LE(16)).toBe(5);
    expect(c[1]!.data.readInt32LE(0)).toBe(255);
  });
});

describe('received datagrams', () => {
  it('IPv4: TTL, addresses and payload from the IP header, ifindex from IP_PKTINFO', () => {
    const r = parseV4Datagram(ip(V3_IPV4), pktinfo4(4, '224.0.0.18'), 99);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.pkt).toMatchObject({ family: 'inet', protocol: 112, src: '10.99.0.11', dst: '224.0.0.18', ttl: 255, ifindex: 4 });
    expect(r.pkt.payload.toString('hex')).toBe('31339601006442a30a630064');
    expect(r.pkt.ipHeader!.length).toBe(20);
    expect(r.pkt.datagram!.toString('hex')).toBe(ip(V3_IPV4).toString('hex'));
  });

  it('IPv4 AH: protocol 51, raw bytes after the IP header, VRID found behind the AH header', () => {
    const r = parseV4Datagram(ip(V2_AH), Buffer.alloc(0), 3);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.pkt.protocol).toBe(IPPROTO_AH);
    expect(r.pkt.ifindex).toBe(3);
    expect(r.pkt.payload.subarray(0, 2).toString('hex')).toBe('7004');
    expect(vridOf(r.pkt.protocol, r.pkt.payload)).toBe(51);
  });

  it('IPv6: source from the sockaddr, destination/ifindex/hop limit from cmsgs', () => {
    const frame = Buffer.from(V3_IPV6, 'hex');
    const payload = frame.subarray(14 + 40);
    const pi = Buffer.alloc(20);
    ipv6Bytes('ff02::12').copy(pi, 0);
    pi.writeInt32LE(6, 16);
    const hl = Buffer.alloc(4);
    hl.writeInt32LE(255, 0);
    const cm = Buffer.concat([buildCmsg(41, 50, pi), buildCmsg(41, 52, hl)]);
    const r = parseV6Datagram(payload, sockaddrIn6('fe80::99:ff:fe00:11', 0, 6), cm, 1);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.pkt).toMatchObject({ family: 'inet6', protocol: 112, src: 'fe80::99:ff:fe00:11', dst: 'ff02::12', ttl: 255, ifindex: 6 });
    expect(vridOf(IPPROTO_VRRP, r.pkt.payload)).toBe(0x34);
  });

  it('IPv6 without cmsgs: hop limit unknown (-1) so a TTL check fails closed', () => {
    const r = parseV6Datagram(Buffer.from('3134', 'hex'), sockaddrIn6('fe80::1'), Buffer.alloc(0), 2);
    expect(r.ok && r.pkt.ttl).toBe(-1);
  });

  it('vridOf: short and odd inputs give null', () => {
    expect(vridOf(IPPROTO_VRRP, Buffer.from([0x31]))).toBeNull();
    expect(vridOf(IPPROTO_AH, Buffer.from([0x70, 0x04, 0, 0]))).toBeNull();
    expect(vridOf(IPPROTO_AH, Buffer.from([0x06, 0x04]))).toBeNull();
    expect(vridOf(17, Buffer.from([0x31, 0x33]))).toBeNull();
  });

  it('hostile datagrams never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 40 }), (d, c, a) => {
        const data = Buffer.from(d);
        parseV4Datagram(data, Buffer.from(c), 1);
        parseV6Datagram(data, Buffer.from(a), Buffer.from(c), 1);
        vridOf(IPPROTO_AH, data);
        vridOf(IPPROTO_VRRP, data);
      }),
    );
  });
});
