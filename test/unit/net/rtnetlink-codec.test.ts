import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodeAddr,
  decodeLink,
  decodeRtnlEvent,
  encodeDelAddr,
  encodeGetLink,
  encodeNewAddr,
  ipv4BroadcastFor,
  IFA_F_NODAD,
  IFA_F_NOPREFIXROUTE,
  IFA_F_PERMANENT,
  IFA_F_TENTATIVE,
  IFA_LABEL,
  IFA_LOCAL,
  RT_SCOPE_HOST,
  RT_SCOPE_LINK,
  RTM_DELADDR,
  RTM_NEWADDR,
  RTM_NEWLINK,
  type AddressSpec,
} from '../../../src/net/rtnetlink/codec.js';
import { attrMap, NetlinkDecodeError, type NlMsg } from '../../../src/net/netlink/codec.js';
import { pickIpv6LinkLocal, pickPrimaryIpv4, sysctlPath, confKey } from '../../../src/net/interfaces.js';
import * as K from './kernel-messages.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const msg = (type: number, payload: Buffer): NlMsg => ({ type, flags: 0, seq: 0, pid: 0, payload });

describe('decoding real kernel messages', () => {
  it('a veth link', () => {
    const l = decodeLink(hex(K.LINK_V0_VETH));
    expect(l).toMatchObject({ name: 'v0', mac: '02:00:00:00:00:01', type: 1, up: true, running: true, lowerUp: true, operstate: 'up', mtu: 1500, kind: 'veth', master: null });
    expect(l.ifindex).toBeGreaterThan(0);
  });

  it('IPv4 address with broadcast and label', () => {
    expect(decodeAddr(hex(K.ADDR_V4_LABEL))).toEqual({
      family: 'inet',
      ifindex: 3,
      address: '10.1.2.3',
      prefixLen: 24,
      peer: null,
      broadcast: '10.1.2.255',
      label: 'v0:x',
      scope: 0,
      flags: IFA_F_PERMANENT,
      preferredLft: 0xffffffff,
      validLft: 0xffffffff,
    });
    expect(decodeAddr(hex(K.ADDR_V4_LO))).toMatchObject({ address: '127.0.0.1', prefixLen: 8, scope: RT_SCOPE_HOST, label: 'lo' });
  });

  it('IPv6 addresses: nodad global and tentative link-local', () => {
    expect(decodeAddr(hex(K.ADDR_V6_NODAD))).toMatchObject({ family: 'inet6', address: 'fd00::5', prefixLen: 64, flags: IFA_F_PERMANENT | IFA_F_NODAD, broadcast: null, label: null });
    const ll = decodeAddr(hex(K.ADDR_V6_LL_TENTATIVE))!;
    expect(ll).toMatchObject({ address: 'fe80::ff:fe00:1', scope: RT_SCOPE_LINK });
    expect(ll.flags & IFA_F_TENTATIVE).toBeTruthy();
    // a tentative link-local cannot be a source address yet
    expect(pickIpv6LinkLocal([ll], 3)).toBeNull();
    expect(pickIpv6LinkLocal([{ ...ll, flags: IFA_F_PERMANENT }], 3)).toBe('fe80::ff:fe00:1');
  });

  it('typed events', () => {
    expect(decodeRtnlEvent(msg(RTM_NEWLINK, hex(K.LINK_V0_VETH)))).toMatchObject({ kind: 'link', action: 'new', link: { name: 'v0' } });
    expect(decodeRtnlEvent(msg(RTM_DELADDR, hex(K.ADDR_V6_NODAD)))).toMatchObject({ kind: 'addr', action: 'del', addr: { address: 'fd00::5' } });
    expect(decodeRtnlEvent(msg(24 /* RTM_NEWROUTE */, hex(K.ADDR_V6_NODAD)))).toBeNull();
  });

  it('truncations of real messages give NetlinkDecodeError or a result, never another exception', () => {
    for (const [type, h] of [
      [RTM_NEWLINK, K.LINK_V0_VETH],
      [RTM_NEWADDR, K.ADDR_V4_LABEL],
      [RTM_NEWADDR, K.ADDR_V6_NODAD],
    ] as const) {
      const full = hex(h);
      for (let n = 0; n < full.length; n++) {
        try {
          decodeRtnlEvent(msg(type, full.subarray(0, n)));
        } catch (e) {
          expect(e).toBeInstanceOf(NetlinkDecodeError);
        }
      }
    }
  });

  it('random bytes give NetlinkDecodeError or a result, never another exception', () => {
    fc.assert(
      fc.property(fc.constantFrom(RTM_NEWLINK, RTM_NEWADDR, RTM_DELADDR), fc.uint8Array({ maxLength: 120 }), (type, b) => {
        try {
          decodeRtnlEvent(msg(type, Buffer.from(b)));
        } catch (e) {
          if (!(e instanceof NetlinkDecodeError)) throw e;
        }
      }),
    );
  });

  it('short address attributes are rejected', () => {
    const b = Buffer.from(hex(K.ADDR_V4_LABEL));
    // IFA_ADDRESS attribute claims 4 bytes of data but carries 2: shrink its nla_len from 8 to 6
    b.writeUInt16LE(6, 8);
    expect(() => decodeAddr(b)).toThrow(NetlinkDecodeError);
  });
});

