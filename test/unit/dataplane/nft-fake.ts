// A small in-memory stand-in for nftables that understands the commands the lvsd engine writes
// (add/delete/flush of tables, maps, sets, chains, rules, elements) and answers `list table` /
// `list map|set` with JSON shaped like nft 1.0.6's (the shapes the system tests check against the
// real thing). A batch is all-or-nothing and errors name "fake:LINE:1", like nft's "FILE:LINE:COL".
import type { NftResult, NftTransport, RunMode } from '../../../src/dataplane/nftables/transport.js';

interface FSet {
  kind: 'set' | 'map';
  decl: string;
  elems: Map<string, { value?: string; comment?: string }>;
}
interface FChain {
  decl?: string;
  rules: { text: string; comment: string }[];
}
interface FTable {
  sets: Map<string, FSet>;
  chains: Map<string, FChain>;
}
type State = Map<string, FTable>; // "<family> <name>"

class NftError extends Error {}

function clone(s: State): State {
  const out: State = new Map();
  for (const [k, t] of s) {
    out.set(k, {
      sets: new Map([...t.sets].map(([n, x]) => [n, { kind: x.kind, decl: x.decl, elems: new Map([...x.elems].map(([ek, ev]) => [ek, { ...ev }])) }])),
      chains: new Map([...t.chains].map(([n, c]) => [n, { ...(c.decl ? { decl: c.decl } : {}), rules: c.rules.map((r) => ({ ...r })) }])),
    });
  }
  return out;
}

