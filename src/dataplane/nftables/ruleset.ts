// What lvsd programs into nftables, as pure functions: two tables with fixed skeletons, and for
// each virtual service one chain plus elements in the skeleton's shared maps.
//
// Why this shape (measured at 1,000 services x 10 real servers, nft 1.0.6): before a batch nft
// reads every set of the table into its cache (anonymous ones included), plus the elements of the
// sets the batch's rules and element deletes refer to. Per-service sets made that 5-9 ms per
// batch; slot tables as anonymous maps inside the rules were worse still. So per-service state
// lives in shared maps keyed by the service identity, and the big ones (slots, dest metadata) are
// split into SHARDS maps by a hash of the service (created when first used), so a batch drags
// only a few hundred elements into nft's cache. A weight change is then a few element
// deletes/adds and, when the slot count changed, the service's one dnat rule.
//
// inet table (NAT, full NAT, and every service's metadata):
//   prerouting (nat, dstnat):  meta mark vmap @fwm4|@fwm6, then daddr . l4proto . dport vmap
//     @svc4|@svc6 -> goto <service chain>:
//       meta l4proto tcp dnat ip to ip daddr . tcp dport . <selector> map @be4tcp_<shard>
//     (or drop) where <selector> is "numgen inc mod K" or "jhash ... mod K" and be4tcp_<shard>
//     holds VIP . port . slot -> real server address . port.
//   persist (filter, dstnat + 1): after DNAT, the ct original tuple vmap @pers4|... -> the
//     service's <base>_r chain, which records client(&mask) -> chosen real server in <base>_p.
//   postrouting (nat, srcnat): full NAT: snat to (ct original tuple) map @fnat4|...
//   dm4_<shard>|dm6_<shard> (VIP . proto . port . RS . port) and dmm4_<shard>|dmm6_<shard> (mark .
//   RS . port): one element per real server, its weight and method in the element comment
//   (weight 0 has no slot anywhere).
// netdev table (DR; exists once a DR service does), ingress hook on the DR interface:
//   daddr . l4proto . dport vmap @svc4|@svc6 -> goto <service chain>: rewrite ether daddr to the
//   chosen real server's MAC (dbe4tcp_<shard>: VIP . port . slot -> MAC) and ether saddr to the
//   director's, fwd out of the same interface. The flow map fl4|fl6 (VIP . port . client . port
//   -> MAC, idle timeout) keeps each flow on its server, as IPVS's connection table does (a TCP
//   SYN reusing a tuple the client closed, marked in flc4|flc6, is scheduled anew);
//   persistent services use their own <base>_p (client&mask -> MAC) instead.
// Every generated rule carries a comment "h:<hash of its text>", so observe() can tell a rule set
// that matches the metadata from one that drifted, without parsing rule expressions.
import net from 'node:net';
import type { DestSpec, ServiceSpec } from '../types.js';
import { canonicalIp, ipv6String } from '../../net/sockaddr.js';
import { encodeDestMeta, encodeServiceMeta } from './meta.js';
import { INET, NETDEV, svcNames } from './names.js';
import { canonicalOrder, slotTable, type SchedOptions } from './sched.js';

export type TableFamily = 'inet' | 'netdev';

export interface GenOptions extends SchedOptions {
  /** table name (both families) */
  table: string;
  /** DR interface: netdev ingress hook, and where DR packets are sent out again */
  drDevice?: string;
  /** idle timeout of DR flow entries per protocol (s) */
  flowTimeoutS: { TCP: number; UDP: number; SCTP: number };
  /** max entries of each persistence map */
  dynSize: number;
  /** max entries of the DR flow maps (all DR services together) */
  flowSize: number;
  /** netdev ingress priority */
  ingressPriority: number;
}

/** Link-layer facts DR rules need: the director's MAC on the DR interface, each real server's. */
export interface DrInfo {
  dirMac: string;
  /** canonical real server address -> MAC; dests without one get no slot (reported) */
  macs: ReadonlyMap<string, string>;
}

/** A per-service object: its chain(s) and persistence map. */
export interface ObjSpec {
  table: TableFamily;
  type: 'chain' | 'map';
  name: string;
  /** body of `add map` ("{ type ...; }"); '' for chains */
  decl: string;
  /** holds client state (persistence): created once, never flushed by a rebuild */
  dynamic: boolean;
  /** chain rules (the batch adds each one's hash comment) */
  rules?: string[];
}

