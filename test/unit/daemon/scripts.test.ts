import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildInvocation,
  describeResult,
  notifyScriptSpec,
  resolveRunAs,
  ScriptRunner,
  scriptEnv,
  scriptSucceeded,
  type ScriptResult,
} from '../../../src/daemon/scripts.js';

const isRoot = process.getuid?.() === 0;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsd-scripts-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A root-owned 0755 script in a fresh directory (passes the security rule when run as root). */
function script(name: string, body: string, mode = 0o755): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, `#!/bin/sh\n${body}\n`, { mode });
  fs.chmodSync(p, mode);
  return p;
}

const alive = (pid: number): boolean => {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(st); // zombies count as dead
  } catch {
    return false;
  }
};

describe('resolveRunAs (keepalived default script user rules)', () => {
  const files = (withKs: boolean): { passwd: string; group: string } => {
    const d = fs.mkdtempSync(path.join(dir, 'acct-'));
    fs.writeFileSync(
      path.join(d, 'passwd'),
      `root:x:0:0::/root:/bin/sh\nalice:x:1001:1001::/h:/bin/sh\n${withKs ? 'keepalived_script:x:990:990::/:/bin/false\n' : ''}`,
    );
    fs.writeFileSync(path.join(d, 'group'), 'root:x:0:\nops:x:2000:\n');
    return { passwd: path.join(d, 'passwd'), group: path.join(d, 'group') };
  };
  const self = { uid: 0, gid: 0 };

  it('script user > script_user > keepalived_script > self', () => {
    const f = files(true);
    expect(resolveRunAs({ user: 'alice', group: 'ops' }, { user: 'root' }, false, f, self)).toEqual({ ok: true, ids: { uid: 1001, gid: 2000 }, source: 'script' });
    expect(resolveRunAs(undefined, { user: 'alice' }, false, f, self)).toEqual({ ok: true, ids: { uid: 1001, gid: 1001 }, source: 'script_user' });
    expect(resolveRunAs(undefined, undefined, true, f, self)).toEqual({ ok: true, ids: { uid: 990, gid: 990 }, source: 'keepalived_script' });
    expect(resolveRunAs(undefined, undefined, false, files(false), self)).toEqual({ ok: true, ids: self, source: 'self' });
  });

  it('refuses with enable_script_security when no user is configured and keepalived_script is missing', () => {
    const r = resolveRunAs(undefined, undefined, true, files(false), self);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/keepalived_script does not exist.*script_user/);
    // an explicit script_user (even root) is fine
    expect(resolveRunAs(undefined, { user: 'root' }, true, files(false), self).ok).toBe(true);
  });

  it('unknown users and groups are errors, not a fallback to root', () => {
    expect(resolveRunAs({ user: 'bob' }, undefined, false, files(true), self)).toMatchObject({ ok: false, error: expect.stringMatching(/unknown user 'bob'/) });
    expect(resolveRunAs({ user: 'alice', group: 'devs' }, undefined, false, files(true), self)).toMatchObject({ ok: false });
  });
});

describe('buildInvocation', () => {
  it('splits like keepalived and appends the extra arguments', () => {
    expect(buildInvocation(`/etc/keepalived/notify.sh "a b" c`, ['INSTANCE', 'VI_1', 'MASTER', '100'])).toEqual({
      file: '/etc/keepalived/notify.sh',
      argv: ['/etc/keepalived/notify.sh', 'a b', 'c', 'INSTANCE', 'VI_1', 'MASTER', '100'],
      viaShell: false,
    });
  });

  it('keepalived\'s "</file" form goes to /bin/sh -c, arguments single-quoted', () => {
    expect(buildInvocation('</dev/tcp/127.0.0.1/80')).toEqual({ file: '/bin/sh', argv: ['/bin/sh', '-c', '</dev/tcp/127.0.0.1/80'], viaShell: true });
    expect(buildInvocation('</etc/x', ["it's"]).argv[2]).toBe(`</etc/x 'it'\\''s'`);
    // as in keepalived, only a first word starting "</" counts ("< /x" is the program "<")
    expect(buildInvocation('< /etc/x').viaShell).toBe(false);
  });

  it('rejects empty lines and bad quoting', () => {
    expect(() => buildInvocation('  ')).toThrow(/empty/);
    expect(() => buildInvocation('/bin/x "open')).toThrow(/unterminated/);
  });

  it('scrubs IFS and loader variables from the environment', () => {
    const env = scriptEnv({ PATH: '/bin', IFS: 'x', LD_PRELOAD: '/evil.so', LD_LIBRARY_PATH: '/l', HOME: '/root' });
    expect(env).toEqual({ PATH: '/bin', HOME: '/root' });
  });

  it('notifyScriptSpec maps notify actions, with a default timeout', () => {
    expect(notifyScriptSpec({ command: '/x', args: [] })).toEqual({ command: '/x', timeoutMs: 60_000 });
    expect(notifyScriptSpec({ command: '/x', args: ['a'], user: { user: 'u' }, timeoutMs: 1000 })).toEqual({ command: '/x', args: ['a'], user: { user: 'u' }, timeoutMs: 1000 });
  });
});

