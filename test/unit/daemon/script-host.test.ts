import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, PROJECT_ROOT } from '../../helpers/netns.js';
import { ScriptHost } from '../../../src/daemon/script-host.js';
import { ScriptRunner } from '../../../src/daemon/scripts.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsd-host-'));
const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};
async function waitDead(pid: number, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return !alive(pid);
}
function script(name: string, body: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return p;
}

describe('ScriptHost (scripts forked by a helper process)', () => {
  const logs: string[] = [];
  let host: ScriptHost;

  beforeAll(async () => {
    await ensureBuilt(['dist/src/daemon/script-helper.js', 'dist/src/daemon/script-host.js', 'dist/src/daemon/scripts.js']);
    host = new ScriptHost({ enableScriptSecurity: false, killGraceMs: 300, log: (l, m) => logs.push(`${l} ${m}`) });
    await host.start();
  });
  afterAll(async () => {
    await host?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('same results as the in-process runner: status, arguments, output, errors', async () => {
    const s = script('a.sh', 'echo "$#:$1:$2"; exit 4');
    const pids: number[] = [];
    const r = await host.run({ command: `${s} one`, args: ['two'], timeoutMs: 5000 }, { onSpawn: (p) => pids.push(p) });
    expect(r).toMatchObject({ code: 4, signal: null, timedOut: false, output: '2:one:two\n' });
    expect(pids).toHaveLength(1);
    expect(pids[0]).not.toBe(host.helperPid);
    const missing = await host.run({ command: path.join(dir, 'nope'), timeoutMs: 1000 });
    expect(missing.error).toMatch(/ENOENT/);
  });

  it('timeouts and aborts kill the script in the helper', async () => {
    const s = script('hang.sh', 'sleep 30');
    const t = await host.run({ command: s, timeoutMs: 200 });
    expect(t).toMatchObject({ timedOut: true, signal: 'SIGTERM' });
    const ac = new AbortController();
    let pid = 0;
    const p = host.run({ command: s, timeoutMs: 0 }, { signal: ac.signal, onSpawn: (x) => (pid = x) });
    while (!pid) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    expect((await p).error).toBe('aborted');
    expect(await waitDead(pid)).toBe(true);
  });

  it('spawning never stalls the daemon, even when the daemon is big', async () => {
    // make this process big: fork() cost grows with the parent's memory
    const ballast = Array.from({ length: 300 }, () => Buffer.alloc(1 << 20, 1));
    const s = script('quick.sh', 'exit 0');
    const gapDuring = async (run: () => Promise<unknown>): Promise<number> => {
      let maxGap = 0;
      let last = performance.now();
      const iv = setInterval(() => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
      }, 2);
      await run();
      clearInterval(iv);
      return maxGap;
    };
    const viaHost = await gapDuring(() => Promise.all(Array.from({ length: 30 }, () => host.run({ command: s, timeoutMs: 5000 }))));
    const inline = new ScriptRunner({ enableScriptSecurity: false });
    const inProcess = await gapDuring(() => Promise.all(Array.from({ length: 30 }, () => inline.run({ command: s, timeoutMs: 5000 }))));
    console.log(`max event-loop gap for 30 parallel spawns at ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB RSS: helper ${viaHost.toFixed(1)} ms, in-process ${inProcess.toFixed(1)} ms`);
    expect(ballast.length).toBe(300);
    expect(viaHost).toBeLessThan(100);
  });

  it('a dead helper fails the runs in flight and is restarted on the next run', async () => {
    const s = script('slow.sh', 'sleep 30');
    let pid = 0;
    const p = host.run({ command: s, timeoutMs: 0 }, { onSpawn: (x) => (pid = x) });
    while (!pid) await new Promise((r) => setTimeout(r, 10));
    const old = host.helperPid!;
    process.kill(old, 'SIGKILL');
    expect((await p).error).toBe('script helper exited');
    process.kill(-pid, 'SIGKILL'); // orphaned by the SIGKILLed helper
    const r = await host.run({ command: script('ok.sh', 'exit 0'), timeoutMs: 5000 });
    expect(r.code).toBe(0);
    expect(host.helperPid).not.toBe(old);
    expect(host.stats).toMatchObject({ helperStarts: 2, helperDeaths: 1 });
    expect(logs.some((l) => l.startsWith('error') && l.includes('script helper exited'))).toBe(true);
  });

  it('when the daemon dies, the helper kills its running scripts (keepalived: PR_SET_PDEATHSIG)', async () => {
    const parent = spawn(process.execPath, [path.join(PROJECT_ROOT, 'test/unit/daemon/fixtures/host-parent.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const info = await new Promise<{ script: number; helper: number }>((resolve, reject) => {
      let buf = '';
      parent.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const line = buf.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve(JSON.parse(line));
      });
      parent.once('exit', () => reject(new Error('parent exited early')));
    });
    expect(alive(info.script)).toBe(true);
    parent.kill('SIGKILL');
    expect(await waitDead(info.script)).toBe(true);
    expect(await waitDead(info.helper)).toBe(true);
  });

  it('close() stops the helper and its scripts', async () => {
    const h = new ScriptHost({ enableScriptSecurity: false, killGraceMs: 300 });
    let pid = 0;
    const p = h.run({ command: script('long.sh', 'sleep 30'), timeoutMs: 0 }, { onSpawn: (x) => (pid = x) });
    while (!pid) await new Promise((r) => setTimeout(r, 10));
    const helper = h.helperPid!;
    await h.close();
    expect((await p).code === null).toBe(true);
    expect(await waitDead(pid)).toBe(true);
    expect(await waitDead(helper)).toBe(true);
    expect((await h.run({ command: '/usr/bin/true', timeoutMs: 100 })).error).toBe('script host closed');
  });
});