/** An element of a shared map that belongs to one service. Key/value are canonical nft text. */
export interface SharedElem {
  table: TableFamily;
  map: string;
  key: string;
  /** absent for set elements */
  value?: string;
  comment?: string;
}

/** A shard map a service's elements live in (created by the batch when missing). */
export interface ShardMap {
  table: TableFamily;
  name: string;
  kind: 'set' | 'map';
  decl: string;
}

export interface ServicePlan {
  base: string;
  kind: 'nat' | 'dr' | 'none';
  objects: ObjSpec[];
  shared: SharedElem[];
  /** shard maps `shared` uses */
  maps: ShardMap[];
  /** live DR dests that got no slot because their MAC is unknown */
  unresolved: string[];
}

// ---- helpers -----------------------------------------------------------------------

/** FNV-1a 32, hex: the rule fingerprint kept in each rule's comment (salt: context the text lacks). */
export function ruleHash(text: string, salt = ''): string {
  if (salt) text = `${text} @${salt}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** The hash comment a generated rule carries. */
export function hashComment(rule: string, salt = ''): string {
  return `h:${ruleHash(rule, salt)}`;
}

export function withHash(rule: string, salt = ''): string {
  return `${rule} comment "${hashComment(rule, salt)}"`;
}

const canonMemo = new Map<string, string>();

/** Addresses as nft prints them back, so written and read state compare as text. */
export function canon(a: string): string {
  let c = canonMemo.get(a);
  if (c === undefined) {
    c = net.isIP(a) ? canonicalIp(a) : a;
    if (canonMemo.size > 100_000) canonMemo.clear();
    canonMemo.set(a, c);
  }
  return c;
}

const l3 = (svc: Pick<ServiceSpec, 'family'>): 'ip' | 'ip6' => (svc.family === 'inet6' ? 'ip6' : 'ip');
const addrType = (svc: Pick<ServiceSpec, 'family'>): string => (svc.family === 'inet6' ? 'ipv6_addr' : 'ipv4_addr');
const isFwmark = (svc: Pick<ServiceSpec, 'fwmark'>): boolean => svc.fwmark !== undefined && svc.fwmark > 0;
const proto = (svc: ServiceSpec): Proto => (svc.protocol ?? 'TCP').toLowerCase() as Proto;
const fam = (svc: Pick<ServiceSpec, 'family'>): '4' | '6' => (svc.family === 'inet6' ? '6' : '4');
type Proto = 'tcp' | 'udp' | 'sctp';
const PROTOS: readonly Proto[] = ['tcp', 'udp', 'sctp'];

/** How many maps each kind of per-service element is spread over. */
export const SHARDS = 32;

export function shardOf(base: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < base.length; i++) {
    h ^= base.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % SHARDS;
}

const SHARD_RE = /^(be|bem|dm|dmm|dbe)([46])(tcp|udp|sctp)?_(\d+)$/;

/** Declaration of a shard map from its name (be4tcp_7, dm6_0, ...), or undefined for other names. */
export function shardMap(table: TableFamily, name: string): ShardMap | undefined {
  const m = SHARD_RE.exec(name);
  if (!m || Number(m[4]) >= SHARDS) return undefined;
  const [, kind, v, p] = m;
  const at = v === '6' ? 'ipv6_addr' : 'ipv4_addr';
  const f = v === '6' ? 'ip6' : 'ip';
  const inet = table === 'inet';
  if (kind === 'be' && p && inet) return { table, name, kind: 'map', decl: `{ typeof ${f} daddr . ${p} dport . numgen inc mod 1 : ${f} daddr . ${p} dport; }` };
  if (kind === 'bem' && inet) return { table, name, kind: 'map', decl: `{ typeof meta mark . numgen inc mod 1 : ${f} daddr${p ? ` . ${p} dport` : ''}; }` };
  if (kind === 'dm' && !p && inet) return { table, name, kind: 'set', decl: `{ type ${at} . inet_proto . inet_service . ${at} . inet_service; }` };
  if (kind === 'dmm' && !p && inet) return { table, name, kind: 'set', decl: `{ type mark . ${at} . inet_service; }` };
  if (kind === 'dbe' && p && !inet) return { table, name, kind: 'map', decl: `{ typeof ${f} daddr . ${p} dport . numgen inc mod 1 : ether daddr; }` };
  return undefined;
}

/** `ip saddr` or `ip saddr & 255.255.255.0` / `ip6 saddr & ffff:ffff::` for a persistence netmask. */
export function maskedSource(svc: ServiceSpec): string {
  const f = l3(svc);
  if (svc.family === 'inet6') {
    const bits = Number(svc.netmask || '128');
    if (!(bits >= 0 && bits < 128)) return `${f} saddr`;
    const b = Buffer.alloc(16);
    for (let i = 0; i < bits; i++) b[i >> 3]! |= 0x80 >> (i & 7);
    return `${f} saddr & ${ipv6String(b)}`;
  }
  const m = svc.netmask || '255.255.255.255';
  return m === '255.255.255.255' ? `${f} saddr` : `${f} saddr & ${m}`;
}

/** Dispatch key of an address service ("10.0.0.1 . tcp . 80") or fwmark ("5"). */
export function dispatchKey(svc: ServiceSpec): string {
  if (isFwmark(svc)) return String(svc.fwmark);
  return `${canon(svc.address ?? '')} . ${proto(svc)} . ${svc.port}`;
}

/** Which kind of forwarding the service's dests ask for (limitations rule out mixes). */
export function serviceKind(dests: Iterable<DestSpec>): 'nat' | 'dr' | 'none' {
  for (const d of dests) return d.fwd === 'DR' ? 'dr' : 'nat';
  return 'none';
}

function flowTimeout(svc: ServiceSpec, o: GenOptions): number {
  return o.flowTimeoutS[svc.protocol ?? 'TCP'];
}

function persistTimeout(svc: ServiceSpec): number {
  return svc.timeoutS > 0 ? svc.timeoutS : 300;
}

/**
 * How NAT maps a slot to an address: an address service translates to address . port (dest port
 * 0 = the service's port). A fwmark service keeps the client's port when its dests have port 0,
 * else translates to the dest's port, with one rule per protocol (nft types a map's port by
 * protocol, so each protocol has its own backend map).
 */
interface NatWay {
  match: string;
  map: string;
  /** slot key prefix: "VIP . port" or "mark" */
  prefix: string;
  /** the rule's key expression before the selector */
  keyExpr: string;
  data: (d: DestSpec) => string;
  withPort: boolean;
}

function natWays(svc: ServiceSpec, dests: DestSpec[], shard: number): NatWay[] {
  const v = fam(svc);
  const f = l3(svc);
  if (!isFwmark(svc)) {
    const p = proto(svc);
    return [
      {
        match: `meta l4proto ${p} `,
        map: `be${v}${p}_${shard}`,
        prefix: `${canon(svc.address ?? '')} . ${svc.port}`,
        keyExpr: `${f} daddr . ${p} dport`,
        data: (d) => `${canon(d.address)} . ${d.port || svc.port}`,
        withPort: true,
      },
    ];
  }
  if (!dests.some((d) => d.port !== 0)) {
    return [{ match: '', map: `bem${v}_${shard}`, prefix: String(svc.fwmark), keyExpr: 'meta mark', data: (d) => canon(d.address), withPort: false }];
  }
  return PROTOS.map((p) => ({
    match: `meta l4proto ${p} `,
    map: `bem${v}${p}_${shard}`,
    prefix: String(svc.fwmark),
    keyExpr: 'meta mark',
    data: (d: DestSpec) => `${canon(d.address)} . ${d.port}`,
    withPort: true,
  }));
}

// ---- per-service plan ----------------------------------------------------------------

/**
 * Everything one service needs in the kernel. `dr` is required when the service's dests are DR.
 * Pure: the same inputs always give the same text, which is what observe() compares against.
 */
export function planService(svc: ServiceSpec, destsIn: Iterable<DestSpec>, o: GenOptions, dr?: DrInfo): ServicePlan {
  const n = svcNames(svc);
  const dests = canonicalOrder(destsIn);
  const kind = serviceKind(dests);
  const f = l3(svc);
  const at = addrType(svc);
  const v = fam(svc);
  const objects: ObjSpec[] = [];
  const shared: SharedElem[] = [];
  const unresolved: string[] = [];
  const persistent = svc.flags.persistent;
  const dkey = dispatchKey(svc);
  const shard = shardOf(n.base);

  // metadata: the dispatch element's comment, and one dest-meta element per real server
  shared.push({
    table: 'inet',
    map: isFwmark(svc) ? `fwm${v}` : `svc${v}`,
    key: dkey,
    value: `goto ${n.base}`,
    comment: encodeServiceMeta({
      scheduler: svc.scheduler,
      flags: svc.flags,
      timeoutS: svc.timeoutS,
      netmask: svc.netmask,
      ...(svc.fullNatSource ? { fullNatSource: canon(svc.fullNatSource) } : {}),
    }),
  });
  for (const d of dests) {
    const mac = kind === 'dr' ? dr?.macs.get(canon(d.address)) : undefined;
    shared.push({
      table: 'inet',
      map: isFwmark(svc) ? `dmm${v}_${shard}` : `dm${v}_${shard}`,
      key: `${dkey} . ${canon(d.address)} . ${d.port}`,
      comment: encodeDestMeta({ weight: d.weight, fwd: d.fwd, ...(mac ? { mac } : {}) }),
    });
  }

  const inetRules: string[] = [];
  if (kind === 'nat') {
    const ways = natWays(svc, dests, shard);
    const table = slotTable(svc, dests, f, o);
    const withPort = ways[0]!.withPort && svc.family === 'inet';
    if (persistent && table.slots.length > 0) {
      // nft 1.0.6 cannot generate a dynamic-map update whose key and data exceed 32 bytes, so
      // IPv6 persistence stores the real server's address only (limitations: no port change)
      const src = maskedSource(svc);
      const pName = withPort ? n.p : `${n.base}_pa`;
      objects.push({
        table: 'inet',
        type: 'map',
        name: pName,
        decl: `{ type ${at} : ${at}${withPort ? ' . inet_service' : ''}; flags dynamic,timeout; size ${o.dynSize}; }`,
        dynamic: true,
      });
      for (const w of ways) inetRules.push(`${w.match}dnat ${f} to ${src} map @${pName}`);
      objects.push({
        table: 'inet',
        type: 'chain',
        name: n.r,
        decl: '',
        dynamic: false,
        rules: [`update @${pName} { ${src} timeout ${persistTimeout(svc)}s : ${f} daddr${withPort ? ' . th dport' : ''} }`],
      });
      shared.push({ table: 'inet', map: isFwmark(svc) ? `pfwm${v}` : `pers${v}`, key: dkey, value: `goto ${n.r}` });
    }
    for (const w of ways) {
      table.slots.forEach((d, i) => shared.push({ table: 'inet', map: w.map, key: `${w.prefix} . ${i}`, value: w.data(d) }));
      if (table.slots.length > 0) inetRules.push(`${w.match}dnat ${f} to ${w.keyExpr} . ${table.selector} map @${w.map}`);
    }
    if (svc.fullNatSource) {
      shared.push({ table: 'inet', map: isFwmark(svc) ? `fnatm${v}` : `fnat${v}`, key: dkey, value: canon(svc.fullNatSource) });
    }
  }
  // no usable real server: drop, as IPVS does (it also sends ICMP unreachable, which a nat chain
  // cannot). With one, the dnat rule always finds a slot and ends the chain, so no drop is needed.
  if (inetRules.length === 0) inetRules.push('drop');
  objects.push({ table: 'inet', type: 'chain', name: n.base, decl: '', dynamic: false, rules: inetRules });

  if (kind === 'dr') {
    if (!dr) throw new Error(`service ${svc.key}: DR needs the director's and the real servers' MAC addresses`);
    if (!o.drDevice) throw new Error(`service ${svc.key}: DR needs the nftables engine's DR interface`);
    // a live dest without a known MAC cannot be sent to: it gets no slot, like weight 0
    const usable = dests.map((d) => {
      if (d.weight > 0 && !dr.macs.has(canon(d.address))) {
        unresolved.push(d.address);
        return { ...d, weight: 0 };
      }
      return d;
    });
    const table = slotTable(svc, usable, f, o);
    const fwd = `ether saddr set ${dr.dirMac} fwd to "${o.drDevice}"`;
    const rules: string[] = [];
    // a flow (or persistent client) seen before goes where it went; a new one is scheduled,
    // recorded (a full map only skips the record) and sent
    let record: string | undefined;
    if (persistent) {
      const src = maskedSource(svc);
      objects.push({ table: 'netdev', type: 'map', name: n.p, decl: `{ type ${at} : ether_addr; flags dynamic,timeout; size ${o.dynSize}; }`, dynamic: true });
      record = `update @${n.p} { ${src} timeout ${persistTimeout(svc)}s : ether daddr }`;
      rules.push(`ether daddr set ${src} map @${n.p} ${record} ${fwd}`);
    } else if (!svc.flags.onePacket) {
      // IPv6 flows are keyed by a 32-bit hash of the 4-tuple: nft 1.0.6 cannot update a dynamic
      // map whose key and data exceed 32 bytes. A collision only makes two flows share a server.
      const key =
        svc.family === 'inet6'
          ? `jhash ip6 daddr . th dport . ip6 saddr . th sport mod 4294967295 seed 0x${o.hashSeed.toString(16)}`
          : 'ip daddr . th dport . ip saddr . th sport';
      record = `update @fl${v} { ${key} timeout ${flowTimeout(svc, o)}s : ether daddr }`;
      if (svc.protocol === 'TCP' || isFwmark(svc)) {
        // A client reuses a source port as soon as its side of the last connection is closed
        // (the server, closing first, keeps the TIME_WAIT), often within seconds. A SYN on a
        // tuple whose client sent FIN or RST is such a new connection: it is scheduled anew, as
        // IPVS does (conn_reuse_mode), instead of following the old flow to a server that may
        // have left the pool since. flc marks closed tuples for as long as a flow entry lives.
        rules.push(`tcp flags & (syn | ack) == syn ${key} @flc${v} delete @fl${v} { ${key} : ether daddr } delete @flc${v} { ${key} }`);
        rules.push(`tcp flags & (fin | rst) != 0 update @flc${v} { ${key} timeout ${flowTimeout(svc, o)}s }`);
      }
      rules.push(`ether daddr set ${key} map @fl${v} ${record} ${fwd}`);
    }
    const p = proto(svc);
    const prefix = `${canon(svc.address ?? '')} . ${svc.port}`;
    table.slots.forEach((d, i) => shared.push({ table: 'netdev', map: `dbe${v}${p}_${shard}`, key: `${prefix} . ${i}`, value: dr.macs.get(canon(d.address))! }));
    if (table.slots.length > 0) {
      rules.push(`meta l4proto ${p} ether daddr set ${f} daddr . ${p} dport . ${table.selector} map @dbe${v}${p}_${shard}`);
      if (record) rules.push(record);
      rules.push(fwd);
    } else {
      rules.push('drop');
    }
    objects.push({ table: 'netdev', type: 'chain', name: n.base, decl: '', dynamic: false, rules });
    shared.push({ table: 'netdev', map: `svc${v}`, key: dkey, value: `goto ${n.base}` });
  }
  const maps = new Map<string, ShardMap>();
  for (const e of shared) {
    const m = shardMap(e.table, e.map);
    if (m) maps.set(`${m.table} ${m.name}`, m);
  }
  return { base: n.base, kind, objects, shared, maps: [...maps.values()], unresolved };
}

