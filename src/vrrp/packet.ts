// VRRP wire types shared by the codec, the receive checks and the state machine.
import type { Family } from '../config/model.js';

export const IPPROTO_VRRP = 112;
export const IPPROTO_AH = 51;
/** RFC 5798 §5.1.1.3 / §5.1.2.3: TTL / Hop Limit of every advertisement. */
export const VRRP_TTL = 255;
/** keepalived sends with TOS/traffic class 0xc0 ("internetwork control"); seen in every capture. */
export const VRRP_TOS = 0xc0;
export const VRRP_ADVERT_TYPE = 1;
export const AUTH_NONE = 0;
export const AUTH_PASS = 1;
export const AUTH_AH = 2;
/** VRRPv2 authentication data field (RFC 2338/3768), also the keepalived password length. */
export const AUTH_DATA_LEN = 8;

export type VrrpVersion = 2 | 3;

/** A decoded VRRP advertisement (the VRRP message, without IP/AH headers). */
export interface VrrpAdvert {
  version: VrrpVersion;
  vrid: number;
  priority: number;
  /** v2: the 8-bit seconds field × 1000; v3: the 12-bit centiseconds field × 10 */
  advertIntMs: number;
  /** canonical address text, in wire order */
  addresses: string[];
  /** v2 auth type as on the wire (0 none, 1 PASS, 2 AH); always 0 for v3 */
  authType: number;
  /** v2: the 8 authentication bytes; v3: empty */
  authData: Uint8Array;
  /** checksum field as on the wire (decode has already verified it) */
  checksum: number;
}

/** What an encoder needs; the checksum is always computed. */
export interface AdvertFields {
  version: VrrpVersion;
  vrid: number;
  priority: number;
  advertIntMs: number;
  addresses: readonly string[];
  /** v2 only; default 0 */
  authType?: number;
  /** v2 only; zero-padded to 8 bytes; default all zero */
  authData?: Uint8Array;
}

/** Addresses that frame the VRRP message: the v3 checksum covers them (pseudo-header). */
export interface AddrContext {
  family: Family;
  src: string;
  dst: string;
}

/** Every reason a received packet can be dropped; one counter each (see DropCounters). */
export const DROP_REASONS = [
  'too-short', // shorter than the headers it claims
  'bad-ip-header', // not IPv4, bad IHL, total length differs from the datagram, bad addresses
  'not-vrrp', // IP protocol / AH next header is not 112
  'bad-ah-header', // AH payload length is not the 96-bit-ICV layout keepalived uses
  'bad-version', // VRRP version is neither 2 nor 3 (or v2 over IPv6)
  'bad-type', // VRRP type is not 1 (advertisement)
  'length-mismatch', // count_ip inconsistent with the message length
  'bad-checksum',
  'bad-ttl', // TTL / hop limit not 255 (multicast) or outside a unicast peer's min/max_ttl
  'unknown-vrid', // no local instance for this VRID on this interface/family
  'version-mismatch', // valid VRRP, but not the version this instance runs
  'family-mismatch',
  'address-count-mismatch',
  'address-list-mismatch',
  'auth-type-invalid', // v2 auth type not 0/1/2
  'auth-type-mismatch',
  'auth-failure', // wrong password, bad AH ICV or SPI
  'ah-replay', // AH sequence number not above the last one seen
  'interval-mismatch', // v2: advert interval differs from ours (keepalived drops these)
  'unicast-src-not-peer', // check_unicast_src: source is not a configured unicast peer
  'ignored-state', // instance is INIT, FAULT or stopped: adverts are not processed
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: DropReason; detail: string };

export function drop<T>(reason: DropReason, detail: string): Decoded<T> {
  return { ok: false, reason, detail };
}

/** Per-reason drop counters plus accepted/sent totals. Plain data so it can be dumped as JSON. */
export type DropCounters = Record<DropReason, number>;

export function newDropCounters(): DropCounters {
  const c = {} as DropCounters;
  for (const r of DROP_REASONS) c[r] = 0;
  return c;
}