describe('ScriptRunner (real processes)', () => {
  const logs: string[] = [];
  const runner = new ScriptRunner({ enableScriptSecurity: false, killGraceMs: 300, log: (l, m) => logs.push(`${l} ${m}`) });

  it('reports the exit status, passes the arguments and keeps the output tail', async () => {
    const s = script('args.sh', 'echo "n=$# 1=$1 2=$2"; exit 3');
    const r = await runner.run({ command: `${s} "x y"`, args: ['z'], timeoutMs: 5000 });
    expect(r).toMatchObject({ code: 3, signal: null, timedOut: false });
    expect(r.output).toBe('n=2 1=x y 2=z\n');
    expect(scriptSucceeded(r)).toBe(false);
    expect(describeResult(r)).toMatch(/^exit 3: n=2/);
    const ok = await runner.run({ command: `${s}`, timeoutMs: 5000 });
    expect(ok.code).toBe(3);
    expect(scriptSucceeded({ code: 0, signal: null, timedOut: false, durationMs: 1 })).toBe(true);
  });

  it('on timeout kills the whole process group (background children too)', async () => {
    const pidFile = path.join(dir, 'bg.pid');
    const s = script('hang.sh', `sleep 30 & echo $! > ${pidFile}; sleep 30`);
    const t0 = performance.now();
    const r = await runner.run({ command: s, timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGTERM');
    expect(r.code).toBeNull();
    expect(performance.now() - t0).toBeLessThan(2000);
    const bg = Number(fs.readFileSync(pidFile, 'utf8'));
    // SIGTERM went to the group: the background sleep dies too (at the latest by the SIGKILL)
    for (let i = 0; i < 50 && alive(bg); i++) await new Promise((res) => setTimeout(res, 20));
    expect(alive(bg)).toBe(false);
    expect(runner.stats.timedOut).toBeGreaterThan(0);
  });

  it('a script ignoring SIGTERM is SIGKILLed after the grace period', async () => {
    const s = script('stubborn.sh', `trap '' TERM; sleep 30 & wait; sleep 30`);
    const r = await runner.run({ command: s, timeoutMs: 200 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGKILL');
    expect(r.durationMs).toBeGreaterThanOrEqual(450);
    expect(r.durationMs).toBeLessThan(1500);
  });

  it('does not wait for running scripts (only the spawn itself is synchronous, see ScriptHost)', async () => {
    const s = script('sleep.sh', 'sleep 0.4');
    let maxGap = 0;
    let last = performance.now();
    const iv = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 5);
    const rs = await Promise.all(Array.from({ length: 5 }, () => runner.run({ command: s, timeoutMs: 5000 })));
    clearInterval(iv);
    expect(rs.every((r) => r.code === 0)).toBe(true);
    expect(maxGap).toBeLessThan(150);
  });

  it('failures are results: missing, not executable, bad quoting, spawn errors', async () => {
    const cases: [string, RegExp][] = [
      [path.join(dir, 'missing.sh'), /cannot be accessed \(ENOENT\)/],
      [script('noexec.sh', 'exit 0', 0o644), isRoot ? /not executable/ : /not executable/],
      ['/bin/true "unterminated', /unterminated/],
      ['no-such-command-lvsd', /not found in PATH/],
    ];
    for (const [cmd, re] of cases) {
      const r: ScriptResult = await runner.run({ command: cmd, timeoutMs: 1000 });
      expect(r.code).toBeNull();
      expect(r.signal).toBeNull();
      expect(r.timedOut).toBe(false);
      expect(r.error).toMatch(re);
      expect(describeResult(r)).toMatch(/^not run: /);
    }
    const nosb = path.join(dir, 'noshebang');
    fs.writeFileSync(nosb, 'exit 7\n', { mode: 0o755 });
    const r = await runner.run({ command: nosb, timeoutMs: 2000 });
    // without a #! line: either exec fails (ENOEXEC) or libc's execvp falls back to /bin/sh
    expect(r.code === 7 || /ENOEXEC/.test(r.error ?? '')).toBe(true);
  });

  it('abort kills a running script', async () => {
    const s = script('long.sh', 'sleep 30');
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const r = await runner.run({ command: s, timeoutMs: 0 }, { signal: ac.signal });
    expect(r.error).toBe('aborted');
    expect(r.signal).toBe('SIGTERM');
    expect(r.timedOut).toBe(false);
  });

  it.skipIf(!isRoot)('runs as the configured user (root only)', async () => {
    const r = await runner.run({ command: '/usr/bin/id -u', user: { user: 'nobody' }, timeoutMs: 5000 });
    expect(r.code).toBe(0);
    expect(r.output?.trim()).toBe('65534');
  });

  it.skipIf(!isRoot)('enable_script_security refuses an unsafe root script; without it a warning is logged once', async () => {
    const unsafe = script('unsafe.sh', 'exit 0', 0o777);
    fs.chmodSync(unsafe, 0o777);
    const strict = new ScriptRunner({ enableScriptSecurity: true, scriptUser: { user: 'root' } });
    const r = await strict.run({ command: unsafe, timeoutMs: 1000 });
    expect(r.code).toBeNull();
    expect(r.error).toMatch(/writable by others.*refused by enable_script_security/);
    const lax: string[] = [];
    const loose = new ScriptRunner({ enableScriptSecurity: false, scriptUser: { user: 'root' }, log: (l, m) => lax.push(`${l} ${m}`) });
    expect((await loose.run({ command: unsafe, timeoutMs: 1000 })).code).toBe(0);
    expect((await loose.run({ command: unsafe, timeoutMs: 1000 })).code).toBe(0);
    expect(lax.filter((l) => l.startsWith('warn') && l.includes('unsafe permissions'))).toHaveLength(1);
  });
});
