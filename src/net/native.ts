// Typed access to the native socket layer (native/lvsd_native.c).
// The addon is loaded lazily so that pure modules (config, codecs) never need it.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

export interface RecvResult {
  data: Buffer;
  /** raw sockaddr of the sender */
  addr: Buffer;
  /** raw control-message buffer (walk with parseCmsgs) */
  cmsg: Buffer;
  flags: number;
}

export interface NativeConstants {
  [name: string]: number;
}

export interface NativeAddon {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: number | Uint8Array): void;
  getsockopt(fd: number, level: number, name: number, len: number): Buffer;
  bind(fd: number, sockaddr: Uint8Array): void;
  getsockname(fd: number): Buffer;
  sendto(fd: number, data: Uint8Array, sockaddr?: Uint8Array | null, cmsg?: Uint8Array | null): number;
  recvmsg(fd: number, maxlen: number): RecvResult | null;
  close(fd: number): void;
  ifNameToIndex(name: string): number;
  startReader(fd: number, maxlen: number, cb: (pkt: RecvResult | null, err: NodeJS.ErrnoException | null) => void): unknown;
  stopReader(handle: unknown): void;
  refReader(handle: unknown, ref: boolean): void;
  /** sched_setscheduler of the calling thread (policy: constants SCHED_OTHER/_FIFO/_RR) */
  setScheduler(policy: number, priority: number, resetOnFork: boolean): void;
  getScheduler(): { policy: number; priority: number; resetOnFork: boolean };
  constants: NativeConstants;
}

let cached: NativeAddon | undefined;

/** Error for a missing or unbuildable addon: say how to fix it rather than a bare require stack. */
export class NativeUnavailableError extends Error {
  constructor(detail: string) {
    super(`lvsd native addon is not available (${detail}); run "npm install" (needs python3, make, g++)`);
    this.name = 'NativeUnavailableError';
  }
}

function findAddon(): string {
  // dist/src/net/native.js and src/net/native.ts both sit three levels below the project root.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [
    path.resolve(here, '../../native/build/Release/lvsd_native.node'),
    path.resolve(here, '../../../native/build/Release/lvsd_native.node'),
  ];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new NativeUnavailableError(`not found at ${candidates.join(' or ')}`);
}

export function native(): NativeAddon {
  if (!cached) {
    const require = createRequire(import.meta.url);
    cached = require(findAddon()) as NativeAddon;
  }
  return cached;
}

export function C(name: string): number {
  const v = native().constants[name];
  if (v === undefined) throw new Error(`unknown native constant ${name}`);
  return v;
}
