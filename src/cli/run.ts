// `lvsd run -f FILE` (also `lvsd -n -l -D -f FILE`, keepalived's flags): run the director.
import { formatDiagnostic, interfaceExistsOnHost, loadConfig } from '../config/index.js';
import { EXIT_CANNOT_RUN, EXIT_ERRORS_FIXED } from '../config/diagnostics.js';
import { createLogger } from '../daemon/log.js';
import { engineLimitationsFor } from '../dataplane/engine-choice.js';
import { Daemon } from '../daemon/daemon.js';
import { makeNotifySink } from '../daemon/notify-sink.js';
import { makeLvsComponent } from '../daemon/lvs-runtime.js';
import type { Output } from './check.js';

/** SCHED_RR priority of the event loop when root: above every normal task, below kernel IRQ threads (50) */
const VRRP_RT_PRIORITY = 1;

export interface RunOptions {
  file: string;
  configId?: string;
  detail: boolean;
  vrrpOnly: boolean;
  lvsOnly: boolean;
  keepVips: boolean;
  keepIpvs: boolean;
  pidFile?: string;
}

export async function runDaemon(o: RunOptions, io: Output): Promise<number> {
  const res = loadConfig(o.file, {
    ...(o.configId !== undefined ? { configId: o.configId } : {}),
    interfaceExists: interfaceExistsOnHost,
    engineLimitations: engineLimitationsFor(),
  });
  for (const d of res.diagnostics) io.err(formatDiagnostic(d));
  if (!res.config || res.exitCode === EXIT_CANNOT_RUN) {
    io.err('lvsd: the configuration cannot run');
    return EXIT_CANNOT_RUN;
  }
  // stricter than keepalived, which runs a fixed-up configuration: a director should not
  // start on a configuration that does not mean what was written
  if (res.exitCode === EXIT_ERRORS_FIXED) {
    io.err('lvsd: the configuration has errors; not starting (run "lvsd check" for details)');
    return EXIT_ERRORS_FIXED;
  }
  const log = createLogger({ detail: o.detail });
  // vrrp_rt_priority from the config (0 = off), else realtime priority 1 when root
  const rtPriority = res.config.global.vrrpRtPriority ?? (process.getuid?.() === 0 ? VRRP_RT_PRIORITY : 0);
  const cfg = res.config;
  const notify = await makeNotifySink(cfg, log.child({ sub: 'notify' }));
  const daemon = new Daemon(cfg, {
    log,
    vrrp: !o.lvsOnly,
    lvs: !o.vrrpOnly,
    keepVipsOnStop: o.keepVips,
    keepIpvsOnStop: o.keepIpvs,
    ...(o.pidFile ? { pidFile: o.pidFile } : {}),
    notify,
    runScript: (spec) => notify.runner.run(spec),
    lvsFactory: makeLvsComponent,
    // as root, VRRP timers run at realtime priority (keepalived's vrrp_rt_priority): see src/daemon/sched.ts
    ...(rtPriority ? { vrrpRealtimePriority: rtPriority } : {}),
  });
  let exitCode = 0;
  const stop = (sig: string): void => {
    const stopped = daemon.stop(); // first: the priority-0 adverts leave before anything is logged
    log.info({ event: 'signal', signal: sig }, `received ${sig}`);
    void stopped.then(() => {
      notify.close?.();
      process.exit(exitCode);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('uncaughtException', (e) => {
    log.fatal({ err: e.message, stack: e.stack }, 'uncaught exception; stopping');
    exitCode = 1;
    stop('uncaughtException');
  });
  try {
    await daemon.start();
  } catch (e) {
    log.fatal({ err: (e as Error).message }, 'cannot start');
    await daemon.stop();
    return 1;
  }
  // the daemon runs until a signal; keep the event loop alive
  setInterval(() => {}, 1 << 30);
  return new Promise<number>(() => {});
}
