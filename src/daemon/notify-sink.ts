// Where VRRP and LVS notifications go: scripts through the ordered per-key queue (so a
// notify_backup never overtakes the notify_master before it), lines to the notify FIFOs.
import type { Config } from '../config/model.js';
import { NOTIFY_TIMEOUT_MS, type ScriptSpec } from './scripts.js';
import { ScriptHost } from './script-host.js';
import { ScriptQueue } from './script-queue.js';
import { NotifyFifos } from './fifo.js';
import type { Logger } from './log.js';
import type { NotifySink } from './vrrp-runtime.js';

export class NotifyHub implements NotifySink {
  private constructor(
    /** scripts are spawned by a small helper process: a spawn() from the daemon would block its event loop */
    readonly runner: ScriptHost,
    private readonly queue: ScriptQueue,
    private readonly fifos: NotifyFifos,
    private readonly log: Logger,
  ) {}

  static async create(cfg: Config, log: Logger): Promise<NotifyHub> {
    const logFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string): void => log[level](msg);
    const runner = new ScriptHost({
      enableScriptSecurity: cfg.global.enableScriptSecurity,
      ...(cfg.global.scriptUser ? { scriptUser: cfg.global.scriptUser } : {}),
      log: logFn,
    });
    // start while the daemon is still small: the helper's own fork is the last expensive spawn
    await runner.start();
    const queue = new ScriptQueue((spec) => runner.run(spec), { log: logFn });
    const fifos = await NotifyFifos.open(cfg.global, { log: logFn, runner });
    return new NotifyHub(runner, queue, fifos, log);
  }

  script(key: string, command: string, args: string[], user: { user: string; group?: string } | undefined, timeoutMs?: number): void {
    const spec: ScriptSpec = { command, args, timeoutMs: timeoutMs ?? NOTIFY_TIMEOUT_MS, ...(user ? { user } : {}) };
    void this.queue.enqueue(key, [spec]).then((o) => {
      if (o.status === 'dropped') this.log.warn({ key, command }, 'notify script dropped: an older one is stuck');
    });
  }

  fifo(line: string, channel: 'vrrp' | 'lvs'): void {
    if (channel === 'vrrp') this.fifos.vrrp(line);
    else this.fifos.lvs(line);
  }

  async drain(timeoutMs: number): Promise<void> {
    await Promise.race([this.queue.drain(), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  close(): void {
    void this.fifos.close();
    void this.runner.close();
  }
}

export function makeNotifySink(cfg: Config, log: Logger): Promise<NotifyHub> {
  return NotifyHub.create(cfg, log);
}
