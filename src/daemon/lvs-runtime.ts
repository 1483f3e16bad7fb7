// The LVS side of the daemon: health checks (in their own process) feed the virtual-server
// manager, whose desired table the reconciler keeps in the kernel (IPVS or nftables).
// Also drives the IPVS sync daemon from the VRRP state of the instance named by
// lvs_sync_daemon, and applies lvs_timeouts.
import type { Config } from '../config/model.js';
import type { DataplaneEngine } from '../dataplane/types.js';
import { LvsManager } from '../lvs/manager.js';
import type { LvsAction } from '../lvs/types.js';
import { Reconciler } from '../dataplane/reconciler.js';
import { MemoryEngine } from '../dataplane/memory.js';
import { IpvsEngine, IpvsUnavailableError, syncDaemonSpec } from '../dataplane/ipvs/engine.js';
import { NftablesEngine, nftablesSysctls } from '../dataplane/nftables/engine.js';
import { writeSysctl, readSysctl } from '../net/interfaces.js';
import { CheckerHost, checkerInputFromConfig } from './checker-host.js';
import type { Daemon, DaemonComponent } from './daemon.js';
import type { Logger } from './log.js';
import type { NotifySink, StateChange } from './vrrp-runtime.js';

export async function openEngine(cfg: Config, log: Logger): Promise<DataplaneEngine> {
  const want = cfg.lvsd.dataplane;
  if (want === 'none') {
    log.warn({ event: 'dataplane', engine: 'none' }, 'dataplane none: the kernel load balancer is not programmed');
    return new MemoryEngine();
  }
  if (want === 'ipvs' || want === 'auto') {
    try {
      const e = await IpvsEngine.open();
      log.info({ event: 'dataplane', engine: 'ipvs' }, 'programming Linux IPVS over generic netlink');
      return e;
    } catch (e) {
      if (want === 'ipvs' || !(e instanceof IpvsUnavailableError)) throw e;
      log.info({ event: 'dataplane', engine: 'nftables', why: (e as Error).message }, 'this kernel has no IPVS; using the nftables engine');
    }
  }
  const drDevice = cfg.instances[0]?.interface;
  return new NftablesEngine({
    table: cfg.lvsd.nftTable,
    ...(drDevice ? { drDevice } : {}),
    onWarning: (msg) => log.warn({ sub: 'nftables' }, msg),
  });
}

