// Gratuitous ARP and IPv6 unsolicited Neighbor Advertisement frames (pure), byte-for-byte as
// keepalived 2.2.7 sends them (shared/captures/VECTORS.md), plus a parser for received ARP.
import { ipv4Bytes, ipv4String, ipv6Bytes } from './sockaddr.js';
import { BROADCAST_MAC, ipv6MulticastMac, macBytes, macString } from './mac.js';
import { internetChecksum } from './inet.js';

export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;
export const ALL_NODES6 = 'ff02::1';

const mac6 = (m: string | Uint8Array): Buffer => {
  const b = typeof m === 'string' ? macBytes(m) : Buffer.from(m);
  if (b.length !== 6) throw new Error(`MAC must be 6 bytes, got ${b.length}`);
  return b;
};

export function ethernetHeader(dst: string | Uint8Array, src: string | Uint8Array, ethertype: number): Buffer {
  const h = Buffer.alloc(14);
  mac6(dst).copy(h, 0);
  mac6(src).copy(h, 6);
  h.writeUInt16BE(ethertype, 12);
  return h;
}

export interface GarpOptions {
  /** the interface MAC: ARP sender hardware address and Ethernet source */
  mac: string | Uint8Array;
  /** the VIP */
  ip: string;
  /** Ethernet source when it differs from the ARP sender MAC */
  ethSrc?: string | Uint8Array;
  /** 1 (request, keepalived's choice and the default) or 2 (reply) */
  op?: number;
}

/**
 * A 42-byte gratuitous ARP: request, sender IP = target IP = VIP, target MAC ff:ff:ff:ff:ff:ff,
 * to the Ethernet broadcast (the NIC pads it to 60 on the wire; veth does not).
 */
export function buildGarp(o: GarpOptions): Buffer {
  const mac = mac6(o.mac);
  const ip = ipv4Bytes(o.ip);
  const arp = Buffer.alloc(28);
  arp.writeUInt16BE(1, 0); // Ethernet
  arp.writeUInt16BE(ETH_P_IP, 2);
  arp[4] = 6;
  arp[5] = 4;
  arp.writeUInt16BE(o.op ?? ARP_REQUEST, 6);
  mac.copy(arp, 8);
  ip.copy(arp, 14);
  BROADCAST_MAC.copy(arp, 18);
  ip.copy(arp, 24);
  return Buffer.concat([ethernetHeader(BROADCAST_MAC, o.ethSrc ?? mac, ETH_P_ARP), arp]);
}

export interface ArpPacket {
  ethDst: string;
  ethSrc: string;
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

/** Parse an Ethernet/IPv4 ARP frame; null for anything else (short, VLAN, other protocols). */
export function parseArpFrame(frame: Uint8Array): ArpPacket | null {
  const f = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  if (f.length < 42 || f.readUInt16BE(12) !== ETH_P_ARP) return null;
  if (f.readUInt16BE(14) !== 1 || f.readUInt16BE(16) !== ETH_P_IP || f[18] !== 6 || f[19] !== 4) return null;
  return {
    ethDst: macString(f.subarray(0, 6)),
    ethSrc: macString(f.subarray(6, 12)),
    op: f.readUInt16BE(20),
    senderMac: macString(f.subarray(22, 28)),
    senderIp: ipv4String(f, 28),
    targetMac: macString(f.subarray(32, 38)),
    targetIp: ipv4String(f, 38),
  };
}

export interface UnsolicitedNaOptions {
  /** the interface MAC: Ethernet source and target link-layer address option */
  mac: string | Uint8Array;
  /** the IPv6 VIP: IPv6 source and NA target */
  ip: string;
  /** router flag (keepalived sets it when the interface forwards IPv6) */
  router?: boolean;
  /** override flag; default true (an unsolicited NA for a moved address must override caches) */
  override?: boolean;
  /** destination; default ff02::1 */
  dst?: string;
  ethSrc?: string | Uint8Array;
}

/** ICMPv6 checksum over the IPv6 pseudo-header (RFC 8200 8.1) and the ICMPv6 message. */
export function icmpv6Checksum(src16: Uint8Array, dst16: Uint8Array, icmp: Uint8Array): number {
  const ph = Buffer.alloc(8);
  ph.writeUInt32BE(icmp.length, 0);
  ph[7] = 58;
  return internetChecksum(src16, dst16, ph, icmp);
}

/** An 86-byte unsolicited NA: VIP -> ff02::1, hop limit 255, target link-layer address option. */
export function buildUnsolicitedNa(o: UnsolicitedNaOptions): Buffer {
  const mac = mac6(o.mac);
  const src = ipv6Bytes(o.ip);
  const dst = ipv6Bytes(o.dst ?? ALL_NODES6);
  const icmp = Buffer.alloc(32);
  icmp[0] = 136; // Neighbor Advertisement
  icmp[4] = (o.router ? 0x80 : 0) | ((o.override ?? true) ? 0x20 : 0);
  src.copy(icmp, 8);
  icmp[24] = 2; // target link-layer address
  icmp[25] = 1; // in units of 8 bytes
  mac.copy(icmp, 26);
  icmp.writeUInt16BE(icmpv6Checksum(src, dst, icmp), 2);
  const ip6 = Buffer.alloc(40);
  ip6.writeUInt32BE(0x60000000, 0);
  ip6.writeUInt16BE(icmp.length, 4);
  ip6[6] = 58;
  ip6[7] = 255;
  src.copy(ip6, 8);
  dst.copy(ip6, 24);
  const ethDst = dst[0] === 0xff ? ipv6MulticastMac(dst) : BROADCAST_MAC;
  return Buffer.concat([ethernetHeader(ethDst, o.ethSrc ?? mac, ETH_P_IPV6), ip6, icmp]);
}
