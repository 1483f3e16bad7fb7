// The nf_tables ruleset generation: a counter the kernel bumps by one on every committed nftables
// transaction in the namespace (any table, any tool). When it has not moved since the engine last
// read or wrote the tables, nothing can have changed them, so observe() can skip the (costly at
// scale) listing. Packet-path updates of dynamic sets do not bump it.
import { C } from '../../net/native.js';
import { attrMap, NetlinkDecodeError } from '../../net/netlink/codec.js';
import { NetlinkSocket } from '../../net/netlink/socket.js';
import { nftAddon, netnsPath } from './transport.js';

const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_NEWGEN = 15;
const NFT_MSG_GETGEN = 16;
const NFTA_GEN_ID = 1;

export const GETGEN_TYPE = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
export const NEWGEN_TYPE = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN;

/** nfgenmsg: family AF_UNSPEC, version NFNETLINK_V0, res_id 0 */
export function encodeGetGen(): Buffer {
  return Buffer.alloc(4);
}

export function decodeGenId(payload: Buffer): number {
  if (payload.length < 4) throw new NetlinkDecodeError(`short nfgenmsg: ${payload.length}`);
  const id = attrMap(payload.subarray(4)).get(NFTA_GEN_ID);
  if (!id || id.length < 4) throw new NetlinkDecodeError('NEWGEN without NFTA_GEN_ID');
  return id.readUInt32BE(0);
}

export class GenIdReader {
  private readonly sock: NetlinkSocket;

  constructor(netns?: string) {
    const make = (): NetlinkSocket => new NetlinkSocket(C('NETLINK_NETFILTER'), { timeoutMs: 5000 });
    if (!netns) {
      this.sock = make();
    } else {
      const a = nftAddon();
      if (!a) throw new Error('working in another network namespace needs the lvsd_nft addon');
      this.sock = a.withNetns(netnsPath(netns), make);
    }
  }

  async get(): Promise<number> {
    const msgs = await this.sock.request(GETGEN_TYPE, 0, encodeGetGen(), 'nftables generation');
    const m = msgs.find((x) => x.type === NEWGEN_TYPE);
    if (!m) throw new Error('nftables generation: no answer');
    return decodeGenId(m.payload);
  }

  close(): void {
    this.sock.close();
  }
}
