// Object names in lvsd's nftables tables.
//
// nft 1.0.x accepts only [A-Za-z_][A-Za-z0-9_]* for set and chain names in its text syntax, so a
// service's objects are named from its identity with '.' and ':' rewritten. The mapping only has
// to be injective (observe() reads identities back from map keys, never from names):
//   TCP 10.0.0.1:80       -> tcp4_10_0_0_1_80
//   UDP [fd00::1]:53      -> udp6_fd00__1_53         (':' -> '_'; a '.' in a v6 address -> 'x')
//   fwmark 5, IPv4        -> fwm4_5
// Per-service objects are the service chain (the base name), and for persistent services the
// chain <base>_r and the map <base>_p (<base>_pa when it holds addresses only). Shared objects
// have names that cannot take this shape (svc4, be4tcp, dm6, ...).
import type { ServiceSpec } from '../types.js';

export interface SvcNames {
  /** the service chain the dispatch verdict map jumps to (inet, and netdev for DR) */
  base: string;
  /** persistence map: client (masked) -> real server, dynamic with timeouts */
  p: string;
  /** chain that records/refreshes persistence entries after DNAT (inet) */
  r: string;
}

export function baseName(svc: Pick<ServiceSpec, 'family' | 'protocol' | 'address' | 'port' | 'fwmark'>): string {
  const fam = svc.family === 'inet6' ? '6' : '4';
  if (svc.fwmark !== undefined && svc.fwmark > 0) return `fwm${fam}_${svc.fwmark}`;
  const proto = (svc.protocol ?? 'TCP').toLowerCase();
  const addr = (svc.address ?? '').replace(/:/g, '_').replace(/\./g, svc.family === 'inet6' ? 'x' : '_');
  return `${proto}${fam}_${addr}_${svc.port ?? 0}`;
}

export function svcNames(svc: Pick<ServiceSpec, 'family' | 'protocol' | 'address' | 'port' | 'fwmark'>): SvcNames {
  const base = baseName(svc);
  return { base, p: `${base}_p`, r: `${base}_r` };
}

/** Is this chain/map name one of lvsd's per-service objects? Returns its base name. */
export function serviceBaseOf(name: string): string | undefined {
  const m = /^((?:tcp|udp|sctp)[46]_[0-9a-fx_]+_\d+|fwm[46]_\d+)(?:_(?:p|pa|r))?$/.exec(name);
  return m?.[1];
}

/** Base chains. */
export const INET = { prerouting: 'prerouting', persist: 'persist', postrouting: 'postrouting' } as const;
export const NETDEV = { svc4: 'svc4', svc6: 'svc6', ingress: 'ingress' } as const;
