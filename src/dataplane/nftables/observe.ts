// From `nft -j list table` output back to TableState (pure).
//
// Identity comes from the dispatch map keys, settings from the metadata comments (meta.ts), real
// servers from the dest-meta sets. Then every service is checked against what planService()
// would program for those settings: its chains' rule hashes, its elements in the shared maps, no
// stray objects or elements. A service whose kernel state does not match is left out of the
// observed table (and reported as drift), so the reconciler adds it again and the engine rewrites
// it whole. A damaged skeleton marks its table "broken": the next apply() drops and rebuilds it.
import net from 'node:net';
import type { DestSpec, ServiceSpec, TableState } from '../types.js';
import { destKey, serviceKey } from '../types.js';
import type { Family, Protocol } from '../../config/model.js';
import { canonicalIp } from '../../net/sockaddr.js';
import { decodeDestMeta, decodeServiceMeta } from './meta.js';
import { baseName, serviceBaseOf } from './names.js';
import { objKey, Physical, sharedKey } from './batch.js';
import {
  hashComment,
  inetSkeleton,
  netdevSkeleton,
  planService,
  serviceKind,
  isSharedMap,
  shardMap,
  type DrInfo,
  type GenOptions,
  type Skeleton,
  type TableFamily,
} from './ruleset.js';

interface ChainInfo {
  type?: string;
  hook?: string;
  prio?: number;
  /** rule comments, in order ('' for a rule without one) */
  rules: string[];
}

/** An element as canonical tokens (key and value parts). */
export interface ParsedElem {
  key: string[];
  value?: string[];
  comment?: string;
}

interface SetInfo {
  kind: 'set' | 'map';
  elems: ParsedElem[];
}

export interface Listing {
  /** tables present in the listing, "family name" */
  tables: Set<string>;
  chains: Map<string, ChainInfo>;
  sets: Map<string, SetInfo>;
}

// ---- JSON -> tokens ------------------------------------------------------------------

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** One value as the generator writes it: canonical addresses, lower-case MACs, decimal numbers. */
export function normToken(t: string): string {
  if (t.includes(':')) {
    if (MAC.test(t)) return t.toLowerCase();
    if (net.isIPv6(t)) return canonicalIp(t);
    return t;
  }
  if (/^0x[0-9a-f]+$/i.test(t)) return String(parseInt(t, 16));
  return t;
}

function tokens(v: unknown, what: string): string[] {
  if (typeof v === 'number') return [String(v)];
  if (typeof v === 'string') return [normToken(v)];
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.concat)) return o.concat.flatMap((x) => tokens(x, what));
    for (const verdict of ['goto', 'jump'] as const) {
      const t = o[verdict] as { target?: unknown } | undefined;
      if (t && typeof t.target === 'string') return [`${verdict} ${t.target}`];
    }
  }
  throw new Error(`${what}: unexpected element value ${JSON.stringify(v)}`);
}

function parseElem(raw: unknown, isMap: boolean, what: string): ParsedElem {
  let keyRaw: unknown = raw;
  let valRaw: unknown;
  if (isMap) {
    if (!Array.isArray(raw) || raw.length !== 2) throw new Error(`${what}: bad map element ${JSON.stringify(raw)}`);
    [keyRaw, valRaw] = raw;
  }
  let comment: string | undefined;
  if (keyRaw && typeof keyRaw === 'object' && 'elem' in (keyRaw as object)) {
    const e = (keyRaw as { elem: { val: unknown; comment?: unknown } }).elem;
    keyRaw = e.val;
    if (typeof e.comment === 'string') comment = e.comment;
  }
  const out: ParsedElem = { key: tokens(keyRaw, what) };
  if (isMap) out.value = tokens(valRaw, what);
  if (comment !== undefined) out.comment = comment;
  return out;
}

