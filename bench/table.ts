// The Markdown table every benchmark prints its results in. `align`: one letter per column,
// 'l' (default) or 'r' (numbers); right-aligned columns get a `---:` rule.
export function table(head: readonly string[], rows: readonly (readonly string[])[], align: string = ''): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const right = (i: number): boolean => align[i] === 'r';
  const line = (r: readonly string[]): string => `| ${w.map((n, i) => (right(i) ? (r[i] ?? '').padStart(n) : (r[i] ?? '').padEnd(n))).join(' | ')} |`;
  const rule = `|${w.map((n, i) => (right(i) ? `${'-'.repeat(n + 1)}:` : '-'.repeat(n + 2))).join('|')}|`;
  return [line(head), rule, ...rows.map(line)].join('\n');
}
