// The config layer's entry point: file -> tokens -> statements -> model -> validation.
// loadConfig never throws: every problem, including hostile input, becomes a diagnostic.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, type Diagnostic, Diagnostics, exitCodeFor } from './diagnostics.js';
import type { Config } from './model.js';
import { readSource, type SourceLimits } from './source.js';
import { TreeBuilder } from './tree.js';
import { ConfigBuilder } from './build/index.js';
import { validateConfig, type ValidateOptions } from './validate.js';

export interface LoadOptions extends ValidateOptions {
  /** matched by `@id` conditional lines (keepalived's --config-id); default: short host name */
  configId?: string;
  limits?: Partial<SourceLimits>;
  /** in-memory files (tests): path -> content; when given, the disk is not read */
  files?: Record<string, string>;
}

export interface LoadResult {
  /** null when the configuration cannot be run at all */
  config: Config | null;
  diagnostics: Diagnostic[];
  exitCode: number;
}

export function defaultConfigId(): string {
  return os.hostname().split('.')[0] ?? '';
}

export function interfaceExistsOnHost(name: string): boolean {
  try {
    return fs.existsSync(path.join('/sys/class/net', name));
  } catch {
    return false;
  }
}

function memoryFs(files: Record<string, string>): Pick<Required<Parameters<typeof readSource>[1]>, 'readFile' | 'readDir' | 'realPath'> {
  const norm = (p: string): string => path.resolve('/', p);
  const table = new Map(Object.entries(files).map(([k, v]) => [norm(k), v]));
  return {
    readFile: (f) => {
      const v = table.get(norm(f));
      if (v === undefined) throw Object.assign(new Error(`ENOENT: ${f}`), { code: 'ENOENT' });
      return v;
    },
    readDir: (d) => {
      const dir = norm(d);
      const out = new Set<string>();
      for (const k of table.keys()) {
        if (path.dirname(k) === dir) out.add(path.basename(k));
        else if (k.startsWith(dir === '/' ? '/' : dir + '/')) out.add(k.slice(dir === '/' ? 1 : dir.length + 1).split('/')[0]!);
      }
      return [...out];
    },
    realPath: (f) => norm(f),
  };
}

export function loadConfig(file: string, opts: LoadOptions = {}): LoadResult {
  const diags = new Diagnostics();
  let files: string[] = [file];
  try {
    // tokens stream into the tree builder, which hands each finished top-level block to the
    // config builder: a large file never has all of its tokens in memory
    const builder = new ConfigBuilder(diags);
    const tree = new TreeBuilder(diags, (s) => builder.add(s));
    const src = readSource(
      file,
      { configId: opts.configId ?? defaultConfigId(), ...(opts.limits ? { limits: opts.limits } : {}), ...(opts.files ? memoryFs(opts.files) : {}) },
      diags,
      (t) => tree.push(t),
    );
    tree.end();
    files = src.files;
    const cfg = builder.finish(src.files);
    validateConfig(cfg, diags, opts);
    const fatal = diags.list.some((d) => d.severity === 'fatal');
    const sorted = diags.sorted(files);
    return { config: fatal ? null : cfg, diagnostics: sorted, exitCode: exitCodeFor(sorted) };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (!diags.list.some((d) => d.severity === 'fatal')) diags.fatal({ file, line: 0, col: 0 }, e.message);
    const sorted = diags.sorted(files);
    return { config: null, diagnostics: sorted, exitCode: exitCodeFor(sorted) };
  }
}

export { formatDiagnostic, exitCodeFor, ConfigError } from './diagnostics.js';
export type { Diagnostic } from './diagnostics.js';
