import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MiscCheck } from '../../../src/config/model.js';
import { splitCommandLine } from '../../../checks/cmdline.js';
import { judgeExit, probeMisc } from '../../../checks/misc.js';
import { checkScript, type FsLike, type StatLike } from '../../../checks/script-security.js';
import { resolveUser } from '../../../checks/users.js';
import { common, ctx, target, tmpDir } from './helpers.js';

const isRoot = process.getuid?.() === 0;
const misc = (p: string, over: Partial<MiscCheck> = {}): MiscCheck => ({ ...common(), type: 'MISC_CHECK', path: p, timeoutMs: 2000, dynamic: false, ...over });

describe('command line splitting', () => {
  it('honours quotes and escapes like keepalived', () => {
    expect(splitCommandLine('/bin/check a  b')).toEqual(['/bin/check', 'a', 'b']);
    expect(splitCommandLine(`"/opt/my dir/check" 'arg two' x\\ y "q\\"uote"`)).toEqual(['/opt/my dir/check', 'arg two', 'x y', 'q"uote']);
    expect(splitCommandLine(`a ''`)).toEqual(['a', '']);
    expect(splitCommandLine('   ')).toEqual([]);
    expect(() => splitCommandLine('a "b')).toThrow(/unterminated/);
  });
});

describe('exit status rules', () => {
  it('0 up, 1 down, 2..255 up with weight status-2 only with misc_dynamic', () => {
    expect(judgeExit(0, null, false)).toEqual({ up: true, reason: 'exit status 0' });
    expect(judgeExit(1, null, true).up).toBe(false);
    expect(judgeExit(3, null, false)).toEqual({ up: false, reason: 'exit status 3' });
    expect(judgeExit(3, null, true)).toMatchObject({ up: true, weight: 1 });
    expect(judgeExit(255, null, true)).toMatchObject({ up: true, weight: 253 });
    expect(judgeExit(null, 'SIGKILL', true)).toEqual({ up: false, reason: 'killed by SIGKILL' });
  });
});

