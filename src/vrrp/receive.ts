// Receive path: from bytes off a raw socket to an RxPacket, and the per-instance checks
// keepalived applies before the state machine sees an advert (vrrp.c vrrp_in_chk).
import { canonicalIp, ipBytes } from '../net/sockaddr.js';
import { bytesEqual, computeAhIcv, type AhCounter, type AhHeader } from './ah.js';
import { decodeVrrp } from './codec.js';
import type { InstanceConfig } from './instance-config.js';
import { decodeIpv4Vrrp } from './ipv4.js';
import { AUTH_AH, AUTH_NONE, AUTH_PASS, VRRP_TTL, drop, type Decoded, type DropReason, type VrrpAdvert } from './packet.js';

/** A structurally valid advert plus what the IP layer told us about it. */
export interface RxPacket {
  family: 'inet' | 'inet6';
  src: string;
  dst: string;
  /** IPv4 TTL, or IPv6 hop limit (IPV6_HOPLIMIT ancillary data) */
  ttl: number;
  advert: VrrpAdvert;
  /** AH-wrapped IPv4: the AH header and what the ICV covers */
  ah?: { header: AhHeader; datagram: Uint8Array; ihl: number };
}

/** IPv4 raw sockets deliver the whole datagram. */
export function rxFromIpv4(datagram: Uint8Array): Decoded<RxPacket> {
  const r = decodeIpv4Vrrp(datagram);
  if (!r.ok) return r;
  const { ip, ah, vrrp } = r.value;
  return {
    ok: true,
    value: {
      family: 'inet',
      src: ip.src,
      dst: ip.dst,
      ttl: ip.ttl,
      advert: vrrp,
      ...(ah ? { ah: { header: ah, datagram, ihl: ip.headerLength } } : {}),
    },
  };
}

export interface Ipv6RxMeta {
  /** recvmsg source address */
  src: string;
  /** IPV6_PKTINFO destination */
  dst: string;
  /** IPV6_HOPLIMIT */
  hopLimit: number;
}

/** IPv6 raw sockets deliver only the VRRP message; addresses and hop limit come from recvmsg. */
export function rxFromIpv6(message: Uint8Array, meta: Ipv6RxMeta): Decoded<RxPacket> {
  let src: string;
  let dst: string;
  try {
    src = canonicalIp(meta.src);
    dst = canonicalIp(meta.dst);
    if (ipBytes(src).length !== 16 || ipBytes(dst).length !== 16) throw new Error('not IPv6');
  } catch {
    return drop('bad-ip-header', `bad IPv6 addresses ${meta.src} -> ${meta.dst}`);
  }
  const r = decodeVrrp(message, { family: 'inet6', src, dst });
  if (!r.ok) return r;
  return { ok: true, value: { family: 'inet6', src, dst, ttl: meta.hopLimit, advert: r.value } };
}

function authTypeNumber(t: InstanceConfig['auth']['type']): number {
  return t === 'PASS' ? AUTH_PASS : t === 'AH' ? AUTH_AH : AUTH_NONE;
}

function u32(ip: string): number {
  const b = ipBytes(ip);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

export interface CheckResult {
  reason?: DropReason;
  detail?: string;
}

/**
 * keepalived's receive checks for one instance, in its order. `checkAddresses` is false when
 * skip_check_adv_addr applies (same master as last time, BACKUP only). `ah` is the instance's
 * shared sequence counter; it only moves for adverts that pass every check.
 */
export function checkAdvert(p: RxPacket, cfg: InstanceConfig, checkAddresses: boolean, ah: AhCounter): CheckResult {
  const a = p.advert;
  const fail = (reason: DropReason, detail: string): CheckResult => ({ reason, detail });
  if (p.family !== cfg.family) return fail('family-mismatch', `${p.family} advert on ${cfg.family} instance`);
  const unicast = cfg.unicastPeers.length > 0;
  const peer = cfg.unicastPeers.find((x) => x.address === p.src);
  if (!unicast && p.ttl !== VRRP_TTL) return fail('bad-ttl', `TTL ${p.ttl}, expected 255`);
  if (unicast && peer && ((peer.minTtl !== undefined && p.ttl < peer.minTtl) || (peer.maxTtl !== undefined && p.ttl > peer.maxTtl)))
    return fail('bad-ttl', `TTL ${p.ttl} outside [${peer.minTtl ?? 0}, ${peer.maxTtl ?? 255}] for ${p.src}`);
  if (a.version !== cfg.version) return fail('version-mismatch', `VRRPv${a.version} advert, instance runs v${cfg.version}`);
  if (a.version === 2) {
    if (a.authType !== AUTH_NONE && a.authType !== AUTH_PASS && a.authType !== AUTH_AH)
      return fail('auth-type-invalid', `auth type ${a.authType}`);
    const want = authTypeNumber(cfg.auth.type);
    if (a.authType !== want) return fail('auth-type-mismatch', `auth type ${a.authType}, expected ${want}`);
    if (cfg.auth.type === 'PASS' && !bytesEqual(a.authData, cfg.auth.key)) return fail('auth-failure', 'wrong password');
    if (cfg.auth.type === 'AH') {
      if (!p.ah) return fail('auth-failure', 'auth type AH but no AH header');
      const icv = computeAhIcv(p.ah.datagram, p.ah.ihl, cfg.auth.key, unicast);
      if (!bytesEqual(icv, p.ah.header.icv)) return fail('auth-failure', 'AH ICV mismatch (bad password or mutated packet)');
      if (p.ah.header.spi !== u32(p.src)) return fail('auth-failure', `AH SPI 0x${p.ah.header.spi.toString(16)} is not the source address`);
      if (p.ah.header.seq <= ah.seq) return fail('ah-replay', `AH sequence ${p.ah.header.seq} not above ${ah.seq}`);
    }
    if (a.advertIntMs !== cfg.advertIntMs)
      return fail('interval-mismatch', `advert interval ${a.advertIntMs / 1000} s, ours ${cfg.advertIntMs / 1000} s`);
  }
  if (a.vrid !== cfg.vrid) return fail('unknown-vrid', `VRID ${a.vrid} on instance with VRID ${cfg.vrid}`);
  if (a.addresses.length !== cfg.vipAddresses.length)
    return fail('address-count-mismatch', `${a.addresses.length} addresses, expected ${cfg.vipAddresses.length}`);
  if (checkAddresses) {
    const missing = cfg.vipAddresses.find((v) => !a.addresses.includes(v));
    if (missing !== undefined) return fail('address-list-mismatch', `VIP ${missing} not in advert`);
  }
  if (cfg.checkUnicastSrc && unicast && !peer) return fail('unicast-src-not-peer', `${p.src} is not a unicast peer`);
  if (p.ah) ah.accept(p.ah.header.seq);
  return {};
}
