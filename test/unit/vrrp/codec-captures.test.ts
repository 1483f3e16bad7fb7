// Every VRRP packet keepalived 2.2.7 put on the wire in the lab captures decodes to the right
// fields and re-encodes to the identical bytes (IP header, AH ICV and checksum included).
import { describe, expect, it } from 'vitest';
import { authKey, computeAhIcv } from '../../../src/vrrp/ah.js';
import { inetChecksum } from '../../../src/vrrp/checksum.js';
import { decodeVrrp, encodeVrrp } from '../../../src/vrrp/codec.js';
import { decodeIpv4Vrrp, encodeIpv4Vrrp } from '../../../src/vrrp/ipv4.js';
import type { VrrpAdvert } from '../../../src/vrrp/packet.js';
import { hex, readPcap, readSummary, stripEthernet } from './helpers.js';

interface Expect {
  file: string;
  version: 2 | 3;
  family: 'inet' | 'inet6';
  vrid: number;
  advertIntMs: number;
  vip: string;
  auth?: 'PASS' | 'AH';
  /** number of VRRP frames in the capture (counted from the tshark dump) */
  count: number;
  prio0: number;
}

const FILES: Expect[] = [
  { file: 'vrrp2-noauth', version: 2, family: 'inet', vrid: 51, advertIntMs: 1000, vip: '10.99.0.100', count: 12, prio0: 1 },
  { file: 'vrrp2-authpass', version: 2, family: 'inet', vrid: 51, advertIntMs: 1000, vip: '10.99.0.100', auth: 'PASS', count: 12, prio0: 1 },
  { file: 'vrrp2-authah', version: 2, family: 'inet', vrid: 51, advertIntMs: 1000, vip: '10.99.0.100', auth: 'AH', count: 12, prio0: 1 },
  { file: 'vrrp3-ipv4', version: 3, family: 'inet', vrid: 51, advertIntMs: 1000, vip: '10.99.0.100', count: 12, prio0: 1 },
  { file: 'vrrp3-ipv4-adv100ms', version: 3, family: 'inet', vrid: 51, advertIntMs: 100, vip: '10.99.0.100', count: 112, prio0: 1 },
  { file: 'vrrp3-ipv6', version: 3, family: 'inet6', vrid: 52, advertIntMs: 1000, vip: 'fd99::100', count: 8, prio0: 1 },
  { file: 'failover-vrrp2-crash', version: 2, family: 'inet', vrid: 51, advertIntMs: 1000, vip: '10.99.0.100', count: 11, prio0: 0 },
  { file: 'failover-vrrp2-sigterm-prio0', version: 2, family: 'inet', vrid: 51, advertIntMs: 1000, vip: '10.99.0.100', count: 12, prio0: 1 },
  { file: 'failover-vrrp3-adv100ms-crash', version: 3, family: 'inet', vrid: 51, advertIntMs: 100, vip: '10.99.0.100', count: 67, prio0: 0 },
];

/** the lab's directors: d1 (.11, prio 150) and d2 (.12, prio 100) */
function senderPriority(src: string): number {
  return /(^10\.99\.0\.11$)|(fe00:11$)/.test(src) ? 150 : 100;
}

function fieldsOf(a: VrrpAdvert) {
  return {
    version: a.version,
    vrid: a.vrid,
    priority: a.priority,
    advertIntMs: a.advertIntMs,
    addresses: a.addresses,
    authType: a.authType,
    authData: a.authData,
  };
}

