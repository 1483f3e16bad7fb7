// keepalived's script security rule (core/notify.c check_script_secure/check_security):
//  - the script must be executable by the uid/gid it runs as;
//  - it "needs protection" when it runs as uid 0 or gid 0, or is setuid-root / setgid-root;
//  - then every element of its path ("/", each directory, the file itself), both as written and
//    after resolving symlinks, must be owned by root, and must not be writable by a non-root
//    group or by others -- except directories with the sticky bit, which may be world-writable.
// With enable_script_security an insecure script is refused; without it, it runs with a warning.
import fsp from 'node:fs/promises';
import path from 'node:path';

export interface StatLike {
  uid: number;
  gid: number;
  mode: number;
  isDirectory(): boolean;
  isFile(): boolean;
  isSymbolicLink(): boolean;
}

export interface FsLike {
  lstat(p: string): Promise<StatLike>;
  stat(p: string): Promise<StatLike>;
  realpath(p: string): Promise<string>;
}

const realFs: FsLike = { lstat: (p) => fsp.lstat(p), stat: (p) => fsp.stat(p), realpath: (p) => fsp.realpath(p) };

const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_ISVTX = 0o1000;
const S_IWGRP = 0o020;
const S_IWOTH = 0o002;

export type ScriptVerdict =
  | { ok: true; path: string; warning?: string }
  | { ok: false; reason: string };

function executableBy(st: StatLike, uid: number, gid: number): boolean {
  if (uid === 0) return (st.mode & 0o111) !== 0;
  if (st.uid === uid) return (st.mode & 0o100) !== 0;
  if (st.gid === gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** The first unsafe element of `file`'s path, or null. */
async function unsafeElement(file: string, fs: FsLike): Promise<string | null> {
  const parts = file.split('/').filter((p) => p !== '');
  const elems = ['/', ...parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`)];
  for (let i = 0; i < elems.length; i++) {
    const e = elems[i]!;
    const last = i === elems.length - 1;
    let st: StatLike;
    try {
      st = await fs.lstat(e);
    } catch (err) {
      return `${e} cannot be examined (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    }
    if (!last && !st.isDirectory()) return `${e} is not a directory`;
    if (last && !st.isFile() && !st.isSymbolicLink()) return `${e} is not a regular file`;
    if (st.uid !== 0) return `${e} is owned by uid ${st.uid}, not root`;
    const checked = (st.isDirectory() && (st.mode & S_ISVTX) === 0) || st.isFile();
    if (checked && ((st.gid !== 0 && (st.mode & S_IWGRP) !== 0) || (st.mode & S_IWOTH) !== 0))
      return `${e} is writable by ${st.mode & S_IWOTH ? 'others' : `group ${st.gid}`} (mode ${octal(st.mode)})`;
  }
  return null;
}

/** Find a bare command name in PATH (as execvp would), else return it unchanged. */
async function searchPath(cmd: string, fs: FsLike, envPath: string): Promise<string | null> {
  for (const dir of envPath.split(':')) {
    const p = path.join(dir || '.', cmd);
    try {
      const st = await fs.stat(p);
      if (st.isFile()) return path.resolve(p);
    } catch {
      /* next */
    }
  }
  return null;
}

export async function checkScript(
  cmd: string,
  runAs: { uid: number; gid: number },
  enforce: boolean,
  fs: FsLike = realFs,
  envPath = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
): Promise<ScriptVerdict> {
  let file = cmd;
  if (!cmd.includes('/')) {
    const found = await searchPath(cmd, fs, envPath);
    if (!found) return { ok: false, reason: `script ${cmd} not found in PATH` };
    file = found;
  }
  file = path.resolve(file);
  let real: string;
  let st: StatLike;
  try {
    real = await fs.realpath(file);
    st = await fs.stat(real);
  } catch (err) {
    return { ok: false, reason: `script ${file} cannot be accessed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  if (!st.isFile()) return { ok: false, reason: `script ${file} is not a regular file` };
  if (!executableBy(st, runAs.uid, runAs.gid))
    return { ok: false, reason: `script ${file} is not executable by uid ${runAs.uid} gid ${runAs.gid}` };
  const needsProtection =
    runAs.uid === 0 ||
    runAs.gid === 0 ||
    (st.uid === 0 && (st.mode & 0o100) !== 0 && (st.mode & S_ISUID) !== 0) ||
    (st.gid === 0 && (st.mode & 0o010) !== 0 && (st.mode & S_ISGID) !== 0);
  if (!needsProtection) return { ok: true, path: file };
  const unsafe = (await unsafeElement(file, fs)) ?? (real !== file ? await unsafeElement(real, fs) : null);
  if (!unsafe) return { ok: true, path: file };
  const what = `unsafe permissions for script ${file} run as root: ${unsafe}`;
  if (enforce) return { ok: false, reason: `${what} (refused by enable_script_security)` };
  return { ok: true, path: file, warning: what };
}
