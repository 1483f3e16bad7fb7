// Reading keepalived.conf into a token stream: files, `include` (globs, relative to the
// including file, cycles refused), `$NAME=value` macros (multi-line with `\`, `$NAME` and
// `${NAME}` substitution, recursive at use time), conditional lines `@id` / `@^id`, comments.
// Hostile input is bounded: file/total sizes, include depth, line length, macro depth and
// expansion volume. Exceeding a bound throws ConfigError; everything else is a diagnostic.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, Diagnostics } from './diagnostics.js';
import { type LogicalLine, type Token, TokKind, stripComment, tokenizeLine, type LexProblem } from './lexer.js';
import { expandBraces, globFiles, hasGlobMagic } from './glob.js';
import type { SourceLoc } from './model.js';

export interface SourceLimits {
  maxFileBytes: number;
  maxTotalBytes: number;
  maxIncludeDepth: number;
  maxFiles: number;
  maxLineBytes: number;
  maxMacroDepth: number;
  /** total text produced by macro expansion, across the whole config */
  maxExpandedBytes: number;
}

export const DEFAULT_LIMITS: SourceLimits = {
  maxFileBytes: 64 * 1024 * 1024,
  maxTotalBytes: 256 * 1024 * 1024,
  maxIncludeDepth: 32,
  maxFiles: 10_000,
  maxLineBytes: 64 * 1024,
  maxMacroDepth: 16,
  maxExpandedBytes: 64 * 1024 * 1024,
};

export interface SourceOptions {
  /** matched by `@id` lines; keepalived's default is the short host name */
  configId: string;
  limits?: Partial<SourceLimits>;
  /** read a file (tests inject an in-memory file system) */
  readFile?: (file: string) => string;
  /** list a directory for include globs */
  readDir?: (dir: string) => string[];
  /** canonical identity of a file for cycle detection */
  realPath?: (file: string) => string;
}

export interface SourceResult {
  /** every token, when no sink was given */
  tokens: Token[];
  files: string[];
}

interface Macro {
  value: string;
  loc: SourceLoc;
}

/** end of a logical line: carries no location anyone reads, so one shared token will do */
const EOL: Token = { kind: TokKind.Eol, text: '', file: '', line: 0, col: 0 };

const INCLUDE_WORDS = new Set(['include', 'includer', 'includem', 'includew', 'includeb', 'includea']);
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*/;

class Reader {
  readonly files: string[] = [];
  /** per-line scratch, reused */
  private readonly lineTokens: Token[] = [];
  private readonly macros = new Map<string, Macro>();
  private readonly stack: string[] = [];
  private totalBytes = 0;
  private expandedBytes = 0;
  private readonly limits: SourceLimits;
  private readonly readFile: (f: string) => string;
  private readonly realPath: (f: string) => string;
  private readonly readDir: (d: string) => string[];
  private readonly warnedUndefined = new Set<string>();

  constructor(
    private readonly opts: SourceOptions,
    private readonly diags: Diagnostics,
    private readonly sink: (t: Token) => void,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.readFile =
      opts.readFile ??
      ((f) => {
        const st = fs.statSync(f);
        if (!st.isFile()) throw new Error('not a regular file');
        if (st.size > this.limits.maxFileBytes) throw new ConfigError(`${f}: file larger than ${this.limits.maxFileBytes} bytes`);
        return fs.readFileSync(f, 'utf8');
      });
    this.realPath = opts.realPath ?? ((f) => fs.realpathSync(f));
    this.readDir = opts.readDir ?? ((d) => fs.readdirSync(d));
  }

  private fatal(loc: SourceLoc, message: string): never {
    this.diags.fatal(loc, message);
    throw new ConfigError(message, [{ severity: 'fatal', loc, message }]);
  }

  readMain(file: string): void {
    const loc = { file, line: 0, col: 0 };
    let text: string;
    try {
      text = this.readFile(file);
    } catch (e) {
      if (e instanceof ConfigError) this.fatal(loc, e.message);
      this.fatal(loc, `cannot read configuration file: ${(e as Error).message}`);
    }
    let real = file;
    try {
      real = this.realPath(file);
    } catch {
      // keep the given name
    }
    this.readText(file, real, text, loc);
  }

  private readText(file: string, real: string, text: string, from: SourceLoc): void {
    if (this.stack.length >= this.limits.maxIncludeDepth) this.fatal(from, `include depth exceeds ${this.limits.maxIncludeDepth}`);
    if (this.files.length >= this.limits.maxFiles) this.fatal(from, `more than ${this.limits.maxFiles} configuration files`);
    this.totalBytes += text.length;
    if (this.totalBytes > this.limits.maxTotalBytes) this.fatal(from, `configuration larger than ${this.limits.maxTotalBytes} bytes in total`);
    if (text.length > this.limits.maxFileBytes) this.fatal(from, `${file}: file larger than ${this.limits.maxFileBytes} bytes`);
    this.files.push(file);
    this.stack.push(real);
    try {
      this.readLines(file, text);
    } finally {
      this.stack.pop();
    }
  }