// ---- skeletons -------------------------------------------------------------------------

export interface Skeleton {
  /** shared sets and maps, in creation order */
  sets: { name: string; kind: 'set' | 'map'; decl: string }[];
  /** base chains with their hook declaration and rules; salt goes into the rules' hashes */
  chains: { name: string; decl: string; rules: string[]; salt: string; hook: string; type: string; prio: number }[];
}

export function inetSkeleton(): Skeleton {
  const sets: Skeleton['sets'] = [];
  const map = (name: string, decl: string): void => void sets.push({ name, kind: 'map', decl });
  for (const [v, at] of [
    ['4', 'ipv4_addr'],
    ['6', 'ipv6_addr'],
  ] as const) {
    map(`svc${v}`, `{ type ${at} . inet_proto . inet_service : verdict; }`);
    map(`fwm${v}`, '{ type mark : verdict; }');
    map(`pers${v}`, `{ type ${at} . inet_proto . inet_service : verdict; }`);
    map(`pfwm${v}`, '{ type mark : verdict; }');
    map(`fnat${v}`, `{ type ${at} . inet_proto . inet_service : ${at}; }`);
    map(`fnatm${v}`, `{ type mark : ${at}; }`);
  }
  const pre: string[] = [
    // IPVS looks a packet up by firewall mark first, then by address
    'meta nfproto ipv4 meta mark vmap @fwm4',
    'meta nfproto ipv6 meta mark vmap @fwm6',
    'ip daddr . meta l4proto . th dport vmap @svc4',
    'ip6 daddr . meta l4proto . th dport vmap @svc6',
  ];
  const persist: string[] = [
    'ct direction original ct status dnat meta nfproto ipv4 meta mark vmap @pfwm4',
    'ct direction original ct status dnat meta nfproto ipv6 meta mark vmap @pfwm6',
  ];
  const post: string[] = ['ct status dnat meta nfproto ipv4 snat ip to meta mark map @fnatm4', 'ct status dnat meta nfproto ipv6 snat ip6 to meta mark map @fnatm6'];
  for (const p of PROTOS) {
    // ct original proto-dst only has a size once the protocol is known, hence one rule each
    persist.push(`ct direction original ct status dnat meta l4proto ${p} ct original ip daddr . meta l4proto . ct original proto-dst vmap @pers4`);
    persist.push(`ct direction original ct status dnat meta l4proto ${p} ct original ip6 daddr . meta l4proto . ct original proto-dst vmap @pers6`);
    post.push(`ct status dnat meta l4proto ${p} snat ip to ct original ip daddr . meta l4proto . ct original proto-dst map @fnat4`);
    post.push(`ct status dnat meta l4proto ${p} snat ip6 to ct original ip6 daddr . meta l4proto . ct original proto-dst map @fnat6`);
  }
  return {
    sets,
    chains: [
      { name: INET.prerouting, decl: '{ type nat hook prerouting priority dstnat; policy accept; }', rules: pre, salt: '', hook: 'prerouting', type: 'nat', prio: -100 },
      // right after NAT: the packet already carries the chosen real server as destination
      { name: INET.persist, decl: '{ type filter hook prerouting priority dstnat + 1; policy accept; }', rules: persist, salt: '', hook: 'prerouting', type: 'filter', prio: -99 },
      { name: INET.postrouting, decl: '{ type nat hook postrouting priority srcnat; policy accept; }', rules: post, salt: '', hook: 'postrouting', type: 'nat', prio: 100 },
    ],
  };
}