describe('address requests', () => {
  it('round-trip through the decoder (the request payload has the event layout)', () => {
    const spec: AddressSpec = {
      ifindex: 7,
      address: '10.99.0.100',
      prefixLen: 24,
      broadcast: '10.99.0.255',
      label: 'eth0:vip',
      noprefixroute: true,
      preferredLft: 0,
      validLft: 600,
    };
    expect(decodeAddr(encodeNewAddr(spec))).toEqual({
      family: 'inet',
      ifindex: 7,
      address: '10.99.0.100',
      prefixLen: 24,
      peer: null,
      broadcast: '10.99.0.255',
      label: 'eth0:vip',
      scope: 0,
      flags: IFA_F_NOPREFIXROUTE,
      preferredLft: 0,
      validLft: 600,
    });
  });

  it('IPv6 with nodad and a peer; scope host for 127/8 as iproute2 does', () => {
    const a = decodeAddr(encodeNewAddr({ ifindex: 2, address: 'fd99:0::100', prefixLen: 64, nodad: true, peer: 'fd99::1' }))!;
    expect(a).toMatchObject({ family: 'inet6', address: 'fd99::100', peer: 'fd99::1', flags: IFA_F_NODAD });
    expect(decodeAddr(encodeNewAddr({ ifindex: 1, address: '127.0.0.2', prefixLen: 8 }))!.scope).toBe(RT_SCOPE_HOST);
    expect(decodeAddr(encodeNewAddr({ ifindex: 1, address: '10.0.0.2', prefixLen: 8, scope: 'link' }))!.scope).toBe(RT_SCOPE_LINK);
  });

  it('random specs round-trip', () => {
    const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
    fc.assert(
      fc.property(v4, fc.integer({ min: 0, max: 32 }), fc.integer({ min: 1, max: 1 << 20 }), fc.boolean(), (addr, plen, idx, nodad) => {
        const a = decodeAddr(encodeNewAddr({ ifindex: idx, address: addr, prefixLen: plen, nodad }))!;
        expect(a.address).toBe(addr);
        expect(a.prefixLen).toBe(plen);
        expect(a.ifindex).toBe(idx);
        expect(a.flags).toBe(nodad ? IFA_F_NODAD : 0);
      }),
    );
  });

  it('delete carries the local address and label', () => {
    const p = encodeDelAddr({ ifindex: 3, address: '10.1.2.3', prefixLen: 24, label: 'v0:x' });
    expect(p.subarray(0, 8).toString('hex')).toBe('0218000003000000');
    const m = attrMap(p.subarray(8));
    expect(m.get(IFA_LOCAL)!.toString('hex')).toBe('0a010203');
    expect(m.get(IFA_LABEL)!.toString()).toBe('v0:x\0');
  });

  it('bad specs are refused before reaching the kernel', () => {
    expect(() => encodeNewAddr({ ifindex: 1, address: '10.0.0.1', prefixLen: 33 })).toThrow(/prefix/);
    expect(() => encodeNewAddr({ ifindex: 0, address: '10.0.0.1', prefixLen: 24 })).toThrow(/index/);
    expect(() => encodeNewAddr({ ifindex: 1, address: 'fd00::1', prefixLen: 64, label: 'x' })).toThrow(/label/);
    expect(() => encodeNewAddr({ ifindex: 1, address: 'fd00::1', prefixLen: 64, broadcast: '10.0.0.255' })).toThrow(/broadcast/);
    expect(() => encodeNewAddr({ ifindex: 1, address: '10.0.0.1', prefixLen: 24, peer: 'fd00::1' })).toThrow(/peer/);
    expect(() => encodeNewAddr({ ifindex: 1, address: 'nonsense', prefixLen: 24 })).toThrow(/not an IP/);
    expect(() => encodeNewAddr({ ifindex: 1, address: 'fd00::1', prefixLen: 64, preferredLft: 10, validLft: 5 })).toThrow(/lifetime/);
    expect(() => encodeGetLink('a-name-longer-than-15')).toThrow(/name/);
  });

  it('broadcast helper', () => {
    expect(ipv4BroadcastFor('10.99.0.100', 24)).toBe('10.99.0.255');
    expect(ipv4BroadcastFor('10.99.0.100', 0)).toBe('255.255.255.255');
    expect(ipv4BroadcastFor('10.99.0.100', 1)).toBe('127.255.255.255');
    expect(ipv4BroadcastFor('10.99.0.100', 31)).toBeNull();
  });
});

describe('interface helpers', () => {
  const a4 = (address: string, ifindex = 2) => decodeAddr(encodeNewAddr({ ifindex, address, prefixLen: 24 }))!;
  it('primary IPv4 skips secondaries and excluded VIPs', () => {
    const list = [a4('10.0.0.9', 9), { ...a4('10.0.0.1'), flags: 0x01 }, a4('10.0.0.2'), a4('10.0.0.3')];
    expect(pickPrimaryIpv4(list, 2)).toBe('10.0.0.2');
    expect(pickPrimaryIpv4(list, 2, new Set(['10.0.0.2']))).toBe('10.0.0.3');
    expect(pickPrimaryIpv4(list, 5)).toBeNull();
  });

  it('sysctl paths', () => {
    expect(sysctlPath('net.ipv4.ip_forward')).toBe('/proc/sys/net/ipv4/ip_forward');
    expect(sysctlPath(confKey('inet', 'eth0.100', 'arp_ignore'))).toBe('/proc/sys/net/ipv4/conf/eth0.100/arp_ignore');
    expect(() => sysctlPath(['net', '..', 'x'])).toThrow(/bad sysctl/);
    expect(() => sysctlPath('net..x')).toThrow(/bad sysctl/);
  });
});