  private readLines(file: string, text: string): void {
    // walk the text line by line instead of splitting it: a large file then never holds an
    // array of all its lines next to the text itself
    let pos = 0;
    let lineNo = 0;
    const nextLine = (): string | undefined => {
      if (pos > text.length) return undefined;
      let end = text.indexOf('\n', pos);
      if (end < 0) end = text.length;
      const l = text.slice(pos, end);
      pos = end + 1;
      lineNo++;
      return l;
    };
    for (let raw = nextLine(); raw !== undefined; raw = nextLine()) {
      if (raw.length > this.limits.maxLineBytes) {
        this.diags.error({ file, line: lineNo, col: 1 }, `line longer than ${this.limits.maxLineBytes} bytes ignored`);
        continue;
      }
      raw = stripComment(raw);
      // conditional line: @id or @^id
      let offset = 0;
      let lead = 0;
      while (lead < raw.length && (raw.charCodeAt(lead) === 32 || raw.charCodeAt(lead) === 9)) lead++;
      if (raw.charCodeAt(lead) === 64 /* @ */) {
        const m = /^@(\^?)([^ \t]*)[ \t]*/.exec(raw.slice(lead))!;
        const negate = m[1] === '^';
        const id = m[2]!;
        if (id === '') {
          this.diags.error({ file, line: lineNo, col: lead + 1 }, 'conditional line without an id after @');
          continue;
        }
        const match = id === this.opts.configId;
        if (match === negate) continue;
        offset = lead + m[0].length;
      }
      const body = offset ? raw.slice(offset) : raw;
      // macro definition: $NAME=value, multi-line with a trailing backslash
      const def = body.includes('$') ? /^[ \t]*\$([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(body) : null;
      if (def) {
        let value = def[2]!;
        const loc = { file, line: lineNo, col: offset + body.indexOf('$') + 1 };
        while (/\\[ \t]*$/.test(value)) {
          value = value.replace(/\\[ \t]*$/, '');
          const more = nextLine();
          if (more === undefined) {
            this.diags.error(loc, `multi-line definition of $${def[1]} runs past the end of the file`);
            break;
          }
          value += '\n' + stripComment(more);
          if (value.length > this.limits.maxLineBytes * 16) this.fatal(loc, `definition of $${def[1]} is too long`);
        }
        this.macros.set(def[1]!, { value: value.trim(), loc });
        continue;
      }
      const cols0 = offset > 0 ? Array.from({ length: body.length }, (_, k) => offset + k + 1) : undefined;
      let logical: LogicalLine = { file, line: lineNo, text: body, ...(cols0 ? { cols: cols0 } : {}) };
      if (body.includes('$')) logical = this.expand(logical);
      for (const part of splitLogical(logical)) this.emitLine(part);
    }
  }

  /** Substitute $NAME / ${NAME}; recursive at use time, bounded. */
  private expand(ll: LogicalLine): LogicalLine {
    const outText: string[] = [];
    const outCols: number[] = [];
    const colOf = (i: number): number => (ll.cols ? ll.cols[i]! : i + 1);
    const walk = (text: string, depth: number, fixedCol: number | null, base: (i: number) => number): void => {
      let i = 0;
      let inStr = false;
      while (i < text.length) {
        const c = text[i]!;
        if (c === '"') inStr = !inStr;
        if (c === '$') {
          let name: string | undefined;
          let len = 0;
          if (text[i + 1] === '{') {
            const close = text.indexOf('}', i + 2);
            if (close > i + 2) {
              name = text.slice(i + 2, close).trim();
              len = close - i + 1;
            }
          } else {
            const m = NAME_RE.exec(text.slice(i + 1, i + 65));
            if (m) {
              name = m[0];
              len = m[0].length + 1;
            }
          }
          if (name !== undefined) {
            const value = this.lookup(name, ll.file);
            const at = fixedCol ?? base(i);
            if (value !== undefined) {
              const here = { file: ll.file, line: ll.line, col: at };
              if (depth >= this.limits.maxMacroDepth) {
                this.fatal(here, `macro $${name} nests deeper than ${this.limits.maxMacroDepth} levels (recursive definition?)`);
              }
              this.expandedBytes += value.length;
              if (this.expandedBytes > this.limits.maxExpandedBytes) this.fatal(here, `macro expansion exceeds ${this.limits.maxExpandedBytes} bytes`);
              walk(value, depth + 1, at, () => at);
              i += len;
              continue;
            }
            if (!inStr && depth === 0 && !this.warnedUndefined.has(`${ll.file}:${ll.line}:${name}`)) {
              this.warnedUndefined.add(`${ll.file}:${ll.line}:${name}`);
              this.diags.warning({ file: ll.file, line: ll.line, col: at }, `$${name} is not defined; left as is`);
            }
          }
        }
        outText.push(c);
        outCols.push(fixedCol ?? base(i));
        i++;
        if (outText.length > this.limits.maxLineBytes * 64) this.fatal({ file: ll.file, line: ll.line, col: colOf(0) }, 'line too long after macro expansion');
      }
    };
    walk(ll.text, 0, null, colOf);
    return { file: ll.file, line: ll.line, text: outText.join(''), cols: outCols };
  }

  private lookup(name: string, file: string): string | undefined {
    if (name === '_PWD') return path.dirname(path.resolve(file));
    return this.macros.get(name)?.value;
  }

  private emitLine(ll: LogicalLine): void {
    // include lines are taken raw: a pattern may hold braces ({a,b}.conf) that are not blocks
    const inc = ll.text.includes('include') ? /^([ \t]*)(include[rmwba]?)[ \t]+(.*?)[ \t]*$/.exec(ll.text) : null;
    if (inc && INCLUDE_WORDS.has(inc[2]!)) {
      const col = (i: number): number => (ll.cols ? ll.cols[i]! : i + 1);
      const at = inc[1]!.length;
      let pattern = inc[3]!;
      if (pattern.length >= 2 && pattern.startsWith('"') && pattern.endsWith('"')) pattern = pattern.slice(1, -1);
      this.include({ file: ll.file, line: ll.line, col: col(at) }, inc[2]!, pattern);
      return;
    }
    const toks = this.lineTokens;
    toks.length = 0;
    const problems: LexProblem[] = [];
    tokenizeLine(ll, toks, problems);
    for (const p of problems) this.diags.error({ file: ll.file, line: ll.line, col: p.col }, p.message);
    if (toks.length === 0) return;
    const first = toks[0]!;
    if (first.kind === TokKind.Word && INCLUDE_WORDS.has(first.text) && toks.length === 1) {
      this.diags.error({ file: first.file, line: first.line, col: first.col }, `${first.text} needs a file name or pattern`);
      return;
    }
    for (const t of toks) this.sink(t);
    this.sink(EOL);
  }

  private include(loc: SourceLoc, word: string, pattern: string): void {
    if (/\s/.test(pattern)) {
      this.diags.warning(loc, `${word}: only one pattern per line; extra words ignored`);
      pattern = pattern.split(/\s+/)[0]!;
    }
    const dir = path.dirname(loc.file);
    const patterns = expandBraces(pattern).map((p) => (path.isAbsolute(p) ? p : path.join(dir, p)));
    const files: string[] = [];
    for (const p of patterns) {
      if (hasGlobMagic(p)) {
        const matched = globFiles(p, this.readDir);
        if (matched.length === 0) this.diags.warning(loc, `include pattern "${pattern}" matches no file`);
        files.push(...matched);
      } else files.push(p);
    }
    for (const f of files) {
      let real = f;
      let text: string;
      try {
        real = this.realPath(f);
        text = this.readFile(f);
      } catch (e) {
        if (e instanceof ConfigError) this.fatal(loc, e.message);
        this.diags.error(loc, `cannot read included file ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        continue;
      }
      if (this.stack.includes(real)) {
        this.diags.error(loc, `include cycle: ${f} is already being read (${[...this.stack, real].map((x) => path.basename(x)).join(' -> ')})`);
        continue;
      }
      this.readText(f, real, text, loc);
    }
  }
}

/** A multi-line macro produces several logical lines that share the physical line number. */
function splitLogical(ll: LogicalLine): LogicalLine[] {
  if (!ll.text.includes('\n')) return [ll];
  const out: LogicalLine[] = [];
  let start = 0;
  for (let i = 0; i <= ll.text.length; i++) {
    if (i === ll.text.length || ll.text[i] === '\n') {
      out.push({
        file: ll.file,
        line: ll.line,
        text: ll.text.slice(start, i),
        cols: ll.cols ? ll.cols.slice(start, i) : Array.from({ length: i - start }, (_, k) => start + k + 1),
      });
      start = i + 1;
    }
  }
  return out;
}

/** Read a configuration; tokens go to `sink` as they are produced (or are collected). */
export function readSource(file: string, opts: SourceOptions, diags: Diagnostics, sink?: (t: Token) => void): SourceResult {
  const tokens: Token[] = [];
  const r = new Reader(opts, diags, sink ?? ((t) => tokens.push(t)));
  r.readMain(file);
  return { tokens, files: r.files };
}
