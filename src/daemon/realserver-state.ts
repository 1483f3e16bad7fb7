// What `lvsd realserver up` changed, so that `down` undoes exactly that and nothing else.
// Kept as JSON in a state file (default /run/lvsd/realserver.json: tmpfs, so it is gone after a
// reboot together with the changes it describes). Written atomically (temp file + rename).
//
// /run is shared by every network namespace of a mount namespace (`ip netns exec` does not
// remount it), so the state records the network namespace it belongs to and refuses another.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Family } from '../config/model.js';

export const DEFAULT_STATE_PATH = '/run/lvsd/realserver.json';

export interface AddedAddress {
  dev: string;
  address: string;
  prefixLen: number;
  family: Family;
}

export interface ChangedSysctl {
  /** key segments under /proc/sys (segments, since interface names may contain dots) */
  key: string[];
  /** the value before lvsd changed it (restored by down) */
  previous: string;
  /** the value lvsd wrote (down restores only if it is still this) */
  value: string;
}

export interface TouchedLink {
  name: string;
  kind: string | null;
  /** lvsd created it (down deletes it) */
  created: boolean;
  /** lvsd set it up (down sets it down again) */
  broughtUp: boolean;
}

export interface RealserverState {
  version: 1;
  /** readlink /proc/self/ns/net at `up`, e.g. "net:[4026531840]" */
  netns: string;
  updatedAt: string;
  addresses: AddedAddress[];
  sysctls: ChangedSysctl[];
  links: TouchedLink[];
}

export function emptyState(netns: string): RealserverState {
  return { version: 1, netns, updatedAt: new Date().toISOString(), addresses: [], sysctls: [], links: [] };
}

export function isEmptyState(s: RealserverState): boolean {
  return s.addresses.length === 0 && s.sysctls.length === 0 && s.links.length === 0;
}

export class StateFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`state file ${file}: ${message}`);
    this.name = 'StateFileError';
  }
}

const isStr = (v: unknown): v is string => typeof v === 'string';

/** Validate parsed JSON; throws a plain Error naming the first problem. */
export function parseState(v: unknown): RealserverState {
  const o = v as Record<string, unknown>;
  if (!o || typeof o !== 'object') throw new Error('not a JSON object');
  if (o.version !== 1) throw new Error(`unsupported version ${JSON.stringify(o.version)}`);
  if (!isStr(o.netns)) throw new Error('netns missing');
  const arr = (k: string): unknown[] => {
    if (!Array.isArray(o[k])) throw new Error(`${k} is not a list`);
    return o[k] as unknown[];
  };
  const addresses = arr('addresses').map((x, i) => {
    const a = x as Record<string, unknown>;
    if (!isStr(a?.dev) || !isStr(a.address) || typeof a.prefixLen !== 'number' || (a.family !== 'inet' && a.family !== 'inet6'))
      throw new Error(`addresses[${i}] malformed`);
    return { dev: a.dev, address: a.address, prefixLen: a.prefixLen, family: a.family } as AddedAddress;
  });
  const sysctls = arr('sysctls').map((x, i) => {
    const s = x as Record<string, unknown>;
    if (!Array.isArray(s?.key) || !s.key.every(isStr) || !isStr(s.previous) || !isStr(s.value)) throw new Error(`sysctls[${i}] malformed`);
    return { key: s.key as string[], previous: s.previous, value: s.value };
  });
  const links = arr('links').map((x, i) => {
    const l = x as Record<string, unknown>;
    if (!isStr(l?.name) || typeof l.created !== 'boolean' || typeof l.broughtUp !== 'boolean' || !(l.kind === null || isStr(l.kind)))
      throw new Error(`links[${i}] malformed`);
    return { name: l.name, kind: l.kind, created: l.created, broughtUp: l.broughtUp } as TouchedLink;
  });
  return { version: 1, netns: o.netns, updatedAt: isStr(o.updatedAt) ? o.updatedAt : '', addresses, sysctls, links };
}

export interface StateStore {
  load(): Promise<RealserverState | null>;
  save(s: RealserverState): Promise<void>;
  remove(): Promise<void>;
  readonly file: string;
}

export function fileStateStore(file: string): StateStore {
  return {
    file,
    async load() {
      let text: string;
      try {
        text = await fsp.readFile(file, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw new StateFileError(file, (e as Error).message);
      }
      try {
        return parseState(JSON.parse(text));
      } catch (e) {
        throw new StateFileError(file, `not lvsd realserver state (${(e as Error).message}); fix or remove it`);
      }
    },
    async save(s) {
      const dir = path.dirname(file);
      try {
        await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
        const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
        await fsp.writeFile(tmp, `${JSON.stringify({ ...s, updatedAt: new Date().toISOString() }, null, 2)}\n`, { mode: 0o644 });
        await fsp.rename(tmp, file);
      } catch (e) {
        throw new StateFileError(file, `cannot write: ${(e as Error).message}`);
      }
    },
    async remove() {
      await fsp.rm(file, { force: true });
    },
  };
}

/** Identity of the current network namespace. */
export function currentNetns(): string {
  try {
    return fs.readlinkSync('/proc/self/ns/net');
  } catch {
    return 'unknown';
  }
}
