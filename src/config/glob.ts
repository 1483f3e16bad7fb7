// Minimal glob for `include`: brace expansion, then `*`, `?` and `[...]` per path segment.
// (Node 20 has no fs.glob.) Results are sorted, like glob(3); dot files need an explicit dot.
import path from 'node:path';

const MAX_BRACE_RESULTS = 1024;

/** "a{b,c}d" -> ["abd", "acd"], nested braces supported, bounded. */
export function expandBraces(p: string): string[] {
  const open = findBrace(p);
  if (!open) return [p];
  const { start, end, parts } = open;
  const out: string[] = [];
  for (const part of parts) {
    for (const e of expandBraces(p.slice(0, start) + part + p.slice(end + 1))) {
      out.push(e);
      if (out.length >= MAX_BRACE_RESULTS) return out;
    }
  }
  return out;
}

function findBrace(p: string): { start: number; end: number; parts: string[] } | null {
  for (let i = 0; i < p.length; i++) {
    if (p[i] !== '{') continue;
    let depth = 0;
    const parts: string[] = [];
    let segStart = i + 1;
    for (let j = i; j < p.length; j++) {
      if (p[j] === '{') depth++;
      else if (p[j] === '}') {
        depth--;
        if (depth === 0) {
          parts.push(p.slice(segStart, j));
          if (parts.length > 1) return { start: i, end: j, parts };
          break;
        }
      } else if (p[j] === ',' && depth === 1) {
        parts.push(p.slice(segStart, j));
        segStart = j + 1;
      }
    }
  }
  return null;
}

export function hasGlobMagic(p: string): boolean {
  return /[*?[]/.test(p);
}

function segmentRegex(seg: string): RegExp {
  let re = '^';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = seg.indexOf(']', i + 2);
      if (close < 0) re += '\\[';
      else {
        let body = seg.slice(i + 1, close);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += '[' + body.replace(/\\/g, '\\\\') + ']';
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

/** Expand an absolute pattern against the file system (through readDir). */
export function globFiles(pattern: string, readDir: (dir: string) => string[]): string[] {
  const root = path.parse(pattern).root;
  const segs = pattern.slice(root.length).split('/').filter((s) => s !== '');
  let current = [root];
  for (let k = 0; k < segs.length; k++) {
    const seg = segs[k]!;
    const next: string[] = [];
    for (const dir of current) {
      if (!hasGlobMagic(seg)) {
        next.push(path.join(dir, seg));
        continue;
      }
      let entries: string[];
      try {
        entries = readDir(dir);
      } catch {
        continue;
      }
      const re = segmentRegex(seg);
      for (const e of entries.sort()) {
        if (e.startsWith('.') && !seg.startsWith('.')) continue;
        if (re.test(e)) next.push(path.join(dir, e));
      }
    }
    current = next;
  }
  // literal segments after a wildcard may name files that do not exist in every match
  return current.filter((f) => {
    try {
      return readDir(path.dirname(f)).includes(path.basename(f));
    } catch {
      return false;
    }
  });
}
