// Every file in test/fixtures/config/bad declares, in its header, the exit code and the
// diagnostics `lvsd check` must print. Each runs in a real child process so that an uncaught
// exception or a stack trace would show.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../../..');
const DIR = path.join(ROOT, 'test/fixtures/config/bad');
const BIN = path.join(ROOT, 'bin/lvsd.js');

interface Expect {
  file: string;
  line: number;
  severity: 'error' | 'warning';
  re: RegExp;
}

function header(file: string): { exit: number; expects: Expect[] } {
  const text = fs.readFileSync(path.join(DIR, file), 'utf8');
  const exit = Number(/^# expect-exit: (\d+)$/m.exec(text)![1]);
  const expects = [...text.matchAll(/^# expect: (?:(\S+):)?(\d+) (error|warning) (.*)$/gm)].map((m) => ({
    file: path.join(DIR, m[1] ?? file),
    line: Number(m[2]),
    severity: m[3] as 'error' | 'warning',
    re: new RegExp(m[4]!),
  }));
  return { exit, expects };
}

const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.conf')).sort();

describe('malformed configuration corpus', () => {
  it('has at least 30 cases', () => {
    expect(files.length).toBeGreaterThanOrEqual(30);
  });

  it.each(files)('%s', async (file) => {
    const { exit, expects } = header(file);
    expect(expects.length).toBeGreaterThan(0);
    let stdout = '';
    let stderr = '';
    let code = 0;
    try {
      ({ stdout, stderr } = await run(process.execPath, [BIN, 'check', '--no-host-checks', '-i', 'lvs1', '-f', path.join(DIR, file)]));
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      ({ code, stdout, stderr } = err);
    }
    const out = stdout + stderr;
    expect(out).not.toMatch(/\n\s+at .+\(.*:\d+:\d+\)/); // no stack trace
    expect(out).not.toMatch(/Uncaught|TypeError|RangeError|ReferenceError/);
    expect(code).toBe(exit);
    expect(code).not.toBe(0);
    const lines = stderr.split('\n').filter(Boolean);
    for (const line of lines) expect(line).toMatch(/^.+:\d+:\d+: (error|warning): .+$/);
    for (const e of expects) {
      const hit = lines.find((l) => {
        const m = /^(.+):(\d+):(\d+): (error|warning): (.*)$/.exec(l);
        return m && path.resolve(m[1]!) === e.file && Number(m[2]) === e.line && m[4] === e.severity && e.re.test(m[5]!);
      });
      expect(hit, `expected ${e.severity} at ${path.basename(e.file)}:${e.line} matching ${e.re} in:\n${stderr}`).toBeDefined();
    }
  });
});
