// A small command-line parser: GNU-style long options (--x=v, --x v), short options with
// values (-f FILE, -fFILE), bundled short flags (-nlD), and positional arguments.

export interface OptSpec {
  /** long name without dashes */
  long: string;
  short?: string;
  /** takes a value; 'optional' = only in the --long=value form */
  value?: boolean | 'optional';
  repeat?: boolean;
}

export interface Parsed {
  opts: Map<string, string[]>;
  positional: string[];
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseArgs(argv: readonly string[], specs: readonly OptSpec[]): Parsed {
  const byLong = new Map(specs.map((s) => [s.long, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const opts = new Map<string, string[]>();
  const positional: string[] = [];
  const put = (s: OptSpec, v: string): void => {
    const prev = opts.get(s.long);
    if (prev && !s.repeat) prev.splice(0, prev.length, v);
    else if (prev) prev.push(v);
    else opts.set(s.long, [v]);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const s = byLong.get(name);
      if (!s) throw new UsageError(`unknown option --${name}`);
      if (eq >= 0) {
        if (!s.value) throw new UsageError(`option --${name} takes no value`);
        put(s, a.slice(eq + 1));
      } else if (s.value === true) {
        const v = argv[++i];
        if (v === undefined) throw new UsageError(`option --${name} needs a value`);
        put(s, v);
      } else put(s, '');
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const s = byShort.get(a[j]!);
        if (!s) throw new UsageError(`unknown option -${a[j]}`);
        if (s.value === true) {
          const rest = a.slice(j + 1);
          const v = rest !== '' ? rest : argv[++i];
          if (v === undefined) throw new UsageError(`option -${a[j]} needs a value`);
          put(s, v);
          break;
        }
        put(s, '');
      }
      continue;
    }
    positional.push(a);
  }
  return { opts, positional };
}

export const has = (p: Parsed, long: string): boolean => p.opts.has(long);
export const value = (p: Parsed, long: string): string | undefined => p.opts.get(long)?.at(-1);