describe('users', () => {
  it('resolves names and numeric ids from passwd/group files', () => {
    const dir = tmpDir();
    try {
      fs.writeFileSync(path.join(dir, 'passwd'), 'root:x:0:0::/root:/bin/sh\nalice:x:1001:1002::/home/a:/bin/sh\n');
      fs.writeFileSync(path.join(dir, 'group'), 'root:x:0:\nops:x:2000:alice\n');
      const files = { passwd: path.join(dir, 'passwd'), group: path.join(dir, 'group') };
      expect(resolveUser('alice', undefined, files)).toEqual({ uid: 1001, gid: 1002 });
      expect(resolveUser('alice', 'ops', files)).toEqual({ uid: 1001, gid: 2000 });
      expect(resolveUser('1234', undefined, files)).toEqual({ uid: 1234, gid: 1234 });
      expect(() => resolveUser('bob', undefined, files)).toThrow("unknown user 'bob'");
      expect(() => resolveUser('alice', 'devs', files)).toThrow("unknown group 'devs'");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('script security rule (fake file system)', () => {
  type Node = { uid: number; gid: number; mode: number; kind: 'dir' | 'file' | 'link'; target?: string };
  const fake = (nodes: Record<string, Node>): FsLike => {
    const st = (p: string): StatLike => {
      const n = nodes[p];
      if (!n) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return { uid: n.uid, gid: n.gid, mode: n.mode, isDirectory: () => n.kind === 'dir', isFile: () => n.kind === 'file', isSymbolicLink: () => n.kind === 'link' };
    };
    const resolve = (p: string): string => (nodes[p]?.kind === 'link' ? nodes[p]!.target! : p);
    return { lstat: async (p) => st(p), stat: async (p) => st(resolve(p)), realpath: async (p) => resolve(p) };
  };
  const root = (mode: number, kind: Node['kind'] = 'dir'): Node => ({ uid: 0, gid: 0, mode, kind });
  const base = { '/': root(0o755), '/etc': root(0o755), '/etc/lvsd': root(0o755) };

  it('accepts a root-owned script in root-owned, non-writable directories', async () => {
    const fs1 = fake({ ...base, '/etc/lvsd/chk': root(0o755, 'file') });
    expect(await checkScript('/etc/lvsd/chk', { uid: 0, gid: 0 }, true, fs1)).toEqual({ ok: true, path: '/etc/lvsd/chk' });
  });

  it('refuses world-writable directories without the sticky bit, non-root owners, and group-writable files', async () => {
    const worldDir = fake({ ...base, '/etc/lvsd': root(0o777), '/etc/lvsd/chk': root(0o755, 'file') });
    expect(await checkScript('/etc/lvsd/chk', { uid: 0, gid: 0 }, true, worldDir)).toEqual({
      ok: false,
      reason: 'unsafe permissions for script /etc/lvsd/chk run as root: /etc/lvsd is writable by others (mode 0777) (refused by enable_script_security)',
    });
    const sticky = fake({ ...base, '/etc/lvsd': root(0o1777), '/etc/lvsd/chk': root(0o755, 'file') });
    expect((await checkScript('/etc/lvsd/chk', { uid: 0, gid: 0 }, true, sticky)).ok).toBe(true);
    const owned = fake({ ...base, '/etc/lvsd/chk': { uid: 1000, gid: 0, mode: 0o755, kind: 'file' } });
    expect(await checkScript('/etc/lvsd/chk', { uid: 0, gid: 0 }, true, owned)).toMatchObject({ ok: false, reason: expect.stringContaining('owned by uid 1000, not root') });
    const grpw = fake({ ...base, '/etc/lvsd/chk': { uid: 0, gid: 50, mode: 0o775, kind: 'file' } });
    expect(await checkScript('/etc/lvsd/chk', { uid: 0, gid: 0 }, true, grpw)).toMatchObject({ ok: false, reason: expect.stringContaining('writable by group 50') });
    // group write by root's group is fine
    const rootGrp = fake({ ...base, '/etc/lvsd/chk': { uid: 0, gid: 0, mode: 0o775, kind: 'file' } });
    expect((await checkScript('/etc/lvsd/chk', { uid: 0, gid: 0 }, true, rootGrp)).ok).toBe(true);
  });

  it('checks the symlink target path too', async () => {
    const fs1 = fake({ ...base, '/etc/lvsd/chk': { uid: 0, gid: 0, mode: 0o777, kind: 'link', target: '/tmp/x/chk' }, '/tmp': root(0o1777), '/tmp/x': { uid: 1000, gid: 1000, mode: 0o755, kind: 'dir' }, '/tmp/x/chk': root(0o755, 'file') });
    expect(await checkScript('/etc/lvsd/chk', { uid: 0, gid: 0 }, true, fs1)).toMatchObject({ ok: false, reason: expect.stringContaining('/tmp/x is owned by uid 1000') });
  });

  it('only protects scripts running as root (or setuid root); warns instead of refusing without enforcement', async () => {
    const worldDir = fake({ ...base, '/etc/lvsd': root(0o777), '/etc/lvsd/chk': root(0o755, 'file') });
    expect((await checkScript('/etc/lvsd/chk', { uid: 1000, gid: 1000 }, true, worldDir)).ok).toBe(true);
    const setuid = fake({ ...base, '/etc/lvsd': root(0o777), '/etc/lvsd/chk': root(0o4755, 'file') });
    expect((await checkScript('/etc/lvsd/chk', { uid: 1000, gid: 1000 }, true, setuid)).ok).toBe(false);
    const warn = await checkScript('/etc/lvsd/chk', { uid: 0, gid: 0 }, false, worldDir);
    expect(warn).toMatchObject({ ok: true, warning: expect.stringContaining('/etc/lvsd is writable by others') });
  });

  it('requires the script to exist and be executable by the user', async () => {
    const fs1 = fake({ ...base, '/etc/lvsd/chk': { uid: 0, gid: 0, mode: 0o744, kind: 'file' } });
    expect(await checkScript('/etc/lvsd/chk', { uid: 1000, gid: 1000 }, false, fs1)).toMatchObject({ ok: false, reason: expect.stringContaining('not executable by uid 1000') });
    expect(await checkScript('/etc/lvsd/none', { uid: 0, gid: 0 }, false, fs1)).toMatchObject({ ok: false, reason: expect.stringContaining('ENOENT') });
    expect(await checkScript('chk', { uid: 0, gid: 0 }, false, fs1, '/etc/lvsd')).toEqual({ ok: true, path: '/etc/lvsd/chk' });
    expect(await checkScript('nothere', { uid: 0, gid: 0 }, false, fs1, '/etc/lvsd')).toMatchObject({ ok: false, reason: 'script nothere not found in PATH' });
  });
});

describe('MISC_CHECK running real scripts', () => {
  const dir = tmpDir();
  fs.chmodSync(dir, 0o755);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const script = (name: string, body: string, mode = 0o755): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, `#!/bin/sh\n${body}\n`);
    fs.chmodSync(p, mode);
    return p;
  };

  it('maps exit codes, and misc_dynamic weights', async () => {
    expect((await probeMisc(misc(script('ok', 'exit 0')), target(80), ctx())).up).toBe(true);
    const one = await probeMisc(misc(script('one', 'exit 1')), target(80), ctx());
    expect(one).toMatchObject({ up: false, reason: expect.stringContaining('exit status 1') });
    const dyn = script('dyn', 'exit 12');
    expect((await probeMisc(misc(dyn), target(80), ctx())).up).toBe(false);
    expect(await probeMisc(misc(dyn, { dynamic: true }), target(80), ctx())).toMatchObject({ up: true, weight: 10 });
  });

  it('passes quoted arguments without a shell', async () => {
    const out = path.join(dir, 'args.out');
    const p = script('args', `for a in "$@"; do printf '%s|' "$a"; done > ${out}`);
    const r = await probeMisc(misc(`${p} 'one two' "three" four\\ five`), target(80), ctx());
    expect(r.up).toBe(true);
    expect(fs.readFileSync(out, 'utf8')).toBe('one two|three|four five|');
  });

  it('kills a hung script and its children on misc_timeout', async () => {
    const pids = path.join(dir, 'pids');
    const p = script('hang', `sleep 30 & echo $$ $! > ${pids}; wait`);
    const t0 = Date.now();
    const r = await probeMisc(misc(p, { timeoutMs: 300 }), target(80), ctx());
    expect(r.up).toBe(false);
    expect(r.reason).toContain('timeout after 300 ms (process group killed)');
    expect(Date.now() - t0).toBeLessThan(1500);
    const [sh, sleeper] = fs.readFileSync(pids, 'utf8').trim().split(' ').map(Number);
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 50 && (alive(sh!) || alive(sleeper!)); i++) await new Promise((res) => setTimeout(res, 50));
    expect(alive(sh!)).toBe(false);
    expect(alive(sleeper!)).toBe(false);
  });

  it('defaults misc_timeout to delay_loop', async () => {
    const p = script('slow', 'sleep 5');
    const r = await probeMisc(misc(p, { timeoutMs: 0, ...common({ delayLoopMs: 200 }) }), target(80), ctx());
    expect(r.reason).toContain('timeout after 200 ms');
  });

  it('reports missing, non-executable and unparsable scripts', async () => {
    expect((await probeMisc(misc(path.join(dir, 'absent')), target(80), ctx())).reason).toContain('cannot be accessed (ENOENT)');
    const noexec = script('noexec', 'exit 0', 0o644);
    expect((await probeMisc(misc(noexec), target(80), ctx())).reason).toMatch(/not executable by uid/);
    expect((await probeMisc(misc('"/bin/true'), target(80), ctx())).reason).toContain('unterminated');
    expect((await probeMisc(misc('/bin/true', { user: { user: 'no-such-user-lvsd' } }), target(80), ctx())).reason).toContain("unknown user 'no-such-user-lvsd'");
  });

  it.skipIf(!isRoot)('runs as the configured user', async () => {
    const out = path.join(dir, 'uid.out');
    fs.writeFileSync(out, '');
    fs.chmodSync(out, 0o666);
    const p = script('whoami', `id -u > ${out}; id -g >> ${out}`);
    const r = await probeMisc(misc(p, { user: { user: 'nobody' } }), target(80), ctx());
    expect(r.up).toBe(true);
    const nobody = resolveUser('nobody');
    expect(fs.readFileSync(out, 'utf8').trim().split('\n').map(Number)).toEqual([nobody.uid, nobody.gid]);
  });

  it.skipIf(!isRoot)('with enable_script_security refuses a root script in a world-writable directory', async () => {
    const open = path.join(dir, 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    const p = path.join(open, 'chk');
    fs.writeFileSync(p, '#!/bin/sh\nexit 0\n');
    fs.chmodSync(p, 0o755);
    const root = { user: 'root' };
    const refused = await probeMisc(misc(p, { user: root }), target(80), ctx({ enableScriptSecurity: true }));
    expect(refused).toMatchObject({ up: false, reason: expect.stringContaining(`${open} is writable by others (mode 0777) (refused by enable_script_security)`) });
    // without script security it runs (with a warning)
    expect((await probeMisc(misc(p, { user: root }), target(80), ctx({ enableScriptSecurity: false }))).up).toBe(true);
    // the same script run as an unprivileged user needs no protection
    expect((await probeMisc(misc(p, { user: { user: 'nobody' } }), target(80), ctx({ enableScriptSecurity: true }))).up).toBe(true);
  });
});
