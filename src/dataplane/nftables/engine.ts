// The nftables data-plane engine: IPVS-like load balancing for kernels without IPVS.
//
// It owns two tables named after config (default "lvsd"): `inet` (NAT, full NAT, and every
// service's metadata) and `netdev` (DR, created once a DR service exists), and touches nothing
// else. The layout is described in ruleset.ts, the metadata encoding in meta.ts.
// apply() turns the ops into one nft batch (one atomic transaction) that writes only what differs
// for the services the ops touch; observe() reads both tables back and rebuilds TableState from
// the metadata, leaving out services whose kernel state does not match it (see observe.ts).
// The engine keeps a mirror of what is in the kernel, so apply() does not list anything first, and
// observe() skips the listing when the nftables generation shows nothing was committed since the
// engine last read or wrote (any other write, by any tool, makes the next observe() list again).
//
// Persistence (persistence_timeout): a dynamic map client(&netmask) -> real server, with the
// timeout refreshed by every packet of the client's connections (IPVS: by every new connection,
// and kept while connections live). Unlike IPVS, entries pointing at a removed or weight-0 real
// server are deleted right after the batch (IPVS keeps them for weight 0 unless
// expire_quiescent_template=1), and there is no persistence across services (no port-0 services,
// no persistence engines).
import type { ApplyResult, DataplaneEngine, DestSpec, Op, ServiceSpec, ServiceState, TableState } from '../types.js';
import { applyOpToTable, cloneService } from '../diff.js';
import { nftablesLimitations } from './limitations.js';
import { buildBatch, Physical, type Touched } from './batch.js';
import { canon, isSharedMap, planService, serviceKind, type DrInfo, type GenOptions, type ServicePlan } from './ruleset.js';
import { mergeListings, parseListing, reconstruct, type Listing } from './observe.js';
import { createTransport, errorLine, type NftResult, type NftTransport, type TransportChoice } from './transport.js';
import { GenIdReader } from './genid.js';
import { NeighMacResolver, type MacResolver } from './neigh.js';
import { baseName } from './names.js';
import { isPrime } from './maglev.js';

export interface NftablesEngineOptions {
  /** table name for both tables (lvsd_defs nft_table), default "lvsd" */
  table?: string;
  /** network namespace (name or path) to work in; default: the process's own */
  netns?: string;
  /** libnftables in-process (auto picks it when it loads), the nft binary, or a given transport */
  transport?: TransportChoice | NftTransport;
  /** nft binary for the spawn transport */
  nftPath?: string;
  /** DR: the interface VIP traffic arrives on and is forwarded out of again */
  drDevice?: string;
  /** DR: MAC lookups; default: rtnetlink neighbour table in the engine's namespace */
  macResolver?: MacResolver;
  /** jhash seed for sh/dh/mh; give both directors the same one */
  hashSeed?: number;
  /** Maglev table size for mh (prime), default 251: every mh service holds this many slots, so it
   *  trades balance and disruption (better with M >> real servers) against batch and listing size */
  mhTableSize?: number;
  /** cap on wrr/sh/dh table slots, default 1024 */
  maxSlots?: number;
  /** idle timeout of DR flow entries (s) */
  flowTimeoutS?: Partial<GenOptions['flowTimeoutS']>;
  /** size limit of each persistence map, default 65536 */
  dynSize?: number;
  /** size limit of the DR flow maps (all DR services together), default 1048576 */
  flowSize?: number;
  /** netdev ingress chain priority, default 100 (after the usual filter priority 0) */
  ingressPriority?: number;
  /** drift found by observe(), MACs that cannot be resolved, failed persistence clean-ups */
  onWarning?: (msg: string) => void;
  /**
   * observe() lists the tables only when the nftables generation moved since the engine last
   * read or wrote them, or after this long (ms) regardless; default 60000. 0 = always list.
   */
  fullCheckMs?: number;
  /** read the nftables generation to skip unneeded listings (default true) */
  useGeneration?: boolean;
}

