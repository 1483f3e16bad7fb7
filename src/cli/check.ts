// `lvsd check -f FILE` / `lvsd -t -f FILE`: validate like `keepalived -t`.
import fs from 'node:fs';
import { formatDiagnostic, interfaceExistsOnHost, loadConfig, type LoadOptions } from '../config/index.js';
import { EXIT_CANNOT_RUN } from '../config/diagnostics.js';
import { engineLimitationsFor } from '../dataplane/engine-choice.js';

export interface CheckOptions {
  file: string;
  configId?: string;
  dump?: 'json';
  /** write diagnostics here instead of stderr (keepalived's --config-test=FILE) */
  logFile?: string;
  /** skip checks against this host (interfaces) */
  hostChecks: boolean;
  engineLimitations?: LoadOptions['engineLimitations'];
}

export interface Output {
  out: (s: string) => void;
  err: (s: string) => void;
}

export function runCheck(o: CheckOptions, io: Output): number {
  const res = loadConfig(o.file, {
    ...(o.configId !== undefined ? { configId: o.configId } : {}),
    ...(o.hostChecks ? { interfaceExists: interfaceExistsOnHost } : {}),
    engineLimitations: o.engineLimitations ?? engineLimitationsFor(),
  });
  const lines = res.diagnostics.map(formatDiagnostic);
  if (o.logFile) {
    try {
      fs.writeFileSync(o.logFile, lines.map((l) => l + '\n').join(''));
    } catch (e) {
      io.err(`lvsd: cannot write ${o.logFile}: ${(e as Error).message}`);
      return EXIT_CANNOT_RUN;
    }
  } else for (const l of lines) io.err(l);
  if (o.dump === 'json' && res.config) io.out(JSON.stringify(res.config, null, 2));
  return res.exitCode;
}
