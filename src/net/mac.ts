// MAC address text <-> bytes (pure).

/** "02:99:00:00:00:11" (also "-" separated, any case) -> 6 bytes. Throws on anything else. */
export function macBytes(mac: string): Buffer {
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) throw new Error(`not a MAC address: ${mac}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

/** bytes -> lower-case colon text ("02:99:00:00:00:11"); any length (tunnels have 4-byte link addresses). */
export function macString(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}

export const BROADCAST_MAC = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** IPv6 multicast group -> Ethernet multicast MAC 33:33:xx:xx:xx:xx (RFC 2464, last 4 bytes). */
export function ipv6MulticastMac(group16: Uint8Array): Buffer {
  return Buffer.from([0x33, 0x33, group16[12]!, group16[13]!, group16[14]!, group16[15]!]);
}
