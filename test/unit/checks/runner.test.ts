import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FileCheck, HttpCheck, MiscCheck } from '../../../src/config/model.js';
import type { CheckedRealServer, CheckerInput } from '../../../checks/input.js';
import { CheckRunner } from '../../../checks/runner.js';
import type { RsTransition } from '../../../checks/scheduler.js';
import { common, httpCheck, httpServer, loc, target, tmpDir, url } from './helpers.js';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function input(realServers: CheckedRealServer[], trackFiles: CheckerInput['settings']['trackFiles'] = {}): CheckerInput {
  return { realServers, settings: { enableScriptSecurity: false, trackFiles, logAllFailures: false } };
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await wait(10);
  }
}

describe('CheckRunner (real timers and sockets)', () => {
  const dir = tmpDir();
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('probes a real server shared by two virtual servers once per delay_loop, and fans the result out', async () => {
    let healthy = true;
    const srv = await httpServer((_req, res) => {
      res.statusCode = healthy ? 200 : 500;
      res.end();
    });
    const events: RsTransition[] = [];
    const runner = new CheckRunner({ onRs: (t) => events.push(t) });
    try {
      const chk: HttpCheck = httpCheck({ ...common({ delayLoopMs: 200, retry: 0, warmupMs: 0 }), urls: [url()] });
      runner.load(
        input([
          { rsId: 'vs:A/rs:1', vsId: 'vs:A', target: target(srv.port), weight: 1, checkers: [chk] },
          { rsId: 'vs:B/rs:1', vsId: 'vs:B', target: target(srv.port), weight: 1, checkers: [{ ...chk, loc: { ...loc, line: 99 } }] },
        ]),
      );
      expect(events.map((e) => [e.rsId, e.up, e.initial])).toEqual([['vs:A/rs:1', true, true], ['vs:B/rs:1', true, true]]);
      await wait(1050);
      // one probe stream: ~6 requests in 1.05 s at 200 ms, not ~12
      expect(srv.requests.length).toBeGreaterThanOrEqual(2);
      expect(srv.requests.length).toBeLessThanOrEqual(7);
      healthy = false;
      await until(() => events.length === 4);
      expect(events.slice(2).map((e) => [e.rsId, e.up, e.reason])).toEqual([
        ['vs:A/rs:1', false, expect.stringContaining('HTTP status 500')],
        ['vs:B/rs:1', false, expect.stringContaining('HTTP status 500')],
      ]);
      expect(runner.stats()).toMatchObject({ checkers: 1 });
    } finally {
      await runner.stop();
      await srv.close();
    }
  });

  it('re-reads a FILE_CHECK file as soon as it changes', async () => {
    const file = path.join(dir, 'weight');
    fs.writeFileSync(file, '0\n');
    const fc: FileCheck = { ...common({ delayLoopMs: 60_000 }), type: 'FILE_CHECK', trackFile: 't', dynamic: false, weightReverse: false };
    const events: RsTransition[] = [];
    const runner = new CheckRunner({ onRs: (t) => events.push(t) });
    try {
      runner.load(input([{ rsId: 'vs/rs:1', vsId: 'vs', target: target(80), weight: 1, checkers: [fc] }], { t: { name: 't', file, weight: 0, weightReverse: false, loc } }));
      await wait(100);
      fs.writeFileSync(file, '1\n');
      await until(() => events.some((e) => !e.up), 2000);
      fs.writeFileSync(file, '0\n');
      await until(() => events.filter((e) => e.up).length === 2, 2000);
    } finally {
      await runner.stop();
    }
  });

  it('stop() ends probes in flight: a hung MISC_CHECK script is killed', async () => {
    const pidFile = path.join(dir, 'pid');
    const script = path.join(dir, 'hang.sh');
    fs.writeFileSync(script, `#!/bin/sh\necho $$ > ${pidFile}\nexec sleep 60\n`);
    fs.chmodSync(script, 0o755);
    const misc: MiscCheck = { ...common({ delayLoopMs: 60_000 }), type: 'MISC_CHECK', path: script, timeoutMs: 60_000, dynamic: false };
    const runner = new CheckRunner({ onRs: () => {} });
    runner.load(input([{ rsId: 'vs/rs:1', vsId: 'vs', target: target(80), weight: 1, checkers: [misc] }]));
    await until(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() !== '');
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(runner.stats().inFlight).toBe(1);
    await runner.stop();
    await until(() => {
      try {
        return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
      } catch {
        return true;
      }
    });
  });
});

describe('default concurrency', () => {
  it('is 2048, capped at half the open-file limit', async () => {
    const { defaultConcurrency } = await import('../../../checks/runner.js');
    expect(defaultConcurrency('Max open files            1024                 4096                 files\n')).toBe(512);
    expect(defaultConcurrency('Max open files            1048576              1048576              files\n')).toBe(2048);
    expect(defaultConcurrency('Max open files            unlimited            unlimited            files\n')).toBe(2048);
    expect(defaultConcurrency('garbage')).toBe(2048);
  });
});
