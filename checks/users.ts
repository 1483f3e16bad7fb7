// user/group name -> uid/gid from /etc/passwd and /etc/group (paths injectable for tests).
import fs from 'node:fs';

export interface UidGid {
  uid: number;
  gid: number;
}

export interface AccountFiles {
  passwd: string;
  group: string;
}

const DEFAULT_FILES: AccountFiles = { passwd: '/etc/passwd', group: '/etc/group' };

function readTable(file: string): string[][] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

/**
 * Resolve a script user (and optional group). Numeric names are taken as ids. Without a group the
 * user's primary group applies. Throws with a clear message when a name is unknown.
 */
export function resolveUser(user: string, group?: string, files: AccountFiles = DEFAULT_FILES): UidGid {
  let uid: number;
  let gid: number;
  const pw = readTable(files.passwd).find((f) => f[0] === user);
  if (pw && pw.length >= 4) {
    uid = Number(pw[2]);
    gid = Number(pw[3]);
  } else if (/^\d+$/.test(user)) {
    uid = Number(user);
    gid = uid;
  } else throw new Error(`unknown user '${user}'`);
  if (group !== undefined) {
    const gr = readTable(files.group).find((f) => f[0] === group);
    if (gr && gr.length >= 3) gid = Number(gr[2]);
    else if (/^\d+$/.test(group)) gid = Number(group);
    else throw new Error(`unknown group '${group}'`);
  }
  return { uid, gid };
}

/** keepalived's default script user: keepalived_script when it exists, else ourselves. */
export function defaultScriptUser(files: AccountFiles = DEFAULT_FILES): UidGid {
  try {
    return resolveUser('keepalived_script', undefined, files);
  } catch {
    return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  }
}