/** split "a, b comment \"x, y\", c" at top-level commas */
function splitItems(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (const ch of s) {
    if (ch === '"') q = !q;
    if (ch === ',' && !q) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function parseItem(item: string): { key: string; value?: string; comment?: string } {
  const m = /^(.*?)(?: comment "([^"]*)")?(?: : (.*))?$/.exec(item)!;
  return { key: m[1]!.trim(), ...(m[3] !== undefined ? { value: m[3].trim() } : {}), ...(m[2] !== undefined ? { comment: m[2] } : {}) };
}

const tok = (t: string): unknown => (/^\d+$/.test(t) ? Number(t) : t);
function jsonOf(text: string): unknown {
  const v = /^(goto|jump) (\S+)$/.exec(text);
  if (v) return { [v[1]!]: { target: v[2] } };
  const parts = text.split(' . ');
  return parts.length === 1 ? tok(parts[0]!) : { concat: parts.map(tok) };
}

function prio(p: string): number {
  const t = p.trim();
  const base: Record<string, number> = { dstnat: -100, srcnat: 100, filter: 0, raw: -300, mangle: -150 };
  const m = /^(\w+|-?\d+)(?:\s*([+-])\s*(\d+))?$/.exec(t);
  if (!m) return NaN;
  const b = base[m[1]!] ?? Number(m[1]);
  return m[2] ? b + (m[2] === '+' ? 1 : -1) * Number(m[3]) : b;
}

export class FakeNft implements NftTransport {
  readonly kind = 'spawn' as const;
  state: State = new Map();
  /** every batch run (write batches only) */
  readonly batches: string[] = [];
  /** make the next write batch fail at the first line matching this */
  failOn: RegExp | null = null;
  /** every list command run */
  readonly listed: string[] = [];

  async run(commands: string, mode?: RunMode | boolean): Promise<NftResult> {
    const m: RunMode = typeof mode === 'boolean' ? { json: mode } : (mode ?? {});
    const lines = commands.split('\n').filter((l) => l.trim() !== '');
    if (lines.length === 1 && lines[0]!.startsWith('list ')) {
      this.listed.push(lines[0]!);
      try {
        return { rc: 0, output: this.list(lines[0]!, !!m.terse), error: '' };
      } catch (e) {
        return { rc: 1, output: '', error: `fake:1:1: Error: ${(e as Error).message}\n${lines[0]}\n` };
      }
    }
    this.batches.push(commands);
    const work = clone(this.state);
    for (let i = 0; i < lines.length; i++) {
      try {
        if (this.failOn && this.failOn.test(lines[i]!)) {
          this.failOn = null;
          throw new NftError('Could not process rule: Invalid argument (injected)');
        }
        this.exec(work, lines[i]!);
      } catch (e) {
        return { rc: 1, output: '', error: `fake:${i + 1}:1: Error: ${(e as Error).message}\n${lines[i]}\n` };
      }
    }
    this.state = work;
    return { rc: 0, output: '', error: '' };
  }

  close(): void {}

  private table(s: State, fam: string, name: string): FTable {
    const t = s.get(`${fam} ${name}`);
    if (!t) throw new NftError('No such file or directory');
    return t;
  }

  private exec(s: State, line: string): void {
    let m: RegExpExecArray | null;
    if ((m = /^add table (\w+) (\w+)$/.exec(line))) {
      if (!s.has(`${m[1]} ${m[2]}`)) s.set(`${m[1]} ${m[2]}`, { sets: new Map(), chains: new Map() });
    } else if ((m = /^delete table (\w+) (\w+)$/.exec(line))) {
      this.table(s, m[1]!, m[2]!);
      s.delete(`${m[1]} ${m[2]}`);
    } else if ((m = /^add (map|set) (\w+) (\w+) (\w+) (\{.*\})$/.exec(line))) {
      const t = this.table(s, m[2]!, m[3]!);
      if (!t.sets.has(m[4]!)) t.sets.set(m[4]!, { kind: m[1] as 'set' | 'map', decl: m[5]!, elems: new Map() });
    } else if ((m = /^delete (map|set) (\w+) (\w+) (\w+)$/.exec(line))) {
      const t = this.table(s, m[2]!, m[3]!);
      if (!t.sets.has(m[4]!)) throw new NftError('No such file or directory');
      for (const c of t.chains.values()) if (c.rules.some((r) => r.text.includes(`@${m![4]} `) || r.text.endsWith(`@${m![4]}`))) throw new NftError('Device or resource busy');
      t.sets.delete(m[4]!);
    } else if ((m = /^add chain (\w+) (\w+) (\w+)(?: (\{.*\}))?$/.exec(line))) {
      const t = this.table(s, m[1]!, m[2]!);
      if (!t.chains.has(m[3]!)) t.chains.set(m[3]!, { ...(m[4] ? { decl: m[4] } : {}), rules: [] });
    } else if ((m = /^flush chain (\w+) (\w+) (\w+)$/.exec(line))) {
      const c = this.table(s, m[1]!, m[2]!).chains.get(m[3]!);
      if (!c) throw new NftError('No such file or directory');
      c.rules = [];
    } else if ((m = /^delete chain (\w+) (\w+) (\w+)$/.exec(line))) {
      const t = this.table(s, m[1]!, m[2]!);
      const c = t.chains.get(m[3]!);
      if (!c) throw new NftError('No such file or directory');
      const used = [...t.sets.values()].some((x) => [...x.elems.values()].some((e) => e.value === `goto ${m![3]}` || e.value === `jump ${m![3]}`));
      if (c.rules.length > 0 || used) throw new NftError('Device or resource busy');
      t.chains.delete(m[3]!);
    } else if ((m = /^add rule (\w+) (\w+) (\w+) (.*?)(?: comment "([^"]*)")?$/.exec(line))) {
      const t = this.table(s, m[1]!, m[2]!);
      const c = t.chains.get(m[3]!);
      if (!c) throw new NftError('No such file or directory');
      for (const ref of m[4]!.matchAll(/@(\w+)/g)) if (!t.sets.has(ref[1]!)) throw new NftError(`Could not process rule: No such file or directory (@${ref[1]})`);
      c.rules.push({ text: m[4]!, comment: m[5] ?? '' });
    } else if ((m = /^(add|delete) element (\w+) (\w+) (\w+) \{ (.*) \}$/.exec(line))) {
      const t = this.table(s, m[2]!, m[3]!);
      const set = t.sets.get(m[4]!);
      if (!set) throw new NftError('No such file or directory');
      for (const it of splitItems(m[5]!)) {
        const e = parseItem(it);
        if (m[1] === 'delete') {
          if (!set.elems.delete(e.key)) throw new NftError('Could not process rule: No such file or directory');
          continue;
        }
        if (set.kind === 'map' && e.value === undefined) throw new NftError('map element without data');
        const v = e.value && /^(goto|jump) (\w+)$/.exec(e.value);
        if (v && !t.chains.has(v[2]!)) throw new NftError('Could not process rule: No such file or directory');
        const cur = set.elems.get(e.key);
        if (cur && cur.value !== e.value) throw new NftError('Could not process rule: File exists');
        set.elems.set(e.key, { ...(e.value !== undefined ? { value: e.value } : {}), ...(e.comment !== undefined ? { comment: e.comment } : {}) });
      }
    } else {
      throw new NftError(`syntax error (fake does not know "${line.slice(0, 60)}")`);
    }
  }

  private setJson(fam: string, table: string, name: string, x: FSet, terse: boolean): unknown {
    const o: Record<string, unknown> = { family: fam, name, table, type: 'x' };
    if (x.kind === 'map') o.map = 'y';
    if (!terse && x.elems.size > 0) {
      o.elem = [...x.elems].map(([k, e]) => {
        const key = e.comment !== undefined ? { elem: { val: jsonOf(k), comment: e.comment } } : jsonOf(k);
        return x.kind === 'map' ? [key, jsonOf(e.value!)] : key;
      });
    }
    return { [x.kind]: o };
  }

  private tableItems(fam: string, name: string, t: FTable, terse: boolean): unknown[] {
    const items: unknown[] = [{ table: { family: fam, name, handle: 1 } }];
    for (const [n, x] of t.sets) items.push(this.setJson(fam, name, n, x, terse));
    for (const [n, c] of t.chains) {
      const o: Record<string, unknown> = { family: fam, table: name, name: n, handle: 1 };
      const h = c.decl && /type (\w+) hook (\w+)(?: device "[^"]*")? priority ([^;]+);/.exec(c.decl);
      if (h) Object.assign(o, { type: h[1], hook: h[2], prio: prio(h[3]!), policy: 'accept' });
      items.push({ chain: o });
    }
    for (const [n, c] of t.chains) for (const r of c.rules) items.push({ rule: { family: fam, table: name, chain: n, handle: 1, ...(r.comment ? { comment: r.comment } : {}), expr: [] } });
    return items;
  }

  private list(line: string, terse: boolean): string {
    const meta = { metainfo: { version: '1.0.6', release_name: 'fake', json_schema_version: 1 } };
    let m: RegExpExecArray | null;
    if (line === 'list ruleset') {
      const items: unknown[] = [meta];
      for (const [k, t] of this.state) {
        const [fam, name] = k.split(' ') as [string, string];
        items.push(...this.tableItems(fam, name, t, terse));
      }
      return `${JSON.stringify({ nftables: items })}\n`;
    }
    if ((m = /^list table (\w+) (\w+)$/.exec(line))) {
      const t = this.table(this.state, m[1]!, m[2]!);
      return `${JSON.stringify({ nftables: [meta, ...this.tableItems(m[1]!, m[2]!, t, terse)] })}\n`;
    }
    if ((m = /^list (map|set) (\w+) (\w+) (\w+)$/.exec(line))) {
      const x = this.table(this.state, m[2]!, m[3]!).sets.get(m[4]!);
      if (!x || x.kind !== m[1]) throw new NftError('No such file or directory');
      return `${JSON.stringify({ nftables: [meta, this.setJson(m[2]!, m[3]!, m[4]!, x, terse)] })}\n`;
    }
    throw new NftError('fake cannot list that');
  }
}
