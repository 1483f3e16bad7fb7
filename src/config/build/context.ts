// Argument readers for statement handlers: every reader validates and reports with the
// argument's own location, returning undefined when the value is unusable.
import net from 'node:net';
import type { Diagnostics } from '../diagnostics.js';
import type { Family, ScriptUser, SourceLoc } from '../model.js';
import { canonicalIp } from '../../net/sockaddr.js';
import { type Stmt, locOf } from '../tree.js';

export type Handler<T> = (s: Stmt, target: T, c: Ctx) => void;
export type Handlers<T> = Record<string, Handler<T>>;

const NONE: ReadonlySet<string> = new Set();

export class Ctx {
  constructor(readonly diags: Diagnostics) {}

  loc(s: Stmt, i = -1): SourceLoc {
    const t = i < 0 ? s.name : (s.args[i] ?? s.name);
    return locOf(t);
  }

  /** Check argument count; missing ones are an error (statement ignored), extra ones a warning. */
  arity(s: Stmt, min: number, max = min): boolean {
    if (s.args.length < min) {
      this.diags.error(this.loc(s), `${s.name.text} needs ${min === max ? min : `at least ${min}`} argument${min === 1 ? '' : 's'}`);
      return false;
    }
    if (s.args.length > max) this.diags.warning(this.loc(s, max), `${s.name.text}: extra argument${s.args.length - max > 1 ? 's' : ''} "${s.args.slice(max).map((a) => a.text).join(' ')}" ignored`);
    if (s.block) this.diags.error(this.loc(s), `${s.name.text} does not take a block; block ignored`);
    return true;
  }

  noArgs(s: Stmt): void {
    this.arity(s, 0, 0);
  }

  str(s: Stmt, i = 0): string | undefined {
    if (!this.arity(s, i + 1)) return undefined;
    return s.args[i]!.text;
  }

  int(s: Stmt, i: number, min: number, max: number, what = s.name.text): number | undefined {
    const t = s.args[i];
    if (!t) {
      this.diags.error(this.loc(s), `${what} needs a value`);
      return undefined;
    }
    if (!/^[+-]?\d+$/.test(t.text)) {
      this.diags.error(locOf(t), `${what}: "${t.text}" is not a whole number`);
      return undefined;
    }
    const v = Number(t.text);
    if (v < min || v > max) {
      this.diags.error(locOf(t), `${what} ${t.text} is outside ${min}..${max}`);
      return undefined;
    }
    return v;
  }

  /** a single integer statement: `keyword N` */
  intStmt(s: Stmt, min: number, max: number): number | undefined {
    if (!this.arity(s, 1)) return undefined;
    return this.int(s, 0, min, max);
  }

  /** keepalived <TIMER>: seconds, fractions allowed (µs resolution); returned in ms */
  timer(s: Stmt, i: number, minS: number, maxS: number, what = s.name.text): number | undefined {
    const t = s.args[i];
    if (!t) {
      this.diags.error(this.loc(s), `${what} needs a value in seconds`);
      return undefined;
    }
    if (!/^(\d+(\.\d*)?|\.\d+)$/.test(t.text)) {
      this.diags.error(locOf(t), `${what}: "${t.text}" is not a number of seconds`);
      return undefined;
    }
    const v = Number(t.text);
    if (v < minS || v > maxS) {
      this.diags.error(locOf(t), `${what} ${t.text} is outside ${minS}..${maxS} seconds`);
      return undefined;
    }
    return Math.round(v * 1_000_000) / 1000;
  }

  timerStmt(s: Stmt, minS: number, maxS: number): number | undefined {
    if (!this.arity(s, 1)) return undefined;
    return this.timer(s, 0, minS, maxS);
  }

  /** `flag` or `flag true|false|on|off|yes|no` */
  flag(s: Stmt): boolean | undefined {
    if (s.args.length === 0) {
      if (s.block) this.diags.error(this.loc(s), `${s.name.text} does not take a block; block ignored`);
      return true;
    }
    if (!this.arity(s, 0, 1)) return undefined;
    const v = s.args[0]!.text.toLowerCase();
    if (['true', 'on', 'yes', '1'].includes(v)) return true;
    if (['false', 'off', 'no', '0'].includes(v)) return false;
    this.diags.error(this.loc(s, 0), `${s.name.text}: "${s.args[0]!.text}" is not true/false`);
    return undefined;
  }

  oneOf<T extends string>(s: Stmt, i: number, values: readonly T[], opts: { caseInsensitive?: boolean; what?: string } = {}): T | undefined {
    const t = s.args[i];
    if (!t) {
      this.diags.error(this.loc(s), `${opts.what ?? s.name.text} needs one of ${values.join(', ')}`);
      return undefined;
    }
    const found = values.find((v) => (opts.caseInsensitive ? v.toLowerCase() === t.text.toLowerCase() : v === t.text));
    if (!found) this.diags.error(locOf(t), `${opts.what ?? s.name.text}: unknown value "${t.text}" (expected ${values.join(', ')})`);
    return found;
  }

