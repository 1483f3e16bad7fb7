// Entry of the checker process (forked by src/daemon/checker-host.ts from dist/) or worker
// thread: runs every health check so that their sockets, scripts and garbage never delay the
// VRRP event loop. Reports transitions in batches, and a heartbeat the parent watches.
import { onOrphanSignal } from '../src/daemon/child-signals.js'; // first: the signal policy holds from the start
import { parentPort } from 'node:worker_threads';
import { setHttpEngine } from './http.js';
import type { ChildStats, FromChild, ToChild } from './ipc.js';
import { CheckRunner } from './runner.js';
import type { CheckerSnapshot, RsTransition } from './scheduler.js';

type Send = (m: FromChild) => void;

function transport(): { send: Send; onMessage: (fn: (m: ToChild) => void) => void; onParentGone: (fn: () => void) => void } {
  if (parentPort) {
    const port = parentPort;
    return {
      send: (m) => port.postMessage(m),
      onMessage: (fn) => port.on('message', fn),
      onParentGone: (fn) => port.on('close', fn),
    };
  }
  if (!process.send) {
    process.stderr.write('checks/process-main: must be started with an IPC channel (fork) or as a worker\n');
    process.exit(2);
  }
  return {
    send: (m) => {
      if (process.connected) process.send!(m);
    },
    onMessage: (fn) => process.on('message', (m) => fn(m as ToChild)),
    // the parent died or closed the channel: stop (keepalived children use PDEATHSIG for this)
    onParentGone: (fn) => process.on('disconnect', fn),
  };
}

const io = transport();
let pendingRs: RsTransition[] = [];
let pendingCheckers: [string, CheckerSnapshot][] = [];
let flushQueued = false;

function flush(): void {
  flushQueued = false;
  if (pendingRs.length === 0 && pendingCheckers.length === 0) return;
  io.send({ t: 'events', rs: pendingRs, checkers: pendingCheckers });
  pendingRs = [];
  pendingCheckers = [];
}

function queue(): void {
  if (!flushQueued) {
    flushQueued = true;
    setImmediate(flush);
  }
}

const runner = new CheckRunner({
  onRs: (t) => {
    pendingRs.push(t);
    queue();
  },
  onChecker: (key, snap) => {
    pendingCheckers.push([key, snap]);
    queue();
  },
  log: (level, msg) => io.send({ t: 'log', level, msg }),
});

let hbTimer: NodeJS.Timeout | null = null;
let hbInterval = 1000;
let hbExpected = 0;

function heartbeat(): void {
  const now = performance.now();
  const lag = Math.max(0, now - hbExpected);
  hbExpected = now + hbInterval;
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  const s = runner.stats();
  const stats: ChildStats = {
    pid: process.pid,
    ...s,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    rssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    loopLagMs: Math.round(lag),
  };
  io.send({ t: 'hb', stats });
}

function startHeartbeat(intervalMs: number): void {
  if (hbTimer && intervalMs === hbInterval) return;
  if (hbTimer) clearInterval(hbTimer);
  hbInterval = intervalMs;
  hbExpected = performance.now() + hbInterval;
  hbTimer = setInterval(heartbeat, hbInterval);
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (hbTimer) clearInterval(hbTimer);
  await runner.stop();
  flush();
  io.send({ t: 'stopped' });
  if (parentPort) parentPort.close();
  else setTimeout(() => process.exit(0), 50);
}

io.onMessage((m) => {
  if (m.t === 'load') {
    if (m.options?.httpEngine) setHttpEngine(m.options.httpEngine);
    startHeartbeat(m.options?.heartbeatIntervalMs ?? 1000);
    runner.load(m.input, m.resume);
    flush();
    io.send({ t: 'snapshot', checkers: runner.checkerSnapshots() });
  } else if (m.t === 'stop') void stop();
});
io.onParentGone(() => void stop());

process.on('uncaughtException', (err) => {
  io.send({ t: 'log', level: 'error', msg: `checker process: uncaught exception: ${err.stack ?? err.message}` });
  // state may be inconsistent: exit and let the parent restart us with the last known states
  setTimeout(() => process.exit(70), 20);
});
process.on('unhandledRejection', (err) => {
  io.send({ t: 'log', level: 'error', msg: `checker process: unhandled rejection: ${(err as Error)?.stack ?? String(err)}` });
});
if (!parentPort) {
  // signals to the whole group are the daemon's (see src/daemon/child-signals.ts)
  onOrphanSignal(() => void stop());
}

io.send({ t: 'ready', pid: process.pid });
startHeartbeat(hbInterval);
