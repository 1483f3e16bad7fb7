// What IPVS cannot do with a given service, said up front instead of failing in the kernel.
import type { DestSpec, ServiceSpec } from '../types.js';
import { destToWire, serviceToWire } from './codec.js';

export function ipvsLimitations(svc: ServiceSpec, dests: DestSpec[]): string[] {
  const out: string[] = [];
  if (svc.fullNatSource) out.push('full NAT (lvsd_fullnat) needs the nftables engine: IPVS cannot rewrite the client source address');
  try {
    serviceToWire(svc);
  } catch (e) {
    out.push((e as Error).message);
  }
  for (const d of dests) {
    try {
      destToWire(d);
    } catch (e) {
      out.push(`real server ${d.key}: ${(e as Error).message}`);
    }
    if (d.family !== svc.family && d.fwd !== 'TUN') {
      out.push(`real server ${d.key}: IPVS mixes IPv4 and IPv6 only with TUN forwarding, not ${d.fwd}`);
    }
    if (d.fwd === 'TUN' && d.tunnel) {
      if (d.tunnel.type === 'gue' && !d.tunnel.port) out.push(`real server ${d.key}: a GUE tunnel needs a port`);
      if (d.tunnel.type === 'ipip' && d.tunnel.csum && d.tunnel.csum !== 'nocsum') {
        out.push(`real server ${d.key}: tunnel checksum options apply to GUE and GRE tunnels only`);
      }
    }
  }
  return out;
}
