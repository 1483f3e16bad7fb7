// Turns a state machine `sendAdvert` into the bytes a raw socket sends, one per destination
// (the multicast group, or each unicast peer: the v3 checksum covers the destination).
// IPv4: complete datagrams for an IP_HDRINCL socket (TOS 0xc0, TTL 255 or unicast_ttl, IP ID
//   counting from 1 per instance like keepalived, AH when configured).
// IPv6: the VRRP message only; the socket must set hop limit 255 (IPV6_MULTICAST_HOPS /
//   IPV6_UNICAST_HOPS), traffic class 0xc0, and the source via IPV6_PKTINFO. The checksum is
//   already filled in (IPV6_CHECKSUM offset 6 would recompute the same value).
import { encodeVrrp } from './codec.js';
import type { InstanceConfig } from './instance-config.js';
import { encodeIpv4Vrrp } from './ipv4.js';
import { AUTH_AH, AUTH_PASS, VRRP_TTL, type AdvertFields } from './packet.js';

export interface OutgoingAdvert {
  family: 'inet' | 'inet6';
  src: string;
  dst: string;
  /** IPv4: whole datagram (IP_HDRINCL); IPv6: VRRP message */
  bytes: Uint8Array;
  ipHeaderIncluded: boolean;
  /** TTL / hop limit to use (already inside `bytes` for IPv4) */
  ttl: number;
}

export class AdvertWriter {
  private ipId = 0;
  /**
   * The last priority's adverts, encoded once: between rounds only the IPv4 ID and header
   * checksum change (keepalived likewise patches a prebuilt packet). Not used with AH, whose
   * ICV covers the sequence number. At 50 instances × 10 ms this is most of the encoding cost.
   */
  private cached: { priority: number; packets: OutgoingAdvert[] } | undefined;

  constructor(private readonly cfg: InstanceConfig) {
    // ready before the first takeover; a config we cannot encode fails (and is reported) at write()
    if (cfg.auth.type !== 'AH') {
      try {
        this.template(cfg.basePriority);
      } catch {
        this.cached = undefined;
      }
    }
  }

  fields(priority: number): AdvertFields {
    const c = this.cfg;
    const f: AdvertFields = {
      version: c.version,
      vrid: c.vrid,
      priority,
      advertIntMs: c.advertIntMs,
      addresses: c.vipAddresses,
    };
    if (c.version === 2 && c.auth.type !== 'none') {
      f.authType = c.auth.type === 'PASS' ? AUTH_PASS : AUTH_AH;
      if (c.auth.type === 'PASS') f.authData = c.auth.key;
    }
    return f;
  }

  write(priority: number, ahSeq?: number): OutgoingAdvert[] {
    const c = this.cfg;
    if (c.family === 'inet6') return this.template(priority).map((p) => ({ ...p, bytes: p.bytes.slice() }));
    // keepalived: one ID per advert round (shared by every unicast peer); 0 is left to the kernel
    this.ipId = (this.ipId + 1) & 0xffff || 1;
    if (c.auth.type === 'AH') return this.encode(priority, this.ipId, ahSeq);
    return this.template(priority).map((p) => ({ ...p, bytes: withIpv4Id(p.bytes, this.ipId) }));
  }

  private template(priority: number): OutgoingAdvert[] {
    if (this.cached?.priority !== priority) this.cached = { priority, packets: this.encode(priority, 0, undefined) };
    return this.cached.packets;
  }

  private encode(priority: number, id: number, ahSeq: number | undefined): OutgoingAdvert[] {
    const c = this.cfg;
    const f = this.fields(priority);
    const unicast = c.unicastPeers.length > 0;
    const ttl = unicast && c.unicastTtl !== undefined ? c.unicastTtl : VRRP_TTL;
    if (c.family === 'inet6') {
      return c.destinations.map((dst) => ({
        family: 'inet6',
        src: c.src,
        dst,
        bytes: encodeVrrp(f, { family: 'inet6', src: c.src, dst }),
        ipHeaderIncluded: false,
        ttl,
      }));
    }
    return c.destinations.map((dst) => ({
      family: 'inet',
      src: c.src,
      dst,
      bytes: encodeIpv4Vrrp(f, {
        src: c.src,
        dst,
        id,
        ttl,
        ...(c.auth.type === 'AH' ? { ah: { key: c.auth.key, seq: ahSeq ?? 0, zeroTtl: unicast } } : {}),
      }),
      ipHeaderIncluded: true,
      ttl,
    }));
  }
}

/** A copy of an IPv4 datagram (20-byte header, as encodeIpv4Vrrp writes) with another IP ID. */
function withIpv4Id(datagram: Uint8Array, id: number): Uint8Array {
  const b = datagram.slice();
  b[4] = id >> 8;
  b[5] = id & 0xff;
  b[10] = b[11] = 0;
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = ~((sum & 0xffff) + (sum >>> 16)) & 0xffff;
  b[10] = sum >> 8;
  b[11] = sum & 0xff;
  return b;
}