export function netdevSkeleton(device: string, priority: number, flowSize: number): Skeleton {
  const sets: Skeleton['sets'] = [
    { name: NETDEV.svc4, kind: 'map', decl: '{ type ipv4_addr . inet_proto . inet_service : verdict; }' },
    { name: NETDEV.svc6, kind: 'map', decl: '{ type ipv6_addr . inet_proto . inet_service : verdict; }' },
    { name: 'fl4', kind: 'map', decl: `{ type ipv4_addr . inet_service . ipv4_addr . inet_service : ether_addr; flags dynamic,timeout; size ${flowSize}; }` },
    { name: 'fl6', kind: 'map', decl: `{ typeof numgen inc mod 1 : ether daddr; flags dynamic,timeout; size ${flowSize}; }` },
    // TCP flows whose client closed its side (FIN/RST): a SYN on one of them is a new connection
    { name: 'flc4', kind: 'set', decl: `{ type ipv4_addr . inet_service . ipv4_addr . inet_service; flags dynamic,timeout; size ${flowSize}; }` },
    { name: 'flc6', kind: 'set', decl: `{ typeof numgen inc mod 1; flags dynamic,timeout; size ${flowSize}; }` },
  ];
  return {
    sets,
    chains: [
      {
        name: NETDEV.ingress,
        decl: `{ type filter hook ingress device "${device}" priority ${priority}; policy accept; }`,
        // only frames addressed to this director: a bridge floods frames for an unknown or dead
        // MAC (the old master's, during a failover) to every port, and a backup must not forward
        // them (IPVS gets this for free: it hooks local input)
        rules: ['meta pkttype host ip daddr . meta l4proto . th dport vmap @svc4', 'meta pkttype host ip6 daddr . meta l4proto . th dport vmap @svc6'],
        // nft's JSON does not show a netdev chain's device: hashing it into the rules lets
        // observe() notice a chain bound to another interface
        salt: `dev=${device}`,
        hook: 'ingress',
        type: 'filter',
        prio: priority,
      },
    ],
  };
}

export function skeletonCommands(family: TableFamily, table: string, s: Skeleton): string[] {
  const out = [`add table ${family} ${table}`];
  for (const m of s.sets) out.push(`add ${m.kind} ${family} ${table} ${m.name} ${m.decl}`);
  for (const c of s.chains) {
    out.push(`add chain ${family} ${table} ${c.name} ${c.decl}`);
    for (const r of c.rules) out.push(`add rule ${family} ${table} ${c.name} ${withHash(r, c.salt)}`);
  }
  return out;
}

const SKELETON_SHARED: Record<TableFamily, ReadonlySet<string>> = {
  inet: new Set(inetSkeleton().sets.map((s) => s.name)),
  netdev: new Set(['svc4', 'svc6']),
};

/** Is this a shared map whose elements belong to services (skeleton or shard)? */
export function isSharedMap(table: TableFamily, name: string): boolean {
  return SKELETON_SHARED[table].has(name) || shardMap(table, name) !== undefined;
}
