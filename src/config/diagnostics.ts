// Diagnostics of the config layer and keepalived's `-t` exit codes.
import type { SourceLoc } from './model.js';

/**
 * fatal   - the configuration cannot be run at all (exit 3)
 * error   - something was wrong and was fixed up: a value ignored, an element dropped (exit 4)
 * warning - suspicious or unsupported but harmless (exit 5)
 */
export type Severity = 'fatal' | 'error' | 'warning';

export interface Diagnostic {
  severity: Severity;
  message: string;
  loc: SourceLoc;
}

/** keepalived --config-test exit codes. */
export const EXIT_OK = 0;
export const EXIT_CANNOT_RUN = 3;
export const EXIT_ERRORS_FIXED = 4;
export const EXIT_WARNINGS = 5;

export function exitCodeFor(diags: readonly Diagnostic[]): number {
  if (diags.some((d) => d.severity === 'fatal')) return EXIT_CANNOT_RUN;
  if (diags.some((d) => d.severity === 'error')) return EXIT_ERRORS_FIXED;
  if (diags.length > 0) return EXIT_WARNINGS;
  return EXIT_OK;
}

/** `FILE:LINE:COL: error|warning: message` (fatal prints as error: the format has two words). */
export function formatDiagnostic(d: Diagnostic): string {
  const sev = d.severity === 'warning' ? 'warning' : 'error';
  return `${d.loc.file}:${d.loc.line}:${d.loc.col}: ${sev}: ${d.message}`;
}

/**
 * The config layer's own error type. Everything the parser can throw is a ConfigError
 * (limits exceeded, unreadable main file); all other problems are collected as diagnostics.
 */
export class ConfigError extends Error {
  readonly diagnostics: Diagnostic[];
  constructor(message: string, diagnostics: Diagnostic[] = []) {
    super(message);
    this.name = 'ConfigError';
    this.diagnostics = diagnostics;
  }
}

export class Diagnostics {
  readonly list: Diagnostic[] = [];

  add(severity: Severity, loc: SourceLoc, message: string): void {
    this.list.push({ severity, loc, message });
  }
  fatal(loc: SourceLoc, message: string): void {
    this.add('fatal', loc, message);
  }
  error(loc: SourceLoc, message: string): void {
    this.add('error', loc, message);
  }
  warning(loc: SourceLoc, message: string): void {
    this.add('warning', loc, message);
  }
  get errorCount(): number {
    return this.list.filter((d) => d.severity !== 'warning').length;
  }
  /** in source order (file order of first appearance, then line, then column) */
  sorted(fileOrder: readonly string[]): Diagnostic[] {
    const rank = new Map(fileOrder.map((f, i) => [f, i]));
    return [...this.list].sort(
      (a, b) =>
        (rank.get(a.loc.file) ?? 1e9) - (rank.get(b.loc.file) ?? 1e9) ||
        a.loc.file.localeCompare(b.loc.file) ||
        a.loc.line - b.loc.line ||
        a.loc.col - b.loc.col,
    );
  }
}
