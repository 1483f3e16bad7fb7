// CheckerHost: checks in a forked child (dist/checks/process-main.js) or a worker thread,
// restarts on crash or hang without flapping real servers, clean shutdown.
import os from 'node:os';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CheckerHost, type RestartInfo } from '../../../src/daemon/checker-host.js';
import type { CheckerInput } from '../../../checks/input.js';
import type { RsTransition } from '../../../checks/scheduler.js';
import { ensureBuilt } from '../../helpers/netns.js';
import { common, httpCheck, httpServer, target, url } from './helpers.js';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`);
    await wait(10);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function inputFor(ports: number[], delayLoopMs = 200): CheckerInput {
  return {
    realServers: ports.map((port, i) => ({
      rsId: `vs:TCP:[10.0.0.1]:80/rs:[127.0.0.1]:${port}`,
      vsId: 'vs:TCP:[10.0.0.1]:80',
      target: target(port),
      weight: 1,
      checkers: [httpCheck({ ...common({ delayLoopMs, retry: 0, warmupMs: 0, connectTimeoutMs: 500, alpha: i === 0 }), urls: [url()] })],
    })),
    settings: { enableScriptSecurity: false, trackFiles: {}, logAllFailures: false },
  };
}

const hosts: CheckerHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.stop();
});

describe.each(['process', 'worker'] as const)('CheckerHost (%s isolation)', (isolation) => {
  beforeAll(async () => {
    await ensureBuilt(['dist/checks/process-main.js']);
  }, 120_000);

  it('reports initial states and transitions from the child', async () => {
    let healthy = true;
    const srv = await httpServer((_q, res) => {
      res.statusCode = healthy ? 200 : 503;
      res.end();
    });
    const host = new CheckerHost({ isolation, heartbeatIntervalMs: 200 });
    hosts.push(host);
    const events: RsTransition[] = [];
    host.on('transition', (t) => events.push(t));
    try {
      host.start(inputFor([srv.port]));
      // alpha: initial down, then up after the first successful probe
      await until(() => events.length >= 2, 5000, 'initial + up');
      expect(events.slice(0, 2).map((e) => [e.up, e.initial])).toEqual([[false, true], [true, false]]);
      healthy = false;
      await until(() => events.length >= 3, 5000, 'down');
      expect(events[2]).toMatchObject({ up: false, initial: false, reason: expect.stringContaining('HTTP status 503') });
      expect(host.state(events[0]!.rsId)).toMatchObject({ up: false });
      await until(() => host.stats !== null, 3000, 'heartbeat');
      expect(host.stats!.checkers).toBe(1);
      // the checker process yields to the daemon under CPU pressure (nice +5)
      if (isolation === 'process') expect(os.getPriority(host.childPid!)).toBe(os.getPriority(process.pid) + 5);
    } finally {
      await srv.close();
    }
  });

  it('reload: new real servers report their initial state, removed ones are forgotten', async () => {
    const srv = await httpServer((_q, res) => res.end());
    const host = new CheckerHost({ isolation });
    hosts.push(host);
    const events: RsTransition[] = [];
    host.on('transition', (t) => events.push(t));
    try {
      const one = inputFor([srv.port]);
      host.start(one);
      await until(() => events.some((e) => e.up));
      const two = inputFor([srv.port]);
      two.realServers.push({ ...two.realServers[0]!, rsId: 'vs:other/rs:x', vsId: 'vs:other' });
      host.update(two);
      await until(() => events.some((e) => e.rsId === 'vs:other/rs:x'));
      host.update({ ...two, realServers: [two.realServers[1]!] });
      await wait(100);
      expect(host.states().map((s) => s.rsId)).toEqual(['vs:other/rs:x']);
    } finally {
      await srv.close();
    }
  });

  it('stops cleanly', async () => {
    const host = new CheckerHost({ isolation });
    const srv = await httpServer((_q, res) => res.end());
    try {
      host.start(inputFor([srv.port]));
      await until(() => host.stats !== null);
      const pid = host.stats!.pid;
      const t0 = Date.now();
      await host.stop();
      expect(Date.now() - t0).toBeLessThan(3000);
      if (isolation === 'process') await until(() => !alive(pid), 2000, 'child gone');
      expect(host.restartCount).toBe(0);
    } finally {
      await srv.close();
    }
  });
});

describe('CheckerHost recovery (process isolation)', () => {
  beforeAll(async () => {
    await ensureBuilt(['dist/checks/process-main.js']);
  }, 120_000);

  it('restarts a crashed child with backoff and keeps the states (no flap)', async () => {
    let healthy = true;
    const srv = await httpServer((_q, res) => {
      res.statusCode = healthy ? 200 : 500;
      res.end();
    });
    const host = new CheckerHost({ heartbeatIntervalMs: 200, backoffInitialMs: 100 });
    hosts.push(host);
    const events: RsTransition[] = [];
    const restarts: RestartInfo[] = [];
    host.on('transition', (t) => events.push(t));
    host.on('restart', (r) => restarts.push(r));
    try {
      host.start(inputFor([srv.port]));
      await until(() => events.length === 2 && host.childPid !== undefined);
      const pid1 = host.childPid!;
      process.kill(pid1, 'SIGKILL');
      await until(() => restarts.length === 1, 3000, 'restart');
      expect(restarts[0]).toMatchObject({ reason: 'killed by SIGKILL', attempt: 1, delayMs: 100 });
      await until(() => host.childPid !== undefined && host.childPid !== pid1 && host.stats?.pid === host.childPid, 5000, 'new child');
      // the new child resumed from the last states: nothing was re-announced
      await wait(600);
      expect(events).toHaveLength(2);
      expect(host.state(events[0]!.rsId)).toMatchObject({ up: true });
      // and it keeps checking
      healthy = false;
      await until(() => events.length === 3, 5000, 'down after restart');
      expect(events[2]).toMatchObject({ up: false });
      // a second crash soon after backs off longer
      process.kill(host.childPid!, 'SIGKILL');
      await until(() => restarts.length === 2);
      expect(restarts[1]!.delayMs).toBe(200);
    } finally {
      await srv.close();
    }
  });

  it('kills and restarts a hung child (no heartbeat), without flapping', async () => {
    const srv = await httpServer((_q, res) => res.end());
    const host = new CheckerHost({ heartbeatIntervalMs: 100, heartbeatTimeoutMs: 600, backoffInitialMs: 50 });
    hosts.push(host);
    const events: RsTransition[] = [];
    const restarts: RestartInfo[] = [];
    host.on('transition', (t) => events.push(t));
    host.on('restart', (r) => restarts.push(r));
    try {
      host.start(inputFor([srv.port]));
      await until(() => events.length === 2 && host.childPid !== undefined);
      const pid1 = host.childPid!;
      process.kill(pid1, 'SIGSTOP');
      await until(() => restarts.length === 1, 4000, 'hang detected');
      expect(alive(pid1)).toBe(false);
      await until(() => host.stats?.pid !== undefined && host.stats.pid !== pid1, 5000, 'new child heartbeat');
      await wait(300);
      expect(events.map((e) => e.up)).toEqual([false, true]);
    } finally {
      await srv.close();
    }
  });

  it('keeps running when the child cannot start (bad entry) and retries', async () => {
    const host = new CheckerHost({ entry: '/nonexistent/process-main.js', backoffInitialMs: 50, backoffMaxMs: 100 });
    hosts.push(host);
    const restarts: RestartInfo[] = [];
    host.on('restart', (r) => restarts.push(r));
    host.start(inputFor([1]));
    await until(() => restarts.length >= 2, 5000, 'retries');
    expect(restarts[1]!.delayMs).toBe(100);
  });
});
