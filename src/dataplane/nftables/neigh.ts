// MAC addresses for DR: the director's own on the DR interface, and each real server's.
//
// DR rewrites the Ethernet header, so the engine must know real servers' MACs. The resolver reads
// the kernel's neighbour table over rtnetlink; when an address has no usable entry it makes the
// kernel resolve it by sending one UDP datagram to the real server's discard port (9): the kernel
// ARPs (or does ND) before sending, and the answer lands in the neighbour table, which is polled
// until it holds a MAC or the timeout passes. Health checks talk to the real servers anyway, so
// entries are normally already there. Everything runs inside the engine's network namespace when
// one is given (sockets are created there; see lvsd_nft withNetns).
import type { Family } from '../../config/model.js';
import { C, native } from '../../net/native.js';
import { attrMap, NLM_F_DUMP, NetlinkDecodeError } from '../../net/netlink/codec.js';
import { NetlinkSocket } from '../../net/netlink/socket.js';
import { decodeLink, encodeGetLink, RTM_GETLINK, RTM_NEWLINK } from '../../net/rtnetlink/codec.js';
import { canonicalIp, ipv4String, ipv6String, sockaddrFor } from '../../net/sockaddr.js';
import { macString } from '../../net/mac.js';
import { nftAddon, netnsPath } from './transport.js';

export interface MacResolver {
  /** MAC of a local interface */
  linkMac(ifname: string): Promise<string>;
  /** MAC of a neighbour reachable on ifname, or null when the neighbour table has none now */
  lookup(address: string, ifname: string): Promise<string | null>;
  /** like lookup, but makes the kernel resolve a missing entry first; rejects when it stays unknown */
  resolve(address: string, ifname: string): Promise<string>;
  close(): void;
}

// ---- neighbour table codec (pure) -------------------------------------------------------

export const RTM_NEWNEIGH = 28;
export const RTM_GETNEIGH = 30;
const NDA_DST = 1;
const NDA_LLADDR = 2;
const NDMSG_LEN = 12;

export const NUD = {
  INCOMPLETE: 0x01,
  REACHABLE: 0x02,
  STALE: 0x04,
  DELAY: 0x08,
  PROBE: 0x10,
  FAILED: 0x20,
  NOARP: 0x40,
  PERMANENT: 0x80,
} as const;
/** states whose link-layer address can be used to send */
const USABLE = NUD.REACHABLE | NUD.STALE | NUD.DELAY | NUD.PROBE | NUD.PERMANENT | NUD.NOARP;

export interface NeighEntry {
  family: Family;
  ifindex: number;
  state: number;
  address: string;
  mac: string | null;
}

/** RTM_GETNEIGH dump request for one family. */
export function encodeGetNeighDump(family: Family): Buffer {
  const b = Buffer.alloc(NDMSG_LEN);
  b.writeUInt8(family === 'inet6' ? 10 : 2, 0);
  return b;
}

export function decodeNeigh(payload: Buffer): NeighEntry | null {
  if (payload.length < NDMSG_LEN) throw new NetlinkDecodeError(`short ndmsg: ${payload.length}`);
  const af = payload.readUInt8(0);
  if (af !== 2 && af !== 10) return null;
  const attrs = attrMap(payload.subarray(NDMSG_LEN));
  const dst = attrs.get(NDA_DST);
  if (!dst || dst.length !== (af === 2 ? 4 : 16)) return null;
  const ll = attrs.get(NDA_LLADDR);
  return {
    family: af === 2 ? 'inet' : 'inet6',
    ifindex: payload.readInt32LE(4),
    state: payload.readUInt16LE(8),
    address: af === 2 ? ipv4String(dst) : ipv6String(dst),
    mac: ll && ll.length === 6 ? macString(ll) : null,
  };
}

export function usableMac(e: NeighEntry): string | null {
  return e.mac && e.state & USABLE && e.mac !== '00:00:00:00:00:00' ? e.mac : null;
}

// ---- rtnetlink resolver ----------------------------------------------------------------

