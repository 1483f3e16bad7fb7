// One nft transaction from "what is there" (Physical) to "what each touched service needs"
// (ServicePlan). Pure apart from the Physical bookkeeping it hands back as a commit step. Work is
// proportional to the touched services (an index by service keeps it so), and the batch holds only
// what differs: a weight change at 1,000 services is a few element deletes/adds, plus the service
// chain's rules when its slot count changed.
//
// Command order inside the batch (one transaction, so order is only about references):
//   tables (delete broken / create skeleton) -> delete elements -> add maps -> add chains ->
//   flush chains -> add rules -> add elements (verdicts now name existing chains) ->
//   delete chains (now unreferenced and empty) -> delete maps (no rule uses them any more)
import type { ServiceSpec } from '../types.js';
import { serviceBaseOf } from './names.js';
import {
  inetSkeleton,
  netdevSkeleton,
  skeletonCommands,
  hashComment,
  withHash,
  type GenOptions,
  type ObjSpec,
  type ServicePlan,
  type SharedElem,
  type TableFamily,
} from './ruleset.js';

export type TableHealth = 'absent' | 'ok' | 'broken';

export interface PhysObject {
  type: ObjSpec['type'];
  /** chains: the hash comments of their rules, in order */
  rules?: string[];
}

interface BaseIndex {
  objects: Set<string>;
  shared: Set<string>;
}

export const objKey = (table: TableFamily, name: string): string => `${table} ${name}`;
export const sharedKey = (table: TableFamily, map: string, key: string): string => `${table} ${map} ${key}`;

/** What exists in the kernel, as far as the engine's writes and its last observe() know. */
export class Physical {
  tables: Record<TableFamily, TableHealth> = { inet: 'absent', netdev: 'absent' };
  /** the netdev table's ingress device */
  netdevDevice: string | undefined;
  /** per-service objects: "<table> <name>" */
  readonly objects = new Map<string, PhysObject>();
  /** shared-map elements: "<table> <map> <key>" -> element and the service (base) it belongs to */
  readonly shared = new Map<string, SharedElem & { base: string }>();
  /** shard maps that exist: "<table> <name>" */
  readonly shardMaps = new Set<string>();
  private readonly byBase = new Map<string, BaseIndex>();

  private index(base: string): BaseIndex {
    let i = this.byBase.get(base);
    if (!i) this.byBase.set(base, (i = { objects: new Set(), shared: new Set() }));
    return i;
  }

  setObject(table: TableFamily, name: string, o: PhysObject): void {
    const base = serviceBaseOf(name);
    if (!base) return;
    const k = objKey(table, name);
    this.objects.set(k, o);
    this.index(base).objects.add(k);
  }

  deleteObject(k: string): void {
    if (!this.objects.delete(k)) return;
    const base = serviceBaseOf(k.slice(k.indexOf(' ') + 1));
    if (base) this.byBase.get(base)?.objects.delete(k);
  }

  setShared(e: SharedElem & { base: string }): void {
    const k = sharedKey(e.table, e.map, e.key);
    const old = this.shared.get(k);
    if (old && old.base !== e.base) this.byBase.get(old.base)?.shared.delete(k);
    this.shared.set(k, e);
    this.index(e.base).shared.add(k);
  }

  deleteShared(k: string): void {
    const e = this.shared.get(k);
    if (!e) return;
    this.shared.delete(k);
    this.byBase.get(e.base)?.shared.delete(k);
  }

  resetTable(t: TableFamily): void {
    for (const k of [...this.shardMaps]) if (k.startsWith(`${t} `)) this.shardMaps.delete(k);
    for (const k of [...this.objects.keys()]) if (k.startsWith(`${t} `)) this.deleteObject(k);
    for (const k of [...this.shared.keys()]) if (k.startsWith(`${t} `)) this.deleteShared(k);
  }

  /** object and element keys of one service */
  ofBase(base: string): { objects: string[]; shared: string[] } {
    const i = this.byBase.get(base);
    return { objects: i ? [...i.objects] : [], shared: i ? [...i.shared] : [] };
  }