/** Parse `nft -j list ruleset|table|map|set ...` output; `only` keeps one table of a listing of several. */
export function parseListing(json: string, only?: { family: string; table: string }): Listing {
  let doc: { nftables?: unknown };
  try {
    doc = JSON.parse(json) as { nftables?: unknown };
  } catch (e) {
    throw new Error(`nft JSON output does not parse: ${(e as Error).message}`);
  }
  if (!Array.isArray(doc.nftables)) throw new Error('nft JSON output has no "nftables" array');
  const tables = new Set<string>();
  const chains = new Map<string, ChainInfo>();
  const sets = new Map<string, SetInfo>();
  const rules: { chain: string; comment: string }[] = [];
  for (const item of doc.nftables as Record<string, Record<string, unknown>>[]) {
    if (item.table) tables.add(`${String(item.table.family)} ${String(item.table.name)}`);
    const obj = item.chain ?? item.set ?? item.map ?? item.rule;
    if (only && obj && (obj.family !== only.family || obj.table !== only.table)) continue;
    if (item.chain) {
      const c = item.chain;
      const info: ChainInfo = { rules: [] };
      if (typeof c.type === 'string') info.type = c.type;
      if (typeof c.hook === 'string') info.hook = c.hook;
      if (typeof c.prio === 'number') info.prio = c.prio;
      chains.set(String(c.name), info);
    } else if (item.set || item.map) {
      const kind = item.set ? 'set' : 'map';
      const s = (item.set ?? item.map)!;
      const name = String(s.name);
      const elems = Array.isArray(s.elem) ? s.elem.map((e) => parseElem(e, kind === 'map', `${kind} ${name}`)) : [];
      sets.set(name, { kind, elems });
    } else if (item.rule) {
      rules.push({ chain: String(item.rule.chain), comment: typeof item.rule.comment === 'string' ? item.rule.comment : '' });
    }
  }
  for (const r of rules) chains.get(r.chain)?.rules.push(r.comment);
  return { tables, chains, sets };
}

// ---- which service an element belongs to ------------------------------------------------

/**
 * The service (base name) a shared-map element belongs to, from the map's name and the key:
 *   svc|pers|fnat<v>            VIP . proto . port
 *   dm<v>                       VIP . proto . port . RS . port
 *   fwm|pfwm|fnatm<v>, dmm<v>   mark [. RS . port]
 *   be<v><p>, dbe<v><p>         VIP . port . slot
 *   bem<v>[<p>]                 mark . slot
 * (shard maps carry a "_<shard>" suffix)
 */
export function sharedBase(map: string, key: string[]): string | undefined {
  const m = /^(svc|pers|fnat|dm|fwm|pfwm|fnatm|dmm|be|dbe|bem)([46])(tcp|udp|sctp)?(?:_\d+)?$/.exec(map);
  if (!m) return undefined;
  const family: Family = m[2] === '6' ? 'inet6' : 'inet';
  const kind = m[1]!;
  if (kind === 'fwm' || kind === 'pfwm' || kind === 'fnatm' || kind === 'dmm' || kind === 'bem') {
    const mark = Number(key[0]);
    return Number.isInteger(mark) && mark > 0 ? baseName({ family, fwmark: mark }) : undefined;
  }
  let protocol: string | undefined;
  let port: string | undefined;
  if (kind === 'be' || kind === 'dbe') {
    protocol = m[3];
    port = key[1];
  } else {
    protocol = key[1];
    port = key[2];
  }
  const P = protocol?.toUpperCase();
  if (P !== 'TCP' && P !== 'UDP' && P !== 'SCTP') return undefined;
  if (!key[0] || !/^\d+$/.test(port ?? '')) return undefined;
  return baseName({ family, protocol: P, address: key[0], port: Number(port) });
}

// ---- reconstruction -------------------------------------------------------------------

export interface ObserveContext {
  opts: GenOptions;
  /** the director's MAC on the DR interface (undefined = unknown: DR services count as drifted) */
  dirMac?: string;
  /** real server MACs known to the engine (canonical address -> MAC); the kernel's are learned for the rest */
  macs: ReadonlyMap<string, string>;
}

export interface Observed {
  state: TableState;
  phys: Physical;
  /** services present in the kernel but not in `state` (drifted or unreadable): rewritten or removed by the next apply */
  orphans: string[];
  /** why services (or tables) were left out */
  drift: string[];
  /** real server MACs read back from DR dest metadata, for addresses the engine did not know */
  learnedMacs: Map<string, string>;
}

