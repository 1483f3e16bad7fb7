// The lvsd daemon: one process that runs VRRP on its own event loop, supervises the checker
// process, and programs the data plane. Signals: SIGTERM/SIGINT stop gracefully (priority-0
// adverts, VIPs removed, kernel entries we created removed), SIGHUP reloads.
import fs from 'node:fs';
import type { Config } from '../config/model.js';
import type { Logger } from './log.js';
import { VrrpRuntime, type NotifySink, type StateChange } from './vrrp-runtime.js';
import type { RunScript } from './scripts.js';
import { loopSched, setLoopRealtime } from './sched.js';

export interface DaemonOptions {
  log: Logger;
  /** keepalived -P / -C: run only VRRP, or only the checkers and data plane */
  vrrp: boolean;
  lvs: boolean;
  /** keepalived -V */
  keepVipsOnStop: boolean;
  /** keepalived -I */
  keepIpvsOnStop: boolean;
  pidFile?: string;
  notify: NotifySink;
  /** runs vrrp_script checks */
  runScript?: RunScript;
  /** extra component started after VRRP (the LVS side), given the VRRP state stream */
  lvsFactory?: (cfg: Config, d: Daemon) => DaemonComponent;
  /**
   * Run the event loop (VRRP timers and adverts) at SCHED_RR with this priority (1..99) when
   * there are VRRP instances; 0/undefined: normal scheduling. A refusal (not root) is a warning.
   */
  vrrpRealtimePriority?: number;
}

export interface DaemonComponent {
  start(): Promise<void>;
  stop(opts: { keep: boolean }): Promise<void>;
  onVrrpState?(c: StateChange): void;
  status?(): Record<string, unknown>;
}

export class Daemon {
  vrrp: VrrpRuntime | null = null;
  lvs: DaemonComponent | null = null;
  private stopped: Promise<void> | null = null;

  constructor(
    public cfg: Config,
    readonly opts: DaemonOptions,
  ) {}

  async start(): Promise<void> {
    const { log } = this.opts;
    if (this.opts.pidFile) fs.writeFileSync(this.opts.pidFile, `${process.pid}\n`);
    if (this.opts.vrrp && this.cfg.instances.length) {
      if (this.opts.vrrpRealtimePriority) this.setRealtime(this.opts.vrrpRealtimePriority);
      this.vrrp = new VrrpRuntime(this.cfg, {
        log: log.child({ sub: 'vrrp' }),
        notify: this.opts.notify,
        keepVipsOnStop: this.opts.keepVipsOnStop,
        ...(this.opts.runScript ? { runScript: this.opts.runScript } : {}),
        onStateChange: (c) => this.lvs?.onVrrpState?.(c),
      });
      await this.vrrp.start();
    }
    if (this.opts.lvs && this.opts.lvsFactory && this.cfg.virtualServers.length) {
      this.lvs = this.opts.lvsFactory(this.cfg, this);
      await this.lvs.start();
    }
    log.info({ event: 'started', instances: this.cfg.instances.length, virtualServers: this.cfg.virtualServers.length }, 'lvsd started');
  }

  private setRealtime(priority: number): void {
    const { log } = this.opts;
    try {
      setLoopRealtime(priority);
      const s = loopSched();
      log.info({ event: 'sched', ...s }, `event loop scheduling: ${s.policy} priority ${s.priority}`);
    } catch (e) {
      log.warn({ event: 'sched', err: (e as Error).message }, 'cannot give the VRRP event loop realtime priority; CPU load may delay adverts');
    }
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      const { log } = this.opts;
      // VRRP first: the backup takes over after Skew_Time, while we still forward. The
      // priority-0 adverts leave synchronously inside stop(), before any log line is written
      const vrrpStopped = this.vrrp?.stop();
      log.info({ event: 'stopping' }, 'lvsd stopping');
      await vrrpStopped?.catch((e) => log.error({ err: (e as Error).message }, 'VRRP shutdown failed'));
      await this.lvs?.stop({ keep: this.opts.keepIpvsOnStop }).catch((e) => log.error({ err: (e as Error).message }, 'LVS shutdown failed'));
      if (this.opts.pidFile) fs.rmSync(this.opts.pidFile, { force: true });
      log.info({ event: 'stopped' }, 'lvsd stopped');
    })();
    return this.stopped;
  }

  status(): Record<string, unknown> {
    return { pid: process.pid, vrrp: this.vrrp?.status() ?? null, lvs: this.lvs?.status?.() ?? null };
  }
}
