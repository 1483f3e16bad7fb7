import { loadConfig, type LoadOptions, type LoadResult } from '../../../src/config/index.js';
import type { Config } from '../../../src/config/model.js';

/** Load an in-memory main file (/etc/lvsd/main.conf) plus extra files. */
export function load(text: string, extra: Record<string, string> = {}, opts: LoadOptions = {}): LoadResult {
  return loadConfig('/etc/lvsd/main.conf', { configId: 'lvs1', ...opts, files: { '/etc/lvsd/main.conf': text, ...extra } });
}

/** Load and insist on a clean result. */
export function clean(text: string, extra: Record<string, string> = {}, opts: LoadOptions = {}): Config {
  const r = load(text, extra, opts);
  if (r.diagnostics.length) throw new Error('unexpected diagnostics:\n' + r.diagnostics.map((d) => `${d.loc.line}:${d.loc.col} ${d.severity} ${d.message}`).join('\n'));
  return r.config!;
}

export function messages(r: LoadResult): string[] {
  return r.diagnostics.map((d) => `${d.loc.file.split('/').pop()}:${d.loc.line}:${d.loc.col} ${d.severity}: ${d.message}`);
}
