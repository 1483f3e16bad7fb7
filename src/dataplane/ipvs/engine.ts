// The IPVS engine: DataplaneEngine over generic netlink, plus the IPVS-only controls
// (timeouts, sync daemons, info, counters). One request per operation with its own outcome,
// as keepalived does; how the requests travel (one at a time, pipelined, or batched into one
// datagram) is an ApplyMode, measured in bench/dataplane/ipvs-apply.ts.
import { execFile } from 'node:child_process';
import { C } from '../../net/native.js';
import type { NlMsg } from '../../net/netlink/codec.js';
import { NetlinkError, NetlinkSocket, resolveGenlFamily } from '../../net/netlink/socket.js';
import type { LvsSyncDaemon, LvsTimeouts } from '../../config/model.js';
import type { ApplyResult, DataplaneEngine, DestSpec, Op, ServiceSpec, TableState } from '../types.js';
import {
  IPVS_GENL_NAME,
  IpvsEncodeError,
  decodeConfigMsg,
  decodeDaemonMsg,
  decodeDestMsg,
  decodeInfoMsg,
  decodeServiceMsg,
  destToWire,
  enc,
  serviceToWire,
  type IpvsDestStats,
  type IpvsInfo,
  type IpvsRequest,
  type IpvsStats,
  type SyncDaemonSpec,
  type WireService,
} from './codec.js';
import { describeOpFailure, errnoText, ERRNO, opContext } from './errors.js';
import { ipvsLimitations } from './limits.js';

/** What the engine needs from a netlink socket (NetlinkSocket, or a fake kernel in tests). */
export interface NetlinkTransport {
  request(type: number, flags: number, payload: Uint8Array, context?: string): Promise<NlMsg[]>;
  /** many requests in one datagram, ACK on the last only (NetlinkSocket.requestBatch) */
  requestBatch?(type: number, items: { flags: number; payload: Uint8Array; context: string }[]): Promise<NlMsg[]>[];
  close(): void;
}

export class IpvsUnavailableError extends Error {
  constructor(detail?: string) {
    super(`kernel has no IPVS (ip_vs module not loaded?)${detail ? `: ${detail}` : ''}`);
    this.name = 'IpvsUnavailableError';
  }
}

/**
 * How apply() talks to the kernel. Every mode sends one request per operation, handled by the
 * kernel strictly in order, and reports each operation's own outcome:
 * - `{ batch: 1, window: 1 }`: send one, wait for its ACK, send the next (keepalived's way);
 * - `{ batch: 1, window: N }`: up to N requests in flight, each with its own ACK;
 * - `{ batch: N }` (default): N requests per datagram, only the last one ACKed. The kernel
 *   answers every failing request with an error anyway, so the last ACK proves the rest went in.
 *   Saves a syscall and an ACK per operation: see bench/dataplane/ipvs-apply.ts for the numbers.
 */
export interface ApplyMode {
  batch?: number;
  window?: number;
}

export interface IpvsEngineOptions extends ApplyMode {
  /** per-request timeout (the kernel answers in microseconds; this only catches a dead socket) */
  timeoutMs?: number;
  /** run `modprobe ip_vs` once when the IPVS family is missing (keepalived does the same) */
  modprobe?: boolean;
}

export interface IpvsDestSnapshot {
  dest: DestSpec;
  stats: IpvsDestStats;
}

export interface IpvsServiceSnapshot {
  svc: ServiceSpec;
  stats: IpvsStats;
  dests: Map<string, IpvsDestSnapshot>;
}

/** The kernel table with counters: service key -> service, its counters, its destinations. */
export type IpvsSnapshot = Map<string, IpvsServiceSnapshot>;

export interface SyncDaemonState {
  state: 'master' | 'backup';
  interface: string;
  syncId: number;
  maxlen: number;
  group: string;
  port: number;
  ttl: number;
}

