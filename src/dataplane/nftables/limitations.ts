// What the nftables engine cannot do, as clear messages (pure: the config validator calls it).
//
// nftables keeps no per-real-server connection counts, so every scheduler that reads them is out;
// it has no IPIP/GUE/GRE encapsulation action, so TUN is out; DR is done at the netdev ingress
// hook, before any fwmark can be set, so DR fwmark services are out. One-packet scheduling needs
// per-datagram NAT without conntrack, which nftables' NAT cannot do (DR can: it is stateless).
import type { DestSpec, ServiceSpec } from '../types.js';
import type { Scheduler } from '../../config/model.js';

const COUNTING: Partial<Record<Scheduler, string>> = {
  lc: 'least-connection',
  wlc: 'weighted least-connection',
  sed: 'shortest expected delay',
  nq: 'never queue',
  lblc: 'locality-based least-connection',
  lblcr: 'locality-based least-connection with replication',
  ovf: 'overflow-connection',
  twos: 'weighted random two-choice',
};

export const NFT_SCHEDULERS: readonly Scheduler[] = ['rr', 'wrr', 'sh', 'dh', 'mh', 'fo'];

export interface LimitationContext {
  /** the engine has an interface for DR (absent = unknown, e.g. `lvsd check` without a running engine) */
  drDevice?: string | null;
}

function isFwmark(svc: ServiceSpec): boolean {
  return svc.fwmark !== undefined && svc.fwmark > 0;
}

function validNetmask(svc: ServiceSpec): boolean {
  if (svc.family === 'inet6') return /^\d{1,3}$/.test(svc.netmask) && Number(svc.netmask) <= 128;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(svc.netmask);
  return !!m && m.slice(1).every((o) => Number(o) <= 255);
}

/** Everything this engine cannot express for one service and its real servers (empty = all fine). */
export function nftablesLimitations(svc: ServiceSpec, dests: DestSpec[], ctx: LimitationContext = {}): string[] {
  const out: string[] = [];
  const alternatives = `use ${NFT_SCHEDULERS.join(', ')}, or the IPVS engine`;
  const counting = COUNTING[svc.scheduler];
  if (counting) {
    out.push(`scheduler ${svc.scheduler} (${counting}) needs connection counts, which nftables does not keep; ${alternatives}`);
  } else if (!NFT_SCHEDULERS.includes(svc.scheduler)) {
    out.push(`scheduler ${svc.scheduler} is not available with nftables; ${alternatives}`);
  }
  if (!isFwmark(svc) && (svc.port ?? 0) === 0) {
    out.push('a port-0 (all ports) virtual server is not available with nftables; use a fwmark virtual server');
  }
  if (svc.peName) out.push(`persistence engine "${svc.peName}" is not available with nftables; remove persistence_engine or use the IPVS engine`);
  if (svc.flags.persistent && !validNetmask(svc)) {
    out.push(`persistence_granularity "${svc.netmask}" is not a valid ${svc.family === 'inet6' ? 'IPv6 prefix length' : 'IPv4 netmask'}`);
  }
  if (svc.fullNatSource !== undefined) {
    const v6 = svc.fullNatSource.includes(':');
    if (v6 !== (svc.family === 'inet6')) out.push(`full-NAT source ${svc.fullNatSource} is not of the virtual server's address family`);
  }

  const kinds = new Set(dests.map((d) => d.fwd));
  if (kinds.has('TUN')) {
    out.push('TUN forwarding (IPIP/GUE/GRE encapsulation) is not available with nftables; use NAT, DR or full NAT (lvsd_fullnat), or the IPVS engine');
  }
  if (kinds.has('NAT') && kinds.has('DR')) {
    out.push('real servers of one virtual server must all use the same forwarding method (NAT or DR) with nftables');
  }
  if (kinds.has('DR')) {
    if (isFwmark(svc)) out.push('DR for a fwmark virtual server is not available with nftables: DR forwards at the netdev ingress hook, before any firewall mark is set; use an address virtual server');
    if (svc.fullNatSource !== undefined) out.push('full NAT (lvsd_fullnat) needs NAT forwarding, not DR');
    if (ctx.drDevice === null) out.push('DR needs the interface to forward on; set the nftables engine DR interface');
  }
  if (kinds.has('NAT') && svc.flags.onePacket) {
    out.push('one-packet scheduling (ops) with NAT is not available with nftables: its NAT is bound to connection tracking; use DR or the IPVS engine');
  }
  if (dests.some((d) => d.uThreshold > 0 || d.lThreshold > 0)) {
    out.push('connection thresholds (uthreshold/lthreshold) need connection counts, which nftables does not keep; remove them or use the IPVS engine');
  }
  const famMismatch = dests.filter((d) => d.family !== svc.family);
  if (famMismatch.length > 0) {
    out.push(`real server ${famMismatch[0]!.address} is not of the virtual server's address family; nftables NAT and DR cannot mix IPv4 and IPv6`);
  }
  if (svc.family === 'inet6' && svc.flags.persistent && kinds.has('NAT')) {
    const nat = dests.filter((d) => d.fwd === 'NAT');
    const translating = isFwmark(svc) ? nat.some((d) => d.port !== 0) : nat.some((d) => d.port !== 0 && d.port !== svc.port);
    if (translating) {
      out.push("IPv6 persistence with NAT cannot change the port with nftables (it records only the real server's address per client); give the real servers the virtual server's port");
    }
  }
  if (isFwmark(svc) && kinds.has('NAT')) {
    const nat = dests.filter((d) => d.fwd === 'NAT');
    const zero = nat.filter((d) => d.port === 0).length;
    if (zero > 0 && zero < nat.length) {
      out.push('with a fwmark virtual server, NAT real servers must all have port 0 (keep the port) or all a port (translate to it) with nftables');
    }
  }
  return out;
}
