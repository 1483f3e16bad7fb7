// Tokens of one logical line of keepalived.conf.
//
// keepalived's rules: `#` and `!` start a comment anywhere outside a quoted string; words are
// separated by blanks; `{` and `}` are tokens of their own; a double-quoted string is one token
// (quotes removed, \" and \\ unescaped). The original column of every token is kept, also for
// text that came from a macro expansion (it maps to the macro reference).

export const enum TokKind {
  Word = 0,
  Str = 1,
  Open = 2,
  Close = 3,
  /** end of a logical line: statements end here */
  Eol = 4,
}

export interface Token {
  kind: TokKind;
  text: string;
  file: string;
  line: number;
  col: number;
}

/** A logical line: text plus, for each character, its 1-based column in the physical line. */
export interface LogicalLine {
  file: string;
  line: number;
  text: string;
  /** cols[i] = source column of text[i]; absent means identity (i + 1) */
  cols?: number[];
}

const isBlank = (c: number): boolean => c === 32 || c === 9 || c === 13 || c === 11 || c === 12;

/** Cut a comment (`#` or `!` outside double quotes). */
export function stripComment(text: string): string {
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inStr) {
      if (c === 92 /* \ */) i++;
      else if (c === 34) inStr = false;
    } else if (c === 34) inStr = true;
    else if (c === 35 /* # */ || c === 33 /* ! */) return text.slice(0, i);
  }
  return text;
}

export interface LexProblem {
  col: number;
  message: string;
}

/** Tokenize one logical line. Problems (an unterminated string) are reported, never thrown. */
export function tokenizeLine(ll: LogicalLine, out: Token[], problems: LexProblem[]): void {
  const { text, cols, file, line } = ll;
  const colOf = (i: number): number => (cols ? (cols[i] ?? cols[cols.length - 1] ?? 1) : i + 1);
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (isBlank(c)) {
      i++;
      continue;
    }
    if (c === 123 /* { */ || c === 125 /* } */) {
      out.push({ kind: c === 123 ? TokKind.Open : TokKind.Close, text: c === 123 ? '{' : '}', file, line, col: colOf(i) });
      i++;
      continue;
    }
    if (c === 34 /* " */) {
      const start = i;
      i++;
      let s = '';
      let closed = false;
      let seg = i;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 92 && i + 1 < n) {
          const e = text.charCodeAt(i + 1);
          if (e === 34 || e === 92) {
            s += text.slice(seg, i) + text[i + 1];
            i += 2;
            seg = i;
            continue;
          }
        }
        if (d === 34) {
          closed = true;
          break;
        }
        i++;
      }
      s += text.slice(seg, i);
      if (!closed) problems.push({ col: colOf(start), message: 'unterminated quoted string' });
      else i++;
      out.push({ kind: TokKind.Str, text: s, file, line, col: colOf(start) });
      continue;
    }
    const start = i;
    while (i < n) {
      const d = text.charCodeAt(i);
      if (isBlank(d) || d === 123 || d === 125 || d === 34) break;
      i++;
    }
    out.push({ kind: TokKind.Word, text: text.slice(start, i), file, line, col: colOf(start) });
  }
}