function skeletonProblem(l: Listing, s: Skeleton): string | undefined {
  for (const m of s.sets) if (l.sets.get(m.name)?.kind !== m.kind) return `${m.kind} ${m.name} is missing`;
  for (const c of s.chains) {
    const have = l.chains.get(c.name);
    if (!have) return `chain ${c.name} is missing`;
    if (have.hook !== c.hook || have.type !== c.type || have.prio !== c.prio) return `chain ${c.name} has another hook, type or priority`;
    const want = c.rules.map((r) => hashComment(r, c.salt));
    if (have.rules.length !== want.length || want.some((h, i) => have.rules[i] !== h)) return `chain ${c.name} does not hold lvsd's rules`;
  }
  return undefined;
}

function inventory(phys: Physical, table: TableFamily, l: Listing): void {
  for (const [name, c] of l.chains) if (serviceBaseOf(name)) phys.setObject(table, name, { type: 'chain', rules: c.rules });
  for (const [name, s] of l.sets) {
    if (serviceBaseOf(name)) {
      if (s.kind === 'map') phys.setObject(table, name, { type: 'map' });
      continue;
    }
    if (!isSharedMap(table, name)) continue;
    if (shardMap(table, name)) phys.shardMaps.add(objKey(table, name));
    for (const e of s.elems) {
      const base = sharedBase(name, e.key);
      if (!base) continue;
      phys.setShared({
        table,
        map: name,
        key: e.key.join(' . '),
        ...(e.value ? { value: e.value.join(' . ') } : {}),
        ...(e.comment !== undefined ? { comment: e.comment } : {}),
        base,
      });
    }
  }
}

function serviceFromDispatch(map: string, key: string[], comment: string | undefined): ServiceSpec {
  const family: Family = map.endsWith('6') ? 'inet6' : 'inet';
  if (comment === undefined) throw new Error('no lvsd comment');
  const meta = decodeServiceMeta(comment);
  let id: Pick<ServiceSpec, 'family' | 'protocol' | 'address' | 'port' | 'fwmark'>;
  if (map.startsWith('fwm')) {
    id = { family, fwmark: Number(key[0]) };
  } else {
    id = { family, protocol: key[1]!.toUpperCase() as Protocol, address: key[0]!, port: Number(key[2]) };
  }
  const svc: ServiceSpec = {
    key: serviceKey(id),
    ...id,
    scheduler: meta.scheduler,
    flags: meta.flags,
    timeoutS: meta.timeoutS,
    netmask: meta.netmask,
  };
  if (meta.fullNatSource) svc.fullNatSource = meta.fullNatSource;
  return svc;
}

/** The service's dests from the dest-meta sets; MACs recorded there for DR go into `macs`. */
function destsOf(svc: ServiceSpec, base: string, phys: Physical, macs: Map<string, string>): DestSpec[] {
  const out: DestSpec[] = [];
  for (const k of phys.ofBase(base).shared) {
    const e = phys.shared.get(k)!;
    if (e.table !== 'inet' || !/^dmm?[46]_\d+$/.test(e.map)) continue;
    const t = e.key.split(' . ');
    if (e.comment === undefined) throw new Error(`dest element ${e.key} has no lvsd comment`);
    const m = decodeDestMeta(e.comment);
    const address = t[t.length - 2]!;
    const port = Number(t[t.length - 1]);
    if (m.mac && !macs.has(address)) macs.set(address, m.mac);
    out.push({ key: destKey({ address, port }), family: svc.family, address, port, fwd: m.fwd, weight: m.weight, uThreshold: 0, lThreshold: 0 });
  }
  return out;
}