describe.each(FILES)('capture $file', (x) => {
  const frames = readPcap(`${x.file}.pcap`);
  const summary = readSummary(`${x.file}.txt`);
  const vrrpFrames = frames.filter((f) => summary.get(f.no)?.proto === 'VRRP');

  it('has the VRRP frames tshark lists, with matching lengths and addresses', () => {
    expect(summary.size).toBe(frames.length);
    expect(vrrpFrames.length).toBe(x.count);
    expect(vrrpFrames.length).toBeGreaterThan(5);
    for (const f of frames) expect(f.data.length, `frame ${f.no}`).toBe(summary.get(f.no)!.len);
  });

  it('decodes every VRRP frame to the expected fields and the IP facts keepalived uses', () => {
    let prio0 = 0;
    for (const f of vrrpFrames) {
      const s = summary.get(f.no)!;
      expect(s.info).toBe(`Announcement (v${x.version})`);
      const l3 = stripEthernet(f);
      let advert: VrrpAdvert;
      if (x.family === 'inet') {
        const r = decodeIpv4Vrrp(l3.payload);
        if (!r.ok) throw new Error(`frame ${f.no}: ${r.reason} ${r.detail}`);
        const { ip, ah } = r.value;
        expect(ip.src).toBe(s.src);
        expect(ip.dst).toBe(s.dst);
        expect(ip.dst).toBe('224.0.0.18');
        expect(ip.ttl).toBe(255);
        expect(ip.tos).toBe(0xc0);
        expect(ip.fragment).toBe(0); // DF not set
        expect(ip.protocol).toBe(x.auth === 'AH' ? 51 : 112);
        expect(Boolean(ah)).toBe(x.auth === 'AH');
        advert = r.value.vrrp;
      } else {
        expect(l3.ipv6!.nextHeader).toBe(112);
        expect(l3.ipv6!.hopLimit).toBe(255);
        expect(l3.ipv6!.trafficClass).toBe(0xc0);
        expect(l3.ipv6!.src).toBe(s.src);
        expect(l3.ipv6!.dst).toBe('ff02::12');
        const r = decodeVrrp(l3.payload, { family: 'inet6', src: l3.ipv6!.src, dst: l3.ipv6!.dst });
        if (!r.ok) throw new Error(`frame ${f.no}: ${r.reason} ${r.detail}`);
        advert = r.value;
      }
      expect(advert.version).toBe(x.version);
      expect(advert.vrid).toBe(x.vrid);
      expect(advert.addresses).toEqual([x.vip]);
      expect(advert.advertIntMs).toBe(x.advertIntMs);
      if (advert.priority === 0) prio0++;
      else expect(advert.priority).toBe(senderPriority(s.src));
      if (x.version === 2) {
        expect(advert.authType).toBe(x.auth === 'PASS' ? 1 : x.auth === 'AH' ? 2 : 0);
        expect(Buffer.from(advert.authData).toString('latin1')).toBe(x.auth === 'PASS' ? 'labpass1' : '\0'.repeat(8));
      }
    }
    expect(prio0).toBe(x.prio0);
  });

  it('re-encodes every VRRP frame to identical bytes', () => {
    for (const f of vrrpFrames) {
      const l3 = stripEthernet(f);
      if (x.family === 'inet') {
        const r = decodeIpv4Vrrp(l3.payload);
        if (!r.ok) throw new Error(r.detail);
        const { ip, ah, vrrp } = r.value;
        const again = encodeIpv4Vrrp(fieldsOf(vrrp), {
          src: ip.src,
          dst: ip.dst,
          id: ip.id,
          ...(ah ? { ah: { key: authKey('labpass1'), seq: ah.seq } } : {}),
        });
        expect(hex(again), `frame ${f.no}`).toBe(hex(l3.payload));
      } else {
        const ctx = { family: 'inet6' as const, src: l3.ipv6!.src, dst: l3.ipv6!.dst };
        const r = decodeVrrp(l3.payload, ctx);
        if (!r.ok) throw new Error(r.detail);
        expect(hex(encodeVrrp(fieldsOf(r.value), ctx))).toBe(hex(l3.payload));
      }
    }
  });
});

describe('checksum details from the lab README', () => {
  it('v3/IPv4 checksum includes the IPv4 pseudo-header (42fd, not 2dfa)', () => {
    const f = readPcap('vrrp3-ipv4-adv100ms.pcap');
    const frame = f.find((x) => hex(x.data).includes('42fd'))!;
    const r = decodeIpv4Vrrp(stripEthernet(frame).payload);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.vrrp.checksum).toBe(0x42fd);
    const msg = stripEthernet(frame).payload.slice(20);
    msg[6] = msg[7] = 0;
    expect(inetChecksum(msg)).toBe(0x2dfa); // the v2-style sum would be wrong for v3
  });

  it('AH: HMAC-MD5-96 ICV verifies with "labpass1", SPI is the source, sequence counts up per sender', () => {
    const seqs = new Map<string, number[]>();
    for (const fr of readPcap('vrrp2-authah.pcap')) {
      const l3 = stripEthernet(fr);
      if (l3.ethertype !== 0x0800 || l3.payload[9] !== 51) continue;
      const r = decodeIpv4Vrrp(l3.payload);
      if (!r.ok) throw new Error(r.detail);
      const { ip, ah } = r.value;
      expect(hex(computeAhIcv(l3.payload, 20, authKey('labpass1'), false))).toBe(hex(ah!.icv));
      expect(hex(computeAhIcv(l3.payload, 20, authKey('labpass2'), false))).not.toBe(hex(ah!.icv));
      expect(ah!.spi).toBe(ip.src === '10.99.0.11' ? 0x0a63000b : 0x0a63000c);
      seqs.set(ip.src, [...(seqs.get(ip.src) ?? []), ah!.seq]);
    }
    for (const [, s] of seqs) s.forEach((v, i) => i && expect(v).toBe(s[i - 1]! + 1));
    expect(seqs.get('10.99.0.11')![0]).toBe(1);
  });
});