export interface BatchStats {
  /** commands in the last batch */
  lines: number;
  /** bytes of the last batch */
  bytes: number;
  /** time spent in nft for it (ms) */
  nftMs: number;
  /** total apply() time (ms) */
  totalMs: number;
}

const DEFAULT_SEED = 0x6c767364; // "lvsd"

function isMissingTable(error: string): boolean {
  return /No such file or directory/.test(error);
}

/** Kernel settings the services need; the daemon (not the engine) sets them. */
export interface SysctlNeed {
  key: string;
  value: string;
  reason: string;
}

export function nftablesSysctls(services: Iterable<Pick<ServiceState, 'svc' | 'dests'>>): SysctlNeed[] {
  let v4 = false;
  let v6 = false;
  for (const s of services) {
    if (serviceKind(s.dests.values()) !== 'nat') continue;
    if (s.svc.family === 'inet6') v6 = true;
    else v4 = true;
  }
  const out: SysctlNeed[] = [];
  if (v4) out.push({ key: 'net.ipv4.ip_forward', value: '1', reason: 'NAT and full-NAT virtual servers forward IPv4 through the director' });
  if (v6) out.push({ key: 'net.ipv6.conf.all.forwarding', value: '1', reason: 'NAT and full-NAT virtual servers forward IPv6 through the director' });
  return out;
}

/** A copy of a table for callers (specs are plain data; this engine's dests carry no tunnel). */
function fastClone(t: TableState): TableState {
  const out: TableState = new Map();
  for (const [k, s] of t) {
    const dests = new Map<string, DestSpec>();
    for (const [dk, d] of s.dests) dests.set(dk, { ...d });
    out.set(k, { svc: { ...s.svc, flags: { ...s.svc.flags } }, dests });
  }
  return out;
}

export class NftablesEngine implements DataplaneEngine {
  readonly name = 'nftables' as const;
  readonly table: string;
  private readonly transport: NftTransport;
  private readonly gen: GenOptions;
  private readonly o: NftablesEngineOptions;
  private resolver: MacResolver | undefined;
  private readonly ownResolver: boolean;
  /** what this engine programmed (consistent services only), or null before the first observe */
  private logical: TableState | null = null;
  private phys = new Physical();
  /** services with kernel state but not in `logical` (drift): removed or rewritten by the next batch */
  private orphans: string[] = [];
  /** real server address -> MAC (DR) */
  private readonly macs = new Map<string, string>();
  private dirMac: string | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private genReader: GenIdReader | null | undefined;
  /** the nftables generation at which `logical`/`phys` were known to match the kernel */
  private knownGen: number | undefined;
  private lastFullAt = 0;
  /** drift messages of the last observe() */
  lastDrift: string[] = [];
  /** numbers of the last apply() that ran a batch */
  lastBatch: BatchStats | undefined;