  ip(s: Stmt, i: number, what = s.name.text, family?: Family): { address: string; family: Family } | undefined {
    const t = s.args[i];
    if (!t) {
      this.diags.error(this.loc(s), `${what} needs an IP address`);
      return undefined;
    }
    return this.ipText(t.text, locOf(t), what, family);
  }

  ipText(text: string, loc: SourceLoc, what: string, family?: Family): { address: string; family: Family } | undefined {
    const v = net.isIP(text.split('%')[0]!);
    if (v === 0) {
      this.diags.error(loc, `${what}: "${text}" is not a valid IP address`);
      return undefined;
    }
    const fam: Family = v === 4 ? 'inet' : 'inet6';
    if (family && fam !== family) {
      this.diags.error(loc, `${what}: ${text} is ${fam === 'inet' ? 'IPv4' : 'IPv6'} but ${family === 'inet' ? 'IPv4' : 'IPv6'} is needed here`);
      return undefined;
    }
    return { address: canonicalIp(text.split('%')[0]!), family: fam };
  }

  port(s: Stmt, i: number, what = `${s.name.text} port`): number | undefined {
    return this.int(s, i, 0, 65535, what);
  }

  /** script command: first argument (quoted strings may hold arguments) + optional user [group] */
  script(s: Stmt): { cmd: string; user?: ScriptUser } | undefined {
    if (!this.arity(s, 1, 3)) return undefined;
    const cmd = s.args[0]!.text;
    if (cmd.trim() === '') {
      this.diags.error(this.loc(s, 0), `${s.name.text}: empty script`);
      return undefined;
    }
    const user = s.args[1] ? { user: s.args[1].text, ...(s.args[2] ? { group: s.args[2].text } : {}) } : undefined;
    return { cmd, ...(user ? { user } : {}) };
  }

  block(s: Stmt): Stmt[] | undefined {
    if (!s.block) {
      this.diags.error(this.loc(s), `${s.name.text} needs a block { ... }`);
      return undefined;
    }
    return s.block;
  }

  /** Run handlers over a block; unknown keywords are warnings with their location. */
  dispatch<T>(stmts: readonly Stmt[], handlers: Handlers<T>, target: T, where: string, ignored: ReadonlySet<string> = NONE): void {
    for (const s of stmts) {
      const h = Object.prototype.hasOwnProperty.call(handlers, s.name.text) ? handlers[s.name.text] : undefined;
      if (h) h(s, target, this);
      else if (ignored.has(s.name.text)) this.diags.warning(this.loc(s), `${s.name.text} (in ${where}) is a keepalived option lvsd does not support; ignored`);
      else this.diags.warning(this.loc(s), `unknown keyword "${s.name.text}" in ${where}; ignored`);
    }
  }

  /** Plain list block: every statement's words are items (virtual_ipaddress, group, ...). */
  items(s: Stmt): Stmt[] {
    const b = this.block(s);
    if (!b) return [];
    if (s.args.length) this.diags.warning(this.loc(s, 0), `${s.name.text}: words before the block ignored`);
    return b;
  }
}

/** Keys of O whose values are V (optional ones included). */
type KeysOf<O, V> = { [K in keyof O]-?: NonNullable<O[K]> extends V ? K : never }[keyof O] & string;

/**
 * Handlers that read one value and, when it is valid, store it in a field: the shape most
 * keywords have. `at` picks the object the fields live on (e.g. an instance draft's `inst`).
 */
export function fields<T, O = T>(at: (t: T) => O = (t) => t as unknown as O) {
  const put =
    <V>(read: (s: Stmt, c: Ctx) => V | undefined, k: string): Handler<T> =>
    (s, t, c) => {
      const v = read(s, c);
      if (v !== undefined) (at(t) as Record<string, unknown>)[k] = v;
    };
  return {
    /** `keyword` or `keyword true|false` */
    flag: (k: KeysOf<O, boolean>): Handler<T> => put((s, c) => c.flag(s), k),
    int: (k: KeysOf<O, number>, min: number, max: number): Handler<T> => put((s, c) => c.intStmt(s, min, max), k),
    /** seconds in the config, ms in the model */
    timer: (k: KeysOf<O, number>, minS: number, maxS: number): Handler<T> => put((s, c) => c.timerStmt(s, minS, maxS), k),
    str: (k: KeysOf<O, string>): Handler<T> => put((s, c) => c.str(s), k),
  };
}