  /** every service (base name) that has something in the kernel */
  bases(): string[] {
    return [...this.byBase].filter(([, i]) => i.objects.size > 0 || i.shared.size > 0).map(([b]) => b);
  }
}

export interface Touched {
  svc: ServiceSpec;
  /** null = the service goes away */
  plan: ServicePlan | null;
}

export interface BatchInput {
  opts: GenOptions;
  phys: Physical;
  /** touched services by base name */
  touched: Map<string, Touched>;
  /** services to remove entirely although no op named them (leftovers of drift) */
  orphans: Iterable<string>;
  /** the netdev table must exist (some service is DR) */
  needNetdev: boolean;
}

export interface Batch {
  /** the commands, one per line */
  lines: string[];
  /** per line: the base name of the service it is for ('' = tables/skeleton/leftovers) */
  owners: string[];
  /** bring `phys` up to date once the kernel accepted the batch */
  commit(): void;
}

const enum S {
  Tables,
  DelElems,
  AddMaps,
  AddChains,
  FlushChains,
  AddRules,
  AddElems,
  DelChains,
  DelMaps,
  Count,
}

export function buildBatch(input: BatchInput): Batch {
  const { opts, phys, touched } = input;
  const T = opts.table;
  const sec: { line: string; owner: string }[][] = Array.from({ length: S.Count }, () => []);
  const emit = (s: S, owner: string, line: string): void => void sec[s]!.push({ line, owner });
  // elements go out one command per (service, map): nft parses one long command much faster
  // than many short ones, and an error still names its service
  const elemGroups = new Map<string, { s: S; owner: string; head: string; items: string[] }>();
  const emitElem = (s: S, owner: string, verb: 'add' | 'delete', table: TableFamily, map: string, item: string): void => {
    const gk = `${s} ${owner} ${table} ${map}`;
    let g = elemGroups.get(gk);
    if (!g) elemGroups.set(gk, (g = { s, owner, head: `${verb} element ${table} ${T} ${map}`, items: [] }));
    g.items.push(item);
  };
  const commits: (() => void)[] = [];
  const gone = new Set<TableFamily>(); // tables dropped by this batch: nothing in them exists

  const exists = (k: string): boolean => !gone.has(k.slice(0, k.indexOf(' ')) as TableFamily);

  // -- tables
  if (phys.tables.inet !== 'ok') {
    if (phys.tables.inet === 'broken') emit(S.Tables, '', `delete table inet ${T}`);
    gone.add('inet');
    for (const l of skeletonCommands('inet', T, inetSkeleton())) emit(S.Tables, '', l);
    commits.push(() => {
      phys.resetTable('inet');
      phys.tables.inet = 'ok';
    });
  }
  const netdevStale = phys.tables.netdev === 'ok' && opts.drDevice !== undefined && phys.netdevDevice !== opts.drDevice;
  if (input.needNetdev && (phys.tables.netdev !== 'ok' || netdevStale)) {
    const dev = opts.drDevice;
    if (!dev) throw new Error('DR needs the nftables engine DR interface');
    if (phys.tables.netdev !== 'absent') emit(S.Tables, '', `delete table netdev ${T}`);
    gone.add('netdev');
    for (const l of skeletonCommands('netdev', T, netdevSkeleton(dev, opts.ingressPriority, opts.flowSize))) emit(S.Tables, '', l);
    commits.push(() => {
      phys.resetTable('netdev');
      phys.tables.netdev = 'ok';
      phys.netdevDevice = dev;
    });
  } else if (!input.needNetdev && phys.tables.netdev !== 'absent') {
    // no DR service left (or a DR table this configuration cannot use): drop the ingress hook
    emit(S.Tables, '', `delete table netdev ${T}`);
    gone.add('netdev');
    commits.push(() => {
      phys.resetTable('netdev');
      phys.tables.netdev = 'absent';
      phys.netdevDevice = undefined;
    });
  }

  const removeObject = (owner: string, k: string): void => {
    const o = phys.objects.get(k);
    if (!o || !exists(k)) return;
    const [table, name] = k.split(' ') as [TableFamily, string];
    if (o.type === 'chain') {
      emit(S.FlushChains, owner, `flush chain ${table} ${T} ${name}`);
      emit(S.DelChains, owner, `delete chain ${table} ${T} ${name}`);
    } else {
      emit(S.DelMaps, owner, `delete map ${table} ${T} ${name}`);
    }
    commits.push(() => phys.deleteObject(k));
  };
  const removeShared = (owner: string, k: string): void => {
    const e = phys.shared.get(k);
    if (!e || !exists(k)) return;
    emitElem(S.DelElems, owner, 'delete', e.table, e.map, e.key);
    commits.push(() => phys.deleteShared(k));
  };
  const addShared = (base: string, e: SharedElem): void => {
    const c = e.comment ? ` comment "${e.comment}"` : '';
    const v = e.value !== undefined ? ` : ${e.value}` : '';
    emitElem(S.AddElems, base, 'add', e.table, e.map, `${e.key}${c}${v}`);
    commits.push(() => phys.setShared({ ...e, base }));
  };

  const newShards = new Set<string>();
  for (const [base, t] of touched) {
    const have = phys.ofBase(base);
    const plan = t.plan;
    for (const m of plan?.maps ?? []) {
      const k = objKey(m.table, m.name);
      if ((exists(k) && phys.shardMaps.has(k)) || newShards.has(k)) continue;
      newShards.add(k);
      emit(S.AddMaps, '', `add ${m.kind} ${m.table} ${T} ${m.name} ${m.decl}`);
      commits.push(() => phys.shardMaps.add(k));
    }
    const wantObjs = new Set<string>();
    const wantShared = new Set<string>();
    if (plan) {
      for (const o of plan.objects) {
        const k = objKey(o.table, o.name);
        wantObjs.add(k);
        const cur = exists(k) ? phys.objects.get(k) : undefined;
        const ruleHashes = o.type === 'chain' ? (o.rules ?? []).map((r) => hashComment(r)) : undefined;
        if (!cur) {
          if (o.type === 'chain') emit(S.AddChains, base, `add chain ${o.table} ${T} ${o.name}`);
          else emit(S.AddMaps, base, `add map ${o.table} ${T} ${o.name} ${o.decl}`);
        } else if (o.type === 'chain') {
          // unchanged rules stay: adding rules makes nft read the whole table first
          if (cur.rules && cur.rules.length === ruleHashes!.length && cur.rules.every((h, i) => h === ruleHashes![i])) continue;
          emit(S.FlushChains, base, `flush chain ${o.table} ${T} ${o.name}`);
        } else {
          continue; // dynamic map: keeps its clients
        }
        if (o.type === 'chain') for (const r of o.rules ?? []) emit(S.AddRules, base, `add rule ${o.table} ${T} ${o.name} ${withHash(r)}`);
        const info: PhysObject = ruleHashes ? { type: o.type, rules: ruleHashes } : { type: o.type };
        commits.push(() => phys.setObject(o.table, o.name, info));
      }
      for (const e of plan.shared) {
        const k = sharedKey(e.table, e.map, e.key);
        wantShared.add(k);
        const cur = exists(k) ? phys.shared.get(k) : undefined;
        if (cur && cur.value === e.value && (cur.comment ?? '') === (e.comment ?? '') && cur.base === base) continue;
        // an element's data or comment cannot be changed in place
        if (cur) removeShared(base, k);
        addShared(base, e);
      }
    }
    for (const k of have.shared) if (!wantShared.has(k)) removeShared(base, k);
    for (const k of have.objects) if (!wantObjs.has(k)) removeObject(base, k);
  }

  for (const base of input.orphans) {
    if (touched.has(base)) continue;
    const have = phys.ofBase(base);
    for (const k of have.shared) removeShared('', k);
    for (const k of have.objects) removeObject('', k);
  }

  for (const g of elemGroups.values()) emit(g.s, g.owner, `${g.head} { ${g.items.join(', ')} }`);
  const lines: string[] = [];
  const owners: string[] = [];
  for (const s of sec) {
    for (const x of s) {
      lines.push(x.line);
      owners.push(x.owner);
    }
  }
  return {
    lines,
    owners,
    commit: () => {
      for (const c of commits) c();
    },
  };
}