  constructor(o: NftablesEngineOptions = {}) {
    this.o = o;
    this.table = o.table ?? 'lvsd';
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(this.table)) throw new Error(`nftables table name "${this.table}" is not a plain identifier`);
    this.transport =
      typeof o.transport === 'object'
        ? o.transport
        : createTransport(o.transport ?? 'auto', { ...(o.netns ? { netns: o.netns } : {}), ...(o.nftPath ? { nftPath: o.nftPath } : {}) });
    const mh = o.mhTableSize ?? 251;
    if (!isPrime(mh)) throw new Error(`nftables engine: the mh table size must be a prime number, got ${mh}`);
    // the device name goes into nft text between quotes
    if (o.drDevice !== undefined && !/^[A-Za-z0-9_.:@+-]{1,15}$/.test(o.drDevice)) throw new Error(`nftables engine: "${o.drDevice}" is not an interface name`);
    this.gen = {
      table: this.table,
      ...(o.drDevice ? { drDevice: o.drDevice } : {}),
      flowTimeoutS: { TCP: 900, UDP: 300, SCTP: 900, ...o.flowTimeoutS },
      dynSize: o.dynSize ?? 65536,
      flowSize: o.flowSize ?? 1048576,
      ingressPriority: o.ingressPriority ?? 100,
      mhTableSize: mh,
      hashSeed: (o.hashSeed ?? DEFAULT_SEED) >>> 0,
      maxSlots: o.maxSlots ?? 1024,
    };
    this.resolver = o.macResolver;
    this.ownResolver = !o.macResolver;
  }

  /** which way batches reach the kernel */
  get transportKind(): NftTransport['kind'] {
    return this.transport.kind;
  }

  limitations(svc: ServiceSpec, dests: DestSpec[]): string[] {
    return nftablesLimitations(svc, dests, { drDevice: this.o.drDevice ?? null });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private warn(msg: string): void {
    this.o.onWarning?.(msg);
  }

  private getResolver(): MacResolver {
    if (!this.resolver) this.resolver = new NeighMacResolver(this.o.netns ? { netns: this.o.netns } : {});
    return this.resolver;
  }

  private async directorMac(): Promise<string> {
    if (this.dirMac) return this.dirMac;
    if (!this.o.drDevice) throw new Error('DR needs the nftables engine DR interface (drDevice)');
    this.dirMac = await this.getResolver().linkMac(this.o.drDevice);
    return this.dirMac;
  }

  private async readGen(): Promise<number | undefined> {
    if (this.genReader === undefined) {
      this.genReader = null;
      if (this.o.useGeneration !== false) {
        try {
          this.genReader = new GenIdReader(this.o.netns);
        } catch {
          // no addon for the namespace: always list
        }
      }
    }
    if (!this.genReader) return undefined;
    return this.genReader.get().catch(() => undefined);
  }

  /** Run a write batch and keep track of the generation it produced. */
  private async commit(text: string): Promise<NftResult> {
    const g0 = await this.readGen();
    const r = await this.transport.run(text, false);
    const g1 = await this.readGen();
    // exactly our one commit since the state we knew: the mirror still matches the kernel
    this.knownGen = r.rc === 0 && g0 !== undefined && this.knownGen === g0 && g1 === ((g0 + 1) >>> 0) ? g1 : undefined;
    return r;
  }

  /**
   * Both tables, read without ever listing the dynamic maps (flows, persistence: they can hold
   * millions of clients): `list ruleset` in terse form (nft 1.0.6 then fetches no set elements at
   * all, unlike `list table`), then the elements of the shared maps, one list command each (nft
   * 1.0.6 cannot run several list commands in one batch).
   */
  private async listBoth(): Promise<Record<'inet' | 'netdev', Listing | null>> {
    const r = await this.transport.run('list ruleset', { json: true, terse: true });
    if (r.rc !== 0) throw new Error(`nft list ruleset: ${r.error.trim()}`);
    const out: Record<'inet' | 'netdev', Listing | null> = { inet: null, netdev: null };
    for (const family of ['inet', 'netdev'] as const) {
      const table = parseListing(r.output, { family, table: this.table });
      if (!table.tables.has(`${family} ${this.table}`)) continue;
      const withElems: Listing[] = [];
      for (const [name, s] of table.sets) {
        if (!isSharedMap(family, name)) continue;
        const x = await this.transport.run(`list ${s.kind} ${family} ${this.table} ${name}`, true);
        if (x.rc !== 0) throw new Error(`nft list ${s.kind} ${family} ${this.table} ${name}: ${x.error.trim()}`);
        withElems.push(parseListing(x.output));
      }
      out[family] = mergeListings(table, ...withElems);
    }
    return out;
  }

  observe(): Promise<TableState> {
    return this.serial(() => this.observeLocked());
  }

  private async observeLocked(): Promise<TableState> {
    const gen = await this.readGen();
    const fullEvery = this.o.fullCheckMs ?? 60_000;
    if (this.logical && gen !== undefined && gen === this.knownGen && fullEvery > 0 && Date.now() - this.lastFullAt < fullEvery) {
      for (const key of await this.checkUnresolved(this.logical)) {
        this.orphans.push(baseName(this.logical.get(key)!.svc));
        this.logical.delete(key);
      }
      return fastClone(this.logical);
    }
    const { inet, netdev } = await this.listBoth();
    if (netdev !== null && this.o.drDevice && !this.dirMac) {
      await this.directorMac().catch((e: Error) => this.warn(`DR: ${e.message}`));
    }
    const ctx = { opts: this.gen, macs: this.macs, ...(this.dirMac ? { dirMac: this.dirMac } : {}) };
    const obs = reconstruct(inet, netdev, ctx);
    for (const [a, m] of obs.learnedMacs) this.macs.set(a, m);
    for (const key of await this.checkUnresolved(obs.state)) {
      obs.orphans.push(baseName(obs.state.get(key)!.svc));
      obs.state.delete(key);
      obs.drift.push(`service ${key}: a real server's MAC became known; it will be rewritten`);
    }
    this.logical = obs.state;
    this.phys = obs.phys;
    this.orphans = obs.orphans;
    this.lastDrift = obs.drift;
    this.knownGen = obs.drift.length === 0 ? gen : undefined;
    this.lastFullAt = Date.now();
    for (const d of obs.drift) this.warn(d);
    return fastClone(obs.state);
  }

  /**
   * DR dests that had no MAC when written: when the neighbour table knows one now, the service is
   * reported as drifted (left out of `state`) so the reconciler has it rewritten with the MAC;
   * otherwise the kernel is nudged to resolve it before the next look.
   */
  private async checkUnresolved(state: TableState): Promise<string[]> {
    const out: string[] = [];
    if (!this.o.drDevice) return out;
    for (const [key, s] of state) {
      if (serviceKind(s.dests.values()) !== 'dr') continue;
      let learned = false;
      for (const d of s.dests.values()) {
        if (d.weight === 0 || this.macs.has(canon(d.address))) continue;
        const r = this.getResolver();
        const mac = await r.lookup(d.address, this.o.drDevice).catch(() => null);
        if (mac) {
          this.macs.set(canon(d.address), mac);
          learned = true;
        } else if (r instanceof NeighMacResolver) r.probe(d.address);
      }
      if (learned) out.push(key);
    }
    return out;
  }

  apply(ops: Op[]): Promise<ApplyResult> {
    return this.serial(() => this.applyLocked(ops));
  }

  private async applyLocked(ops: Op[]): Promise<ApplyResult> {
    const t0 = performance.now();
    if (ops.length === 0) return { applied: 0, failed: [] };
    if (!this.logical) await this.observeLocked();
    const before = this.logical!;
    // copy-on-write: untouched services are shared with `before`, so an op costs O(its service)
    const next: TableState = new Map(before);
    const failed: ApplyResult['failed'] = [];
    const touched = new Map<string, ServiceSpec>(); // svc key -> spec (last seen)
    const opsBySvc = new Map<string, Op[]>();
    for (const op of ops) {
      if (!touched.has(op.svc.key)) {
        const cur = before.get(op.svc.key);
        if (cur) next.set(op.svc.key, cloneService(cur));
      }
      const err = applyOpToTable(next, op);
      if (err !== undefined) failed.push({ op, error: err });
      touched.set(op.svc.key, next.get(op.svc.key)?.svc ?? before.get(op.svc.key)?.svc ?? op.svc);
      const l = opsBySvc.get(op.svc.key) ?? [];
      l.push(op);
      opsBySvc.set(op.svc.key, l);
    }
    const refuse = (key: string, error: string): void => {
      const op = opsBySvc.get(key)?.[0];
      if (op && !failed.some((f) => f.op === op)) failed.push({ op, error });
    };
    for (const key of touched.keys()) {
      const s = next.get(key);
      if (!s) continue;
      const lim = this.limitations(s.svc, [...s.dests.values()]);
      if (lim.length > 0) refuse(key, `nftables cannot do this: ${lim.join('; ')}`);
    }
    if (failed.length > 0) return { applied: 0, failed };

    // whole tables being rebuilt take every service that lives in them along
    let needNetdev = false;
    for (const s of next.values()) if (serviceKind(s.dests.values()) === 'dr') needNetdev = true;
    const netdevRebuild = needNetdev && (this.phys.tables.netdev !== 'ok' || this.phys.netdevDevice !== this.o.drDevice);
    if (this.phys.tables.inet !== 'ok' || netdevRebuild) {
      for (const [key, s] of next) {
        const dr = serviceKind(s.dests.values()) === 'dr';
        if (this.phys.tables.inet !== 'ok' || (dr && netdevRebuild)) touched.set(key, s.svc);
      }
    }

    // DR link-layer addresses
    let drInfo: DrInfo | undefined;
    const drKeys = [...touched.keys()].filter((k) => {
      const s = next.get(k);
      return s && serviceKind(s.dests.values()) === 'dr';
    });
    if (drKeys.length > 0) {
      try {
        const dirMac = await this.directorMac();
        const want = new Set<string>();
        for (const k of drKeys) for (const d of next.get(k)!.dests.values()) if (d.weight > 0 && !this.macs.has(canon(d.address))) want.add(canon(d.address));
        await Promise.all(
          [...want].map(async (a) => {
            try {
              this.macs.set(a, await this.getResolver().resolve(a, this.o.drDevice!));
            } catch (e) {
              this.warn(`DR: ${(e as Error).message}; it gets no traffic until resolved`);
            }
          }),
        );
        drInfo = { dirMac, macs: this.macs };
      } catch (e) {
        for (const k of drKeys) refuse(k, `DR: ${(e as Error).message}`);
        return { applied: 0, failed };
      }
    }

    const plans = new Map<string, Touched>();
    for (const [key, svc] of touched) {
      const s = next.get(key);
      let plan: ServicePlan | null = null;
      if (s) {
        try {
          plan = planService(s.svc, s.dests.values(), this.gen, drInfo);
        } catch (e) {
          refuse(key, (e as Error).message);
          continue;
        }
      }
      plans.set(baseName(svc), { svc: s?.svc ?? svc, plan });
    }
    if (failed.length > 0) return { applied: 0, failed };

    const batch = buildBatch({ opts: this.gen, phys: this.phys, touched: plans, orphans: this.orphans, needNetdev });
    if (batch.lines.length > 0) {
      const text = `${batch.lines.join('\n')}\n`;
      const t1 = performance.now();
      const r = await this.commit(text);
      const nftMs = performance.now() - t1;
      if (r.rc !== 0) {
        const line = errorLine(r.error);
        const owner = line !== undefined ? batch.owners[line - 1] : undefined;
        const ownerKey = owner ? [...touched.keys()].find((k) => baseName(touched.get(k)!) === owner) : undefined;
        const op = (ownerKey && opsBySvc.get(ownerKey)?.[0]) || ops[0]!;
        const clip = (x: string): string => (x.length > 300 ? `${x.slice(0, 300)}...` : x);
        const why = r.error.trim().split('\n').map(clip).join('\n');
        const where = line !== undefined ? ` (batch line ${line}: ${clip(batch.lines[line - 1] ?? '')})` : '';
        failed.push({ op, error: `nftables refused the batch, nothing was applied: ${why}${where}` });
        // the kernel may differ from the mirror (someone changed the tables): read it again
        await this.observeLocked().catch((e: Error) => this.warn(`re-reading the tables failed: ${e.message}`));
        return { applied: 0, failed };
      }
      this.lastBatch = { lines: batch.lines.length, bytes: text.length, nftMs, totalMs: 0 };
    }
    this.logical = next;
    batch.commit();
    this.orphans = [];
    await this.purgePersistence(before, next, touched, plans).catch((e: Error) => this.warn(`persistence clean-up: ${e.message}`));
    if (this.lastBatch) this.lastBatch.totalMs = performance.now() - t0;
    return { applied: ops.length, failed: [] };
  }

  /**
   * Drop persistence entries that point at real servers which were removed or set to weight 0,
   * so those clients are scheduled anew (IPVS with expire_quiescent_template=1). A second,
   * best-effort step: entries that expire in between are simply no longer there.
   */
  private async purgePersistence(before: TableState, next: TableState, touched: Map<string, ServiceSpec>, plans: Map<string, Touched>): Promise<void> {
    for (const key of touched.keys()) {
      const old = before.get(key);
      const cur = next.get(key);
      if (!old || !cur || !cur.svc.flags.persistent || !old.svc.flags.persistent) continue;
      const gone = [...old.dests.values()].filter((d) => d.weight > 0 && !((cur.dests.get(d.key)?.weight ?? 0) > 0));
      if (gone.length === 0) continue;
      const plan = plans.get(baseName(cur.svc))?.plan;
      const pmap = plan?.objects.find((o) => o.dynamic && /_pa?$/.test(o.name));
      if (!plan || !pmap) continue;
      const values = new Set(
        gone.map((d) => {
          if (pmap.table === 'netdev') return this.macs.get(canon(d.address)) ?? '';
          return pmap.name.endsWith('_pa') ? canon(d.address) : `${canon(d.address)} . ${d.port || cur.svc.port}`;
        }),
      );
      for (let attempt = 0; attempt < 3; attempt++) {
        const r = await this.transport.run(`list map ${pmap.table} ${this.table} ${pmap.name}`, true);
        if (r.rc !== 0) throw new Error(`list map ${pmap.name}: ${r.error.trim()}`);
        const elems = parseListing(r.output).sets.get(pmap.name)?.elems ?? [];
        const doomed = elems.filter((e) => values.has((e.value ?? []).join(' . '))).map((e) => e.key.join(' . '));
        if (doomed.length === 0) break;
        const d = await this.commit(`delete element ${pmap.table} ${this.table} ${pmap.name} { ${doomed.join(', ')} }\n`);
        if (d.rc === 0) break;
        if (attempt === 2) throw new Error(`delete from ${pmap.name}: ${d.error.trim()}`);
      }
    }
  }

  /** Remove lvsd's tables (lvs_flush_on_stop, tests). Other tables are never touched. */
  destroy(): Promise<void> {
    return this.serial(async () => {
      for (const fam of ['inet', 'netdev'] as const) {
        const r = await this.commit(`delete table ${fam} ${this.table}\n`);
        if (r.rc !== 0 && !isMissingTable(r.error)) throw new Error(`delete table ${fam} ${this.table}: ${r.error.trim()}`);
      }
      this.logical = new Map();
      this.phys = new Physical();
      this.orphans = [];
    });
  }

  /** Re-resolve every known real-server MAC; returns the addresses whose MAC changed (observe() then reports their services). */
  refreshMacs(): Promise<string[]> {
    return this.serial(async () => {
      if (!this.o.drDevice) return [];
      const changed: string[] = [];
      this.dirMac = undefined;
      await this.directorMac().catch((e: Error) => this.warn(`DR: ${e.message}`));
      for (const [a, m] of [...this.macs]) {
        const now = await this.getResolver()
          .resolve(a, this.o.drDevice)
          .catch(() => null);
        if (now && now !== m) {
          this.macs.set(a, now);
          changed.push(a);
        }
      }
      // the kernel did not change, our view of it did: the next observe() must compare again
      if (changed.length > 0) this.knownGen = undefined;
      return changed;
    });
  }

  async close(): Promise<void> {
    await this.chain;
    this.transport.close();
    this.genReader?.close();
    this.genReader = undefined;
    if (this.ownResolver) this.resolver?.close();
    this.resolver = undefined;
  }
}
