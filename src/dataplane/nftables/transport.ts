// How command batches reach nftables: in-process through libnftables (native/lvsd_nft.c, loaded
// with dlopen) or by spawning `nft -f -`. Both run one batch as one transaction, both can target
// another network namespace (tests, `lvsd demo`), and both report errors as nft prints them,
// "FILE:LINE:COL: Error: ...", so the engine can name the operation behind the failing line.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';

export interface NftResult {
  /** 0 = success */
  rc: number;
  output: string;
  error: string;
}

/** Output options: JSON (input may be either), terse (listings without set elements). */
export interface RunMode {
  json?: boolean;
  terse?: boolean;
}

export interface NftTransport {
  readonly kind: 'libnftables' | 'spawn';
  /** run a batch as one transaction; `true` = JSON output */
  run(commands: string, mode?: RunMode | boolean): Promise<NftResult>;
  close(): void;
}

function modeOf(m: RunMode | boolean | undefined): RunMode {
  return typeof m === 'boolean' ? { json: m } : (m ?? {});
}

function modeBits(m: RunMode | boolean | undefined): number {
  const x = modeOf(m);
  return (x.json ? 1 : 0) | (x.terse ? 2 : 0);
}

/** A namespace name (as `ip netns add NAME` creates it) or a path to a netns file. */
export function netnsPath(ns: string): string {
  return ns.includes('/') ? ns : `/run/netns/${ns}`;
}

/** The first line number an nft error message points at (1-based), if any. */
export function errorLine(error: string): number | undefined {
  const m = /^[^\n]*?:(\d+):\d+(?:-\d+)?: Error/m.exec(error);
  return m ? Number(m[1]) : undefined;
}

// ---- libnftables ----------------------------------------------------------------------

interface NftAddon {
  available(): string | null;
  open(netns: string | null): unknown;
  close(h: unknown): void;
  /** mode: bit 1 JSON output, bit 2 terse */
  runSync(h: unknown, commands: string, mode: boolean | number): NftResult;
  run(h: unknown, commands: string, mode: boolean | number, cb: (err: Error | null, r: NftResult) => void): void;
  withNetns<T>(path: string, fn: () => T): T;
}

let addon: NftAddon | null | undefined;
let addonError = '';

/** The lvsd_nft addon, or null (see nftAddonError()) when it is not built. */
export function nftAddon(): NftAddon | null {
  if (addon !== undefined) return addon;
  // src/dataplane/nftables/ and dist/src/dataplane/nftables/ sit 3 or 4 levels below the root
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [3, 4].map((up) => path.resolve(here, '../'.repeat(up), 'native/build/Release/lvsd_nft.node'));
  const file = candidates.find((c) => fs.existsSync(c));
  if (!file) {
    addonError = `lvsd_nft.node not found at ${candidates.join(' or ')}; run "npm install" to build it`;
    addon = null;
    return null;
  }
  try {
    addon = createRequire(import.meta.url)(file) as NftAddon;
  } catch (e) {
    addonError = `cannot load ${file}: ${(e as Error).message}`;
    addon = null;
  }
  return addon;
}

export function nftAddonError(): string {
  return addonError;
}

/** Why libnftables cannot be used here, or null when it can. */
export function libnftablesUnavailable(): string | null {
  const a = nftAddon();
  if (!a) return nftAddonError();
  return a.available();
}

export class LibNftTransport implements NftTransport {
  readonly kind = 'libnftables' as const;
  private readonly a: NftAddon;
  private readonly handle: unknown;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(netns?: string) {
    const why = libnftablesUnavailable();
    if (why !== null) throw new Error(`libnftables is not usable: ${why}`);
    this.a = nftAddon()!;
    this.handle = this.a.open(netns ? netnsPath(netns) : null);
  }

  run(commands: string, mode?: RunMode | boolean): Promise<NftResult> {
    const bits = modeBits(mode);
    // one batch at a time per context (the addon refuses overlapping calls)
    const p = this.queue.then(
      () =>
        new Promise<NftResult>((resolve, reject) => {
          if (this.closed) return reject(new Error('nftables transport is closed'));
          this.a.run(this.handle, commands, bits, (err, r) => (err ? reject(err) : resolve(r)));
        }),
    );
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Synchronous variant (benchmarks compare it; the engine uses run()). */
  runSync(commands: string, mode?: RunMode | boolean): NftResult {
    return this.a.runSync(this.handle, commands, modeBits(mode));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.queue.then(() => this.a.close(this.handle));
  }
}

// ---- nft binary -----------------------------------------------------------------------

export interface SpawnOptions {
  netns?: string;
  /** nft binary, default "nft" from PATH */
  nftPath?: string;
  /** nsenter binary for netns, default "nsenter" */
  nsenterPath?: string;
}

export class SpawnNftTransport implements NftTransport {
  readonly kind = 'spawn' as const;
  constructor(private readonly o: SpawnOptions = {}) {}

  async run(commands: string, mode?: RunMode | boolean): Promise<NftResult> {
    // `nft -f -` cannot read Node's stdin pipes (they are sockets: opening /dev/stdin gives ENXIO),
    // and one argument is limited to 128 KiB, so the batch goes through a private file.
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'lvsd-nft-'));
    const file = path.join(dir, 'batch.nft');
    try {
      await fs.promises.writeFile(file, commands, { mode: 0o600 });
      return await this.exec(file, modeOf(mode));
    } finally {
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  }

  private exec(file: string, mode: RunMode): Promise<NftResult> {
    const nft = this.o.nftPath ?? 'nft';
    const args = [...(mode.json ? ['-j'] : []), ...(mode.terse ? ['-t'] : []), '-f', file];
    const [cmd, argv] = this.o.netns ? [this.o.nsenterPath ?? 'nsenter', [`--net=${netnsPath(this.o.netns)}`, nft, ...args]] : [nft, args];
    return new Promise((resolve) => {
      const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e) => resolve({ rc: -1, output: '', error: `cannot run ${cmd}: ${e.message}` }));
      child.on('close', (code, signal) =>
        resolve({
          rc: code ?? -1,
          output: Buffer.concat(out).toString('utf8'),
          error: Buffer.concat(err).toString('utf8') + (signal ? `\n${cmd} killed by ${signal}` : ''),
        }),
      );
    });
  }

  close(): void {}
}

export type TransportChoice = 'auto' | 'libnftables' | 'spawn';

/** libnftables when it loads (auto), else the nft binary. */
export function createTransport(choice: TransportChoice, opts: SpawnOptions = {}): NftTransport {
  if (choice === 'spawn') return new SpawnNftTransport(opts);
  if (choice === 'libnftables' || libnftablesUnavailable() === null) return new LibNftTransport(opts.netns);
  return new SpawnNftTransport(opts);
}