function verifyService(svc: ServiceSpec, base: string, dests: DestSpec[], ctx: ObserveContext, phys: Physical, learned: Map<string, string>): string | undefined {
  let dr: DrInfo | undefined;
  if (serviceKind(dests) === 'dr') {
    if (phys.tables.netdev !== 'ok') return 'its DR state (netdev table) is missing';
    if (!ctx.dirMac) return "the director's MAC on the DR interface is unknown";
    // the engine's own (fresher) MACs first, then what the kernel state recorded
    dr = { dirMac: ctx.dirMac, macs: learned.size > 0 ? new Map([...learned, ...ctx.macs]) : ctx.macs };
  }
  const plan = planService(svc, dests, ctx.opts, dr);
  const have = phys.ofBase(base);
  if (have.objects.length !== plan.objects.length) return 'it has other chains or maps than expected';
  for (const o of plan.objects) {
    const cur = phys.objects.get(objKey(o.table, o.name));
    if (!cur || cur.type !== o.type) return `${o.type} ${o.name} is missing`;
    if (o.type === 'chain') {
      const want = (o.rules ?? []).map((r) => hashComment(r));
      if (cur.rules?.length !== want.length || want.some((h, i) => cur.rules![i] !== h)) return `chain ${o.name} does not hold the expected rules`;
    }
  }
  if (have.shared.length !== plan.shared.length) return `it has ${have.shared.length} elements in shared maps, ${plan.shared.length} expected`;
  for (const e of plan.shared) {
    const cur = phys.shared.get(sharedKey(e.table, e.map, e.key));
    if (!cur) return `its element ${e.key} in ${e.table} ${e.map} is missing`;
    if (cur.value !== e.value || (cur.comment ?? '') !== (e.comment ?? '')) return `its element ${e.key} in ${e.table} ${e.map} differs`;
  }
  return undefined;
}

/** A terse listing (no elements) completed with the elements of some of its sets. */
export function mergeListings(table: Listing, ...withElements: Listing[]): Listing {
  const sets = new Map(table.sets);
  for (const l of withElements) for (const [name, s] of l.sets) sets.set(name, s);
  return { tables: table.tables, chains: table.chains, sets };
}

/** Rebuild the table state from the listings of the inet and netdev tables (null = absent). */
export function reconstruct(inet: Listing | null, netdev: Listing | null, ctx: ObserveContext): Observed {
  const phys = new Physical();
  const drift: string[] = [];
  const state: TableState = new Map();
  const learnedMacs = new Map<string, string>();

  if (netdev) {
    const dev = ctx.opts.drDevice;
    const problem = dev ? skeletonProblem(netdev, netdevSkeleton(dev, ctx.opts.ingressPriority, ctx.opts.flowSize)) : 'no DR interface is configured';
    if (problem) {
      phys.tables.netdev = 'broken';
      drift.push(`netdev table ${ctx.opts.table}: ${problem}; it will be rebuilt`);
    } else {
      phys.tables.netdev = 'ok';
      phys.netdevDevice = dev;
    }
    inventory(phys, 'netdev', netdev);
  }
  if (inet) {
    const problem = skeletonProblem(inet, inetSkeleton());
    if (problem) {
      phys.tables.inet = 'broken';
      drift.push(`inet table ${ctx.opts.table}: ${problem}; it will be rebuilt`);
    } else {
      phys.tables.inet = 'ok';
    }
    inventory(phys, 'inet', inet);
  }
  if (inet && phys.tables.inet === 'ok') {
    // MACs recorded in DR dest metadata (address -> MAC), per service to keep a bad one local
    let recorded = new Map<string, string>();
    for (const map of ['svc4', 'svc6', 'fwm4', 'fwm6']) {
      for (const e of inet.sets.get(map)?.elems ?? []) {
        const where = `${map} element ${e.key.join(' . ')}`;
        let svc: ServiceSpec;
        let base: string;
        let dests: DestSpec[];
        recorded = new Map();
        try {
          svc = serviceFromDispatch(map, e.key, e.comment);
          base = baseName(svc);
          dests = destsOf(svc, base, phys, recorded);
        } catch (err) {
          drift.push(`${where}: ${(err as Error).message}`);
          continue;
        }
        const problem = verifyService(svc, base, dests, ctx, phys, recorded);
        if (problem) {
          drift.push(`service ${svc.key}: ${problem}; it will be rewritten`);
          continue;
        }
        state.set(svc.key, { svc, dests: new Map(dests.map((d) => [d.key, d])) });
        for (const [a, m] of recorded) if (!ctx.macs.has(a)) learnedMacs.set(a, m);
      }
    }
  }
  const kept = new Set([...state.values()].map((s) => baseName(s.svc)));
  const orphans = phys.bases().filter((b) => !kept.has(b));
  return { state, phys, orphans, drift, learnedMacs };
}
