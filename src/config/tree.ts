// Statements and blocks from the token stream (grammar-agnostic), built incrementally.
//
// A statement is a keyword with arguments up to the end of its logical line; `{` opens its
// block (also when the brace stands alone on the next line); `}` closes the block. Several
// statements may share a line inside braces (`authentication { auth_type PASS }`).
// Each completed top-level statement is handed to a consumer at once, so a large file never
// holds all of its tokens in memory.
import { ConfigError, type Diagnostics } from './diagnostics.js';
import { type Token, TokKind } from './lexer.js';
import type { SourceLoc } from './model.js';

export interface Stmt {
  name: Token;
  args: Token[];
  block: Stmt[] | null;
}

export const locOf = (t: Token): SourceLoc => ({ file: t.file, line: t.line, col: t.col });

export const MAX_BLOCK_DEPTH = 32;

export class TreeBuilder {
  // each open block: its statement list and the `{` that opened it
  private readonly stack: { list: Stmt[]; open: Token }[] = [];
  private current: Stmt | null = null;
  /** the statement that ended at the previous end of line, which a lone `{` may belong to */
  private lastEnded: Stmt | null = null;
  /** a finished top-level statement, held until we know no `{` on the next line belongs to it */
  private pendingTop: Stmt | null = null;

  constructor(
    private readonly diags: Diagnostics,
    private readonly onTopLevel: (s: Stmt) => void,
    private readonly maxDepth = MAX_BLOCK_DEPTH,
  ) {}

  private flushTop(): void {
    if (this.pendingTop) {
      const s = this.pendingTop;
      this.pendingTop = null;
      this.onTopLevel(s);
    }
  }

  private finish(): void {
    const s = this.current;
    if (!s) return;
    this.current = null;
    this.lastEnded = s;
    if (this.stack.length) this.stack[this.stack.length - 1]!.list.push(s);
    else this.pendingTop = s;
  }

  private open(owner: Stmt, tok: Token): void {
    if (this.stack.length >= this.maxDepth) {
      const message = `blocks nested deeper than ${this.maxDepth} levels`;
      this.diags.fatal(locOf(tok), message);
      throw new ConfigError(message);
    }
    owner.block = [];
    this.stack.push({ list: owner.block, open: tok });
  }

  push(t: Token): void {
    if (t.kind !== TokKind.Eol && t.kind !== TokKind.Open && this.stack.length === 0) this.flushTop();
    switch (t.kind) {
      case TokKind.Word:
      case TokKind.Str:
        if (this.current) this.current.args.push(t);
        else this.current = { name: t, args: [], block: null };
        break;
      case TokKind.Eol:
        if (this.current) this.finish();
        else this.lastEnded = null;
        break;
      case TokKind.Open: {
        const prev = this.lastEnded;
        if (this.current) {
          const owner = this.current;
          this.finish();
          this.lastEnded = null;
          this.open(owner, t);
        } else if (prev && prev.block === null && prev.name.line !== t.line) {
          this.lastEnded = null;
          this.open(prev, t);
        } else {
          this.diags.error(locOf(t), "'{' without a keyword before it; block ignored");
          // keep braces balanced: the block is parsed into a statement that is never attached
          this.open({ name: t, args: [], block: null }, t);
          this.lastEnded = null;
        }
        break;
      }
      case TokKind.Close:
        this.finish();
        this.lastEnded = null;
        if (this.stack.length === 0) this.diags.error(locOf(t), "unmatched '}' ignored");
        else this.stack.pop();
        break;
    }
  }

  end(): void {
    this.finish();
    while (this.stack.length) {
      const { open } = this.stack.pop()!;
      this.diags.error(locOf(open), "block opened here is not closed before the end of the configuration (missing '}')");
    }
    this.flushTop();
  }
}

/** Whole-array convenience (tests, tools). */
export function buildTree(tokens: readonly Token[], diags: Diagnostics, maxDepth = MAX_BLOCK_DEPTH): Stmt[] {
  const out: Stmt[] = [];
  const b = new TreeBuilder(diags, (s) => out.push(s), maxDepth);
  for (const t of tokens) b.push(t);
  b.end();
  return out;
}