const DEFAULT_WINDOW = 64;
const DEFAULT_BATCH = 256;
// Every in-flight request (or failing request of a batch) owes us an answer of ~1 KiB of skb
// in the receive queue, and dumps arrive in chunks of up to 32 KiB: room for a full window or
// batch of refusals plus a dump, with margin. (SO_RCVBUFFORCE: we have CAP_NET_ADMIN anyway.)
const RCVBUF = 4 << 20;

export class IpvsEngine implements DataplaneEngine {
  readonly name = 'ipvs' as const;
  private readonly window: number;
  private readonly batch: number;
  private closed = false;

  private constructor(
    private readonly t: NetlinkTransport,
    /** the IPVS generic-netlink family id (dynamic, per boot) */
    readonly familyId: number,
    opts: IpvsEngineOptions,
  ) {
    this.window = Math.max(1, Math.floor(opts.window ?? DEFAULT_WINDOW));
    this.batch = Math.max(1, Math.floor(opts.batch ?? DEFAULT_BATCH));
  }

  /** Open a generic-netlink socket in the current network namespace and find IPVS. */
  static async open(opts: IpvsEngineOptions = {}): Promise<IpvsEngine> {
    const sock = new NetlinkSocket(C('NETLINK_GENERIC'), { rcvbuf: RCVBUF, timeoutMs: opts.timeoutMs ?? 5000 });
    try {
      return await IpvsEngine.withTransport(sock, opts);
    } catch (e) {
      sock.close();
      throw e;
    }
  }

  /** Build an engine over any transport (tests drive a fake kernel through this). */
  static async withTransport(t: NetlinkTransport, opts: IpvsEngineOptions = {}): Promise<IpvsEngine> {
    let id: number;
    try {
      id = await resolveGenlFamily(t, IPVS_GENL_NAME);
    } catch (e) {
      if (!(e instanceof NetlinkError && e.errno === ERRNO.ENOENT)) throw e;
      if (!opts.modprobe) throw new IpvsUnavailableError();
      await modprobeIpVs();
      try {
        id = await resolveGenlFamily(t, IPVS_GENL_NAME);
      } catch (e2) {
        if (e2 instanceof NetlinkError && e2.errno === ERRNO.ENOENT) throw new IpvsUnavailableError('still missing after modprobe ip_vs');
        throw e2;
      }
    }
    return new IpvsEngine(t, id, opts);
  }

  private send(r: IpvsRequest, context: string): Promise<NlMsg[]> {
    if (this.closed) return Promise.reject(new Error(`${context}: IPVS engine is closed`));
    return this.t.request(this.familyId, r.flags, r.payload, context);
  }

  /** A control request: kernel refusals become `context: Text (ECODE)[ — hint]`. */
  private async control(r: IpvsRequest, context: string, hints: Partial<Record<number, string>> = {}): Promise<NlMsg[]> {
    try {
      return await this.send(r, context);
    } catch (e) {
      if (e instanceof NetlinkError) {
        const hint = hints[e.errno];
        throw new Error(`${context}: ${errnoText(e.errno)}${e.extMessage ? `: ${e.extMessage}` : ''}${hint ? ` — ${hint}` : ''}`);
      }
      throw e;
    }
  }

  // ---- DataplaneEngine ---------------------------------------------------------------

  async observe(): Promise<TableState> {
    const out: TableState = new Map();
    for (const [k, s] of await this.dump(false)) {
      const dests = new Map<string, DestSpec>();
      for (const [dk, d] of s.dests) dests.set(dk, d.dest);
      out.set(k, { svc: s.svc, dests });
    }
    return out;
  }

  /** Services and destinations with their counters (the kernel refreshes the totals every 2 s). */
  snapshot(): Promise<IpvsSnapshot> {
    return this.dump(true);
  }