export class LvsRuntime implements DaemonComponent {
  private engine: DataplaneEngine | null = null;
  private manager: LvsManager;
  private reconciler: Reconciler | null = null;
  private checkers: CheckerHost | null = null;
  private syncRole: 'master' | 'backup' | 'both' | null = null;
  private macTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly cfg: Config,
    private readonly log: Logger,
    private readonly notify: NotifySink,
  ) {
    this.manager = new LvsManager(cfg);
  }

  async start(): Promise<void> {
    const cfg = this.cfg;
    const now = performance.now();
    this.engine = await openEngine(cfg, this.log);
    if (cfg.global.lvsFlush) await this.flushAll('lvs_flush');
    if (this.engine instanceof IpvsEngine && cfg.global.lvsTimeouts) await this.engine.setTimeouts(cfg.global.lvsTimeouts);
    // the manager's first table is applied by the reconciler's first pass, which adopts what
    // is already in the kernel instead of flushing it
    this.handle(this.manager.start(now).filter((a) => a.kind !== 'ops'));
    if (this.engine instanceof NftablesEngine) await this.setSysctls();
    this.reconciler = new Reconciler({
      engine: this.engine,
      intervalMs: cfg.lvsd.reconcileIntervalMs,
      log: (level, msg, fields) => this.log[level]({ sub: 'reconcile', ...(fields ?? {}) }, msg),
    });
    this.reconciler.setDesired(this.manager.desired());
    const rep = await this.reconciler.start();
    this.log.info({ event: 'reconcile', applied: rep.applied, adopted: rep.adopted.length, failed: rep.failed.length }, 'data plane programmed');
    await this.startSyncDaemon();
    if (this.engine instanceof NftablesEngine) this.watchMacs(this.engine);
    this.checkers = new CheckerHost({
      isolation: cfg.lvsd.checkerIsolation,
      log: (level, msg) => this.log[level]({ sub: 'checks' }, msg),
    });
    // one manager call per report of the checker: the pool is recomputed once, not per real server
    this.checkers.on('transitions', (ts) => this.handle(this.manager.onChecks(ts, performance.now())));
    this.checkers.on('restart', (r) => this.log.warn({ sub: 'checks', ...r }, 'checker process restarted'));
    this.checkers.start(checkerInputFromConfig(cfg));
  }

  /** DR rewrites to real-server MACs: a replaced NIC must be noticed (IPVS lets the kernel ARP) */
  private watchMacs(engine: NftablesEngine): void {
    this.macTimer = setInterval(() => {
      void engine.refreshMacs().then((changed) => {
        if (!changed.length) return;
        this.log.info({ sub: 'dataplane', changed }, 'real-server MACs changed; reprogramming DR');
        void this.reconciler?.reconcileNow();
      });
    }, 30_000);
    this.macTimer.unref();
  }

  /** lvs_flush / lvs_flush_on_stop: the whole IPVS table, or (nftables) lvsd's own tables only */
  private async flushAll(why: string): Promise<void> {
    const e = this.engine;
    try {
      if (e instanceof IpvsEngine) await e.flush();
      else if (e instanceof NftablesEngine) await e.destroy();
      this.log.info({ event: 'flush', why, engine: e?.name }, `${why}: flushed the ${e?.name} load balancer table`);
    } catch (err) {
      this.log.error({ event: 'flush', why, err: (err as Error).message }, `${why} failed`);
    }
  }

  private async setSysctls(): Promise<void> {
    for (const need of nftablesSysctls(this.manager.desired().values())) {
      try {
        if ((await readSysctl(need.key)).trim() !== need.value) {
          await writeSysctl(need.key, need.value);
          this.log.info({ sysctl: need.key, value: need.value }, `set ${need.key}=${need.value}: ${need.reason}`);
        }
      } catch (e) {
        this.log.warn({ sysctl: need.key, err: (e as Error).message }, `cannot set ${need.key}: ${need.reason}`);
      }
    }
  }

  private handle(actions: readonly LvsAction[]): void {
    for (const a of actions) {
      switch (a.kind) {
        case 'ops':
          if (a.ops.length && this.reconciler) {
            void this.reconciler.push(this.manager.desired(), a.ops).then((r) => {
              for (const f of r.failed) this.log.error({ sub: 'dataplane', err: f.error }, 'kernel refused an operation; the reconciler retries it');
            });
          }
          break;
        case 'script':
          this.notify.script(`vs:${a.vsId}`, a.cmd, a.args, undefined);
          break;
        case 'fifo':
          this.notify.fifo(a.line, 'lvs');
          break;
        case 'log':
          this.log[a.level]({ sub: 'lvs', ...(a.vsId ? { vs: a.vsId } : {}), ...(a.rsId ? { rs: a.rsId } : {}) }, a.msg);
          break;
      }
    }
  }

  // ---- IPVS sync daemon -------------------------------------------------------------

  private async startSyncDaemon(): Promise<void> {
    const d = this.cfg.global.lvsSyncDaemon;
    if (!d || !(this.engine instanceof IpvsEngine)) {
      if (d) this.log.warn({ event: 'syncd' }, 'lvs_sync_daemon needs IPVS; not started with the nftables engine');
      return;
    }
    // without a VRRP instance both daemons run all the time (keepalived)
    if (d.instance === undefined) await this.setSyncRole('both');
    else await this.setSyncRole('backup');
  }

  private async setSyncRole(role: 'master' | 'backup' | 'both'): Promise<void> {
    const d = this.cfg.global.lvsSyncDaemon;
    const eng = this.engine;
    if (!d || !(eng instanceof IpvsEngine) || this.syncRole === role) return;
    try {
      const want = role === 'both' ? (['master', 'backup'] as const) : ([role] as const);
      for (const r of ['master', 'backup'] as const) {
        if (!(want as readonly string[]).includes(r)) await eng.stopDaemon(r).catch(() => undefined);
      }
      for (const r of want) await eng.startDaemon(syncDaemonSpec(d, r));
      this.syncRole = role;
      this.log.info({ event: 'syncd', role }, `IPVS sync daemon: ${role}`);
    } catch (e) {
      this.log.error({ event: 'syncd', role, err: (e as Error).message }, 'cannot switch the IPVS sync daemon');
    }
  }

  onVrrpState(c: StateChange): void {
    const d = this.cfg.global.lvsSyncDaemon;
    if (!d || d.instance !== c.instance) return;
    void this.setSyncRole(c.to === 'MASTER' ? 'master' : 'backup');
  }

  async stop(opts: { keep: boolean }): Promise<void> {
    if (this.macTimer) clearInterval(this.macTimer);
    this.handle(this.manager.shutdown(performance.now()).filter((a) => a.kind !== 'ops'));
    await this.checkers?.stop();
    if (this.reconciler) {
      const rep = await this.reconciler.shutdown({ keep: opts.keep });
      this.log.info({ event: 'reconcile', removed: rep.applied, kept: opts.keep }, opts.keep ? 'left the data plane in place (-I)' : 'removed what lvsd created from the data plane');
    }
    if (!opts.keep) await this.flushOnStop();
    if (this.engine instanceof IpvsEngine && this.syncRole && !opts.keep) {
      for (const r of ['master', 'backup'] as const) await this.engine.stopDaemon(r).catch(() => undefined);
    }
    await this.engine?.close();
  }

  /**
   * keepalived's lvs_flush_on_stop: 'all' empties the table; 'vs' also removes configured virtual
   * servers lvsd adopted rather than created. With nftables an emptied table of ours goes too.
   */
  private async flushOnStop(): Promise<void> {
    const e = this.engine;
    if (!e) return;
    const mode = this.cfg.global.lvsFlushOnStop;
    if (mode === 'all') return this.flushAll('lvs_flush_on_stop');
    try {
      const kernel = await e.observe();
      if (mode === 'vs') {
        const ops = [...this.manager.desired().keys()].filter((k) => kernel.has(k)).map((k) => ({ op: 'del-service' as const, svc: kernel.get(k)!.svc }));
        if (ops.length) await e.apply(ops);
        for (const o of ops) kernel.delete(o.svc.key);
      }
      if (e instanceof NftablesEngine && kernel.size === 0) await e.destroy();
    } catch (err) {
      this.log.error({ event: 'flush', err: (err as Error).message }, 'cleaning up the data plane at stop failed');
    }
  }

  status(): Record<string, unknown> {
    return { engine: this.engine?.name ?? null, virtualServers: this.manager.status(), ownership: this.reconciler?.ownership() ?? null };
  }
}

export function makeLvsComponent(cfg: Config, d: Daemon): DaemonComponent {
  return new LvsRuntime(cfg, d.opts.log.child({ sub: 'lvs' }), d.opts.notify);
}
