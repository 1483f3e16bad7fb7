// In-memory data-plane engine: a kernel table that lives in a Map, for tests and `lvsd demo`.
//
// It behaves like IPVS where that matters to callers: ops apply one by one, a refused op (adding
// what exists, editing/deleting what does not) fails with the kernel's errno name and the rest still
// go in; deleting a service drops its dests. With `atomic: true` it behaves like the nftables
// engine instead: one refused op and nothing of the batch goes in.
//
// Test hooks: every accepted op is recorded (`applied`, `batches`), `drift*` change the table
// behind the caller's back (as ipvsadm would), and `failNext` makes chosen ops fail.
import type { ApplyResult, DataplaneEngine, DestSpec, Op, ServiceSpec, TableState } from './types.js';
import { applyOpToTable, cloneTable } from './diff.js';

export interface MemoryEngineOptions {
  /** what is "in the kernel" before lvsd starts */
  initial?: TableState;
  /** all-or-nothing batches (nftables-like) instead of op-by-op (IPVS-like) */
  atomic?: boolean;
}

interface Failure {
  match: (op: Op) => boolean;
  error: string;
  remaining: number;
}

export class MemoryEngine implements DataplaneEngine {
  readonly name = 'memory' as const;
  /** every op the engine accepted, in order */
  readonly applied: Op[] = [];
  /** every apply() call, with the ops as passed */
  readonly batches: Op[][] = [];
  observeCount = 0;
  closed = false;
  private state: TableState;
  private readonly atomic: boolean;
  private failures: Failure[] = [];
  private observeFailures: string[] = [];

  constructor(opts: MemoryEngineOptions = {}) {
    this.state = opts.initial ? cloneTable(opts.initial) : new Map();
    this.atomic = opts.atomic ?? false;
  }

  async observe(): Promise<TableState> {
    this.observeCount++;
    const err = this.observeFailures.shift();
    if (err !== undefined) throw new Error(err);
    return cloneTable(this.state);
  }

  async apply(ops: Op[]): Promise<ApplyResult> {
    this.batches.push(ops);
    const work = this.atomic ? cloneTable(this.state) : this.state;
    const accepted: Op[] = [];
    const failed: ApplyResult['failed'] = [];
    for (const op of ops) {
      const error = this.injected(op) ?? applyOpToTable(work, op);
      if (error !== undefined) {
        failed.push({ op, error });
        if (this.atomic) break;
      } else accepted.push(op);
    }
    if (this.atomic) {
      if (failed.length > 0) return { applied: 0, failed };
      this.state = work;
    }
    this.applied.push(...accepted);
    return { applied: accepted.length, failed };
  }

  limitations(_svc: ServiceSpec, _dests: DestSpec[]): string[] {
    return [];
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  // ---- test hooks ----

  /** the current table (a copy) */
  snapshot(): TableState {
    return cloneTable(this.state);
  }

  /** the next `times` ops matching `match` fail with `error` */
  failNext(match: (op: Op) => boolean, error = 'simulated kernel failure (EIO)', times = 1): void {
    this.failures.push({ match, error, remaining: times });
  }

  /** the next observe() throws */
  failNextObserve(error = 'simulated dump failure (EIO)'): void {
    this.observeFailures.push(error);
  }

  /** delete a service (with its dests) or one dest, as `ipvsadm -D` / `ipvsadm -d` would */
  driftDelete(svcKey: string, destKey?: string): void {
    if (destKey === undefined) this.state.delete(svcKey);
    else this.state.get(svcKey)?.dests.delete(destKey);
  }

  /** change a dest's settings behind the caller's back, as `ipvsadm -e` would */
  driftEditDest(svcKey: string, destKey: string, patch: Partial<Omit<DestSpec, 'key'>>): void {
    const d = this.state.get(svcKey)?.dests.get(destKey);
    if (!d) throw new Error(`driftEditDest: no dest ${destKey} in ${svcKey}`);
    Object.assign(d, structuredClone(patch));
  }

  /** change a service's settings behind the caller's back, as `ipvsadm -E` would */
  driftEditService(svcKey: string, patch: Partial<Omit<ServiceSpec, 'key'>>): void {
    const s = this.state.get(svcKey);
    if (!s) throw new Error(`driftEditService: no service ${svcKey}`);
    Object.assign(s.svc, structuredClone(patch));
  }

  /** add a foreign service or dest, as `ipvsadm -A` / `ipvsadm -a` would */
  driftAdd(svc: ServiceSpec, dest?: DestSpec): void {
    let s = this.state.get(svc.key);
    if (!s) {
      s = { svc: structuredClone(svc), dests: new Map() };
      this.state.set(svc.key, s);
    }
    if (dest) s.dests.set(dest.key, structuredClone(dest));
  }

  private injected(op: Op): string | undefined {
    const f = this.failures.find((x) => x.remaining > 0 && x.match(op));
    if (!f) return undefined;
    f.remaining--;
    this.failures = this.failures.filter((x) => x.remaining > 0);
    return f.error;
  }
}