  /** One service dump, then one destination dump per service: the kernel runs one dump per socket at a time. */
  private async dump(withStats: boolean): Promise<IpvsSnapshot> {
    const out: IpvsSnapshot = new Map();
    const todo: { wire: WireService; s: IpvsServiceSnapshot }[] = [];
    for (const m of await this.control(enc.dumpServices(), 'list IPVS services')) {
      const d = decodeServiceMsg(m.payload, withStats);
      const s: IpvsServiceSnapshot = { svc: d.svc, stats: d.stats, dests: new Map() };
      out.set(d.svc.key, s);
      todo.push({ wire: d.wire, s });
    }
    for (const { wire, s } of todo) {
      for (const m of await this.control(enc.dumpDests(wire), `list destinations of ${s.svc.key}`)) {
        const d = decodeDestMsg(m.payload, s.svc.family, withStats);
        s.dests.set(d.dest.key, { dest: d.dest, stats: d.stats });
      }
    }
    return out;
  }

  /**
   * Apply operations in order. Each one is its own request with its own outcome; a refused one
   * is reported with the kernel's reason and the rest still go in (IPVS has no transactions).
   */
  async apply(ops: Op[], mode: ApplyMode = {}): Promise<ApplyResult> {
    const batch = Math.max(1, Math.floor(mode.batch ?? this.batch));
    const window = Math.max(1, Math.floor(mode.window ?? this.window));
    const errors: (string | undefined)[] = new Array(ops.length);
    const reqs: { i: number; req: IpvsRequest }[] = [];
    ops.forEach((op, i) => {
      try {
        reqs.push({ i, req: opRequest(op) });
      } catch (e) {
        errors[i] = `${opContext(op)}: ${(e as Error).message}`;
      }
    });
    const fail = (i: number) => (e: unknown) => {
      const op = ops[i]!;
      errors[i] = e instanceof NetlinkError ? describeOpFailure(op, e.errno, e.extMessage) : `${opContext(op)}: ${(e as Error).message}`;
    };
    if (batch > 1 && this.t.requestBatch) await this.sendBatched(ops, reqs, batch, fail);
    else await this.sendWindowed(ops, reqs, window, fail);
    const failed: ApplyResult['failed'] = [];
    for (let i = 0; i < ops.length; i++) if (errors[i] !== undefined) failed.push({ op: ops[i]!, error: errors[i]! });
    return { applied: ops.length - failed.length, failed };
  }

  private async sendWindowed(ops: Op[], reqs: { i: number; req: IpvsRequest }[], window: number, fail: (i: number) => (e: unknown) => void): Promise<void> {
    let inFlight = 0;
    let wake: (() => void) | null = null;
    const pending: Promise<void>[] = [];
    for (const { i, req } of reqs) {
      while (inFlight >= window) await new Promise<void>((r) => (wake = r));
      inFlight++;
      pending.push(
        this.send(req, opContext(ops[i]!))
          .then(() => undefined, fail(i))
          .finally(() => {
            inFlight--;
            const w = wake;
            wake = null;
            w?.();
          }),
      );
    }
    await Promise.all(pending);
  }

  private async sendBatched(ops: Op[], reqs: { i: number; req: IpvsRequest }[], batch: number, fail: (i: number) => (e: unknown) => void): Promise<void> {
    for (let k = 0; k < reqs.length; k += batch) {
      const chunk = reqs.slice(k, k + batch);
      if (this.closed) {
        for (const { i } of chunk) fail(i)(new Error('IPVS engine is closed'));
        continue;
      }
      const answers = this.t.requestBatch!(
        this.familyId,
        chunk.map(({ i, req }) => ({ flags: req.flags, payload: req.payload, context: opContext(ops[i]!) })),
      );
      await Promise.all(answers.map((p, j) => p.then(() => undefined, fail(chunk[j]!.i))));
    }
  }

  limitations(svc: ServiceSpec, dests: DestSpec[]): string[] {
    return ipvsLimitations(svc, dests);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.t.close();
  }

  // ---- IPVS-only controls -------------------------------------------------------------------

  /** Connection timeouts (ipvsadm --set). Unset fields stay as they are. */
  async setTimeouts(t: LvsTimeouts): Promise<void> {
    const s = (ms: number | undefined): number => (ms === undefined ? 0 : Math.max(1, Math.ceil(ms / 1000)));
    await this.control(enc.setConfig({ tcp: s(t.tcpMs), tcpFin: s(t.tcpFinMs), udp: s(t.udpMs) }), 'set IPVS timeouts');
  }