export interface NeighResolverOptions {
  /** network namespace (name or path) to work in; default: the process's */
  netns?: string;
  /** how long resolve() waits for an answer to its probe */
  probeTimeoutMs?: number;
  /** neighbour table poll interval while waiting */
  pollMs?: number;
}

const familyOf = (address: string): Family => (address.includes(':') ? 'inet6' : 'inet');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class NeighMacResolver implements MacResolver {
  private readonly sock: NetlinkSocket;
  private readonly nsPath: string | undefined;
  private readonly ifindexes = new Map<string, number>();
  private readonly probeTimeoutMs: number;
  private readonly pollMs: number;

  constructor(o: NeighResolverOptions = {}) {
    this.nsPath = o.netns ? netnsPath(o.netns) : undefined;
    this.probeTimeoutMs = o.probeTimeoutMs ?? 1000;
    this.pollMs = o.pollMs ?? 20;
    this.sock = this.inNs(() => new NetlinkSocket(C('NETLINK_ROUTE'), { timeoutMs: 5000, rcvbuf: 1 << 20 }));
  }

  private inNs<T>(fn: () => T): T {
    if (!this.nsPath) return fn();
    const a = nftAddon();
    if (!a) throw new Error('working in another network namespace needs the lvsd_nft addon');
    return a.withNetns(this.nsPath, fn);
  }

  private async link(ifname: string): Promise<{ ifindex: number; mac: string | null }> {
    const msgs = await this.sock.request(RTM_GETLINK, 0, encodeGetLink(ifname), `get link ${ifname}`).catch((e: Error) => {
      throw new Error(`interface ${ifname}: ${e.message}`);
    });
    const m = msgs.find((x) => x.type === RTM_NEWLINK);
    if (!m) throw new Error(`interface ${ifname} does not exist`);
    const l = decodeLink(m.payload);
    this.ifindexes.set(ifname, l.ifindex);
    return { ifindex: l.ifindex, mac: l.mac };
  }

  async linkMac(ifname: string): Promise<string> {
    const l = await this.link(ifname);
    if (!l.mac || l.mac.split(':').length !== 6) throw new Error(`interface ${ifname} has no Ethernet address`);
    return l.mac;
  }

  async lookup(address: string, ifname: string): Promise<string | null> {
    const ifindex = this.ifindexes.get(ifname) ?? (await this.link(ifname)).ifindex;
    const want = canonicalIp(address);
    const fam = familyOf(want);
    const msgs = await this.sock.request(RTM_GETNEIGH, NLM_F_DUMP, encodeGetNeighDump(fam), `list ${fam} neighbours`);
    for (const m of msgs) {
      if (m.type !== RTM_NEWNEIGH) continue;
      const e = decodeNeigh(m.payload);
      if (e && e.ifindex === ifindex && e.address === want) return usableMac(e);
    }
    return null;
  }

  /** One datagram to the discard port: the kernel resolves the neighbour to send it. */
  probe(address: string): void {
    const fam = familyOf(address);
    const n = native();
    const fd = this.inNs(() => n.socket(C(fam === 'inet6' ? 'AF_INET6' : 'AF_INET'), C('SOCK_DGRAM'), 0));
    try {
      n.sendto(fd, Buffer.from([0]), sockaddrFor(address, 9));
    } catch {
      // EAGAIN/EHOSTUNREACH: the ARP attempt is what matters, and the poll below reports failure
    } finally {
      n.close(fd);
    }
  }

  async resolve(address: string, ifname: string): Promise<string> {
    const now = await this.lookup(address, ifname);
    if (now) return now;
    const deadline = Date.now() + this.probeTimeoutMs;
    let next = 0;
    while (Date.now() < deadline) {
      if (Date.now() >= next) {
        this.probe(address);
        next = Date.now() + 300;
      }
      await sleep(this.pollMs);
      const mac = await this.lookup(address, ifname);
      if (mac) return mac;
    }
    throw new Error(`cannot resolve the MAC address of ${address} on ${ifname}: no ARP/ND answer within ${this.probeTimeoutMs} ms`);
  }

  close(): void {
    this.sock.close();
  }
}
