// Child side of ScriptHost (script-host.ts): a small process that forks the scripts.
//
// Why a separate process: spawn() is synchronous in Node (fork + wait for exec), and fork()
// copies the parent's page tables, so its cost grows with the daemon's memory: measured here
// 0.8 ms at 50 MB RSS, 16 ms at 580 MB, 97 ms at 2.1 GB per spawn. In the daemon that would
// stall VRRP timers on every vrrp_script run and on every notify burst. This helper stays small,
// so its spawns are cheap, and none of them block the daemon's event loop.
// It also gives scripts keepalived's PR_SET_PDEATHSIG behaviour: when the daemon goes away (the
// IPC channel closes), every running script's process group gets SIGTERM, then SIGKILL.
import { onOrphanSignal } from './child-signals.js';
import { fileURLToPath } from 'node:url';
import type { HelperInit, FromHelper, ToHelper } from './script-ipc.js';
import { ScriptRunner } from './scripts.js';

function send(m: FromHelper): void {
  if (process.connected) process.send!(m, (err: Error | null) => void err);
}

export function serve(): void {
  let runner: ScriptRunner | null = null;
  const aborts = new Map<number, AbortController>();
  let grace = 2000;
  let ending = false;

  const end = (): void => {
    if (ending) return;
    ending = true;
    runner?.killAll('SIGTERM');
    const poll = setInterval(() => {
      if (!runner || runner.running === 0) process.exit(0);
    }, 20);
    setTimeout(() => {
      clearInterval(poll);
      runner?.killAll('SIGKILL');
      process.exit(0);
    }, grace);
  };

  process.on('message', (m: ToHelper) => {
    switch (m.t) {
      case 'init': {
        const o: HelperInit = m.opts;
        grace = o.killGraceMs ?? 2000;
        runner = new ScriptRunner({ ...o, log: (level, msg) => send({ t: 'log', level, msg }) });
        send({ t: 'ready', pid: process.pid });
        return;
      }
      case 'run': {
        if (!runner || ending) {
          send({ t: 'result', id: m.id, result: { code: null, signal: null, timedOut: false, durationMs: 0, error: 'script helper not ready' } });
          return;
        }
        const ac = new AbortController();
        aborts.set(m.id, ac);
        void runner
          .run(m.spec, { signal: ac.signal, onSpawn: (pid) => send({ t: 'spawned', id: m.id, pid }) })
          .then((result) => {
            aborts.delete(m.id);
            send({ t: 'result', id: m.id, result });
          });
        return;
      }
      case 'abort':
        aborts.get(m.id)?.abort();
        return;
      case 'killAll':
        runner?.killAll(m.signal);
        return;
      case 'stop':
        end();
        return;
    }
  });
  // the daemon exited or closed the channel: do not leave its scripts running
  process.on('disconnect', end);
  // signals to the whole group are the daemon's (see child-signals.ts)
  onOrphanSignal(end);
  process.on('uncaughtException', (e) => send({ t: 'log', level: 'error', msg: `script helper: ${e.stack ?? e.message}` }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.send) serve();