  async getTimeouts(): Promise<Required<LvsTimeouts>> {
    const first = (await this.control(enc.getConfig(), 'get IPVS timeouts'))[0];
    if (!first) throw new Error('get IPVS timeouts: empty answer');
    const t = decodeConfigMsg(first.payload);
    return { tcpMs: t.tcp * 1000, tcpFinMs: t.tcpFin * 1000, udpMs: t.udp * 1000 };
  }

  async startDaemon(d: SyncDaemonSpec): Promise<void> {
    const ctx = `start ${d.state} sync daemon on ${d.interface} (syncid ${d.syncId})`;
    let req: IpvsRequest;
    try {
      req = enc.newDaemon(d);
    } catch (e) {
      throw new Error(`${ctx}: ${(e as Error).message}`);
    }
    await this.control(req, ctx, {
      [ERRNO.EEXIST]: `a ${d.state} sync daemon is already running`,
      [ERRNO.ENODEV]: `no interface ${d.interface}`,
      [ERRNO.EINVAL]: 'bad parameters (maxlen, port, ttl or group) or the interface has no usable address',
    });
  }

  async stopDaemon(state: SyncDaemonSpec['state']): Promise<void> {
    await this.control(enc.delDaemon(state), `stop ${state} sync daemon`, { [ERRNO.ESRCH]: `no ${state} sync daemon is running` });
  }

  async listDaemons(): Promise<SyncDaemonState[]> {
    return (await this.control(enc.dumpDaemons(), 'list sync daemons')).map((m) => decodeDaemonMsg(m.payload));
  }

  async info(): Promise<IpvsInfo> {
    const first = (await this.control(enc.getInfo(), 'get IPVS info'))[0];
    if (!first) throw new Error('get IPVS info: empty answer');
    return decodeInfoMsg(first.payload);
  }

  /** Remove every service in this network namespace (ipvsadm -C). */
  async flush(): Promise<void> {
    await this.control(enc.flush(), 'flush IPVS table');
  }

  /** Zero the counters of one service (and its destinations), or of everything. */
  async zero(svc?: ServiceSpec): Promise<void> {
    await this.control(enc.zero(svc ? serviceToWire(svc) : undefined), svc ? `zero counters of ${svc.key}` : 'zero IPVS counters', {
      [ERRNO.ESRCH]: 'service does not exist',
    });
  }
}

function opRequest(op: Op): IpvsRequest {
  switch (op.op) {
    case 'add-service':
      return enc.newService(serviceToWire(op.svc));
    case 'edit-service':
      return enc.setService(serviceToWire(op.svc));
    case 'del-service':
      return enc.delService(serviceToWire(op.svc));
    case 'add-dest':
      return enc.newDest(serviceToWire(op.svc), destToWire(op.dest));
    case 'edit-dest':
      return enc.setDest(serviceToWire(op.svc), destToWire(op.dest));
    case 'del-dest':
      return enc.delDest(serviceToWire(op.svc), destToWire(op.dest));
    default:
      throw new IpvsEncodeError(`unknown operation ${(op as { op: string }).op}`);
  }
}

/** The sync daemon settings from `global_defs { lvs_sync_daemon ... }` for one role. */
export function syncDaemonSpec(cfg: LvsSyncDaemon, state: SyncDaemonSpec['state'], defaultSyncId = 0): SyncDaemonSpec {
  const d: SyncDaemonSpec = { state, interface: cfg.interface, syncId: cfg.syncId ?? defaultSyncId };
  if (cfg.maxlen !== undefined) d.maxlen = cfg.maxlen;
  if (cfg.group !== undefined) d.group = cfg.group;
  if (cfg.port !== undefined) d.port = cfg.port;
  if (cfg.ttl !== undefined) d.ttl = cfg.ttl;
  return d;
}

function modprobeIpVs(): Promise<void> {
  return new Promise((resolve) => {
    execFile('modprobe', ['ip_vs'], { timeout: 10_000 }, () => resolve());
  });
}
