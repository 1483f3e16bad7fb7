import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FifoError, NotifyFifo, NotifyFifos, toFifoLine } from '../../../src/daemon/fifo.js';
import { ScriptRunner } from '../../../src/daemon/scripts.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsd-fifo-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => path.join(dir, `fifo${n++}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(10);
  }
}

/** `cat FIFO > out` in a child process. */
function reader(fifo: string, out: string): { stop: () => Promise<void> } {
  const child = spawn('/bin/sh', ['-c', `exec cat "$0" > "$1"`, fifo, out], { stdio: 'ignore' });
  return {
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
    },
  };
}

describe('toFifoLine', () => {
  it('one line, exactly one newline', () => {
    expect(toFifoLine('INSTANCE "VI_1" MASTER 100\n')).toBe('INSTANCE "VI_1" MASTER 100\n');
    expect(toFifoLine('RS [1.2.3.4]:tcp:80 UP')).toBe('RS [1.2.3.4]:tcp:80 UP\n');
    expect(toFifoLine('a\nb\r\n')).toBe('a b\n');
  });
});

describe('NotifyFifo', () => {
  it('creates a missing FIFO and unlinks it on close; keeps an existing one', async () => {
    const p = fresh();
    const f = await NotifyFifo.open({ path: p });
    expect(f.created).toBe(true);
    expect(fs.statSync(p).isFIFO()).toBe(true);
    await f.close();
    expect(fs.existsSync(p)).toBe(false);

    const q = fresh();
    await new Promise<void>((res, rej) => spawn('mkfifo', [q]).once('exit', (c) => (c === 0 ? res() : rej(new Error(`mkfifo ${c}`)))));
    const g = await NotifyFifo.open({ path: q });
    expect(g.created).toBe(false);
    await g.close();
    expect(fs.statSync(q).isFIFO()).toBe(true);
  });

  it('refuses a regular file and a symbolic link', async () => {
    const file = fresh();
    fs.writeFileSync(file, 'x');
    await expect(NotifyFifo.open({ path: file })).rejects.toThrow(/not a FIFO/);
    const link = fresh();
    fs.symlinkSync('/dev/null', link);
    await expect(NotifyFifo.open({ path: link })).rejects.toThrow(/symbolic link/);
    await expect(NotifyFifo.open({ path: path.join(dir, 'nodir', 'f') })).rejects.toBeInstanceOf(FifoError);
  });

  it('a reader receives the exact lines in order', async () => {
    const p = fresh();
    const out = fresh();
    const f = await NotifyFifo.open({ path: p });
    const r = reader(p, out);
    const lines = Array.from({ length: 5000 }, (_, i) => `INSTANCE "VI_${i % 7}" ${i % 2 ? 'MASTER' : 'BACKUP'} ${i}`);
    for (const l of lines) expect(f.write(l)).toBe(true);
    await waitFor(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').split('\n').length > lines.length);
    expect(fs.readFileSync(out, 'utf8')).toBe(lines.map((l) => `${l}\n`).join(''));
    expect(f.stats.dropped).toBe(0);
    expect(f.stats.lines).toBe(5000);
    await r.stop();
    await f.close();
  });

  it('without a reader, writing never blocks: the backlog is bounded and the newest lines survive', async () => {
    const p = fresh();
    const logs: string[] = [];
    const f = await NotifyFifo.open({ path: p }, { maxBacklogBytes: 16 * 1024, retryMs: 10, log: (l, m) => logs.push(`${l} ${m}`) });
    const line = (i: number): string => `RS [10.0.0.${i % 250}]:tcp:80 [192.0.2.1]:tcp:80 ${i % 2 ? 'UP' : 'DOWN'} #${String(i).padStart(6, '0')}`;
    const t0 = performance.now();
    const N = 20_000; // ~1.2 MB, far more than the 64 KiB pipe + 16 KiB backlog
    for (let i = 0; i < N; i++) f.write(line(i));
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeLessThan(2000); // no blocking: a blocked write would hang forever
    expect(f.stats.backlogBytes).toBeLessThanOrEqual(16 * 1024);
    expect(f.stats.dropped).toBeGreaterThan(0);
    expect(f.stats.full).toBeGreaterThan(0);
    expect(logs.filter((l) => l.includes('dropping oldest'))).toHaveLength(1);

    // a reader that turns up later gets whole lines, in order, ending with the newest one
    const out = fresh();
    const r = reader(p, out);
    await waitFor(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').endsWith(`${line(N - 1)}\n`));
    const got = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean);
    const nums = got.map((l) => Number(/#(\d+)$/.exec(l)![1]));
    for (let i = 1; i < nums.length; i++) expect(nums[i]).toBeGreaterThan(nums[i - 1]!);
    expect(got.every((l, i) => l === line(nums[i]!))).toBe(true);
    expect(got.length + f.stats.dropped).toBe(N);
    await waitFor(() => logs.some((l) => l.includes('caught up')));
    await r.stop();
    await f.close();
  });

  it('a slow reader does not slow the writer', async () => {
    const p = fresh();
    const f = await NotifyFifo.open({ path: p }, { retryMs: 5 });
    const out = fresh();
    // reads one line every 20 ms
    const child = spawn('/bin/sh', ['-c', 'while IFS= read -r l; do echo "$l"; sleep 0.02; done < "$0" > "$1"', p, out], { stdio: 'ignore' });
    let worst = 0;
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      f.write(`line ${i}`);
      worst = Math.max(worst, performance.now() - t);
    }
    expect(worst).toBeLessThan(20);
    await waitFor(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('line 49\n'), 10_000);
    expect(fs.readFileSync(out, 'utf8')).toBe(Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join(''));
    child.kill();
    await f.close();
  });

  it('starts the fifo script with the FIFO path as its last argument and restarts it when it dies', async () => {
    const p = fresh();
    const out = fresh();
    const s = path.join(dir, 'fifo-script.sh');
    // reads one line per start, appends it, exits: each line needs a (re)start
    fs.writeFileSync(s, `#!/bin/sh\nread -r l < "$2"; echo "$1:$l" >> ${out}\n`, { mode: 0o755 });
    const logs: string[] = [];
    const runner = new ScriptRunner({ enableScriptSecurity: false });
    const f = await NotifyFifo.open(
      { path: p, script: `${s} tag` },
      { runner, restartInitialMs: 20, restartMaxMs: 40, log: (l, m) => logs.push(`${l} ${m}`) },
    );
    await waitFor(() => f.scriptPid !== null);
    f.write('one');
    await waitFor(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('tag:one'));
    await waitFor(() => f.stats.scriptStarts >= 2);
    f.write('two');
    await waitFor(() => fs.readFileSync(out, 'utf8').includes('tag:two'));
    expect(logs.some((l) => /fifo script .* exit 0; restarting in \d+ ms/.test(l))).toBe(true);
    const pid = f.scriptPid;
    await f.close();
    expect(f.scriptPid).toBeNull();
    if (pid) expect(fs.existsSync(`/proc/${pid}`) && !/\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))).toBe(false);
    expect(fs.existsSync(p)).toBe(false);
  });

  it('writes after close are dropped, not thrown', async () => {
    const f = await NotifyFifo.open({ path: fresh() });
    await f.close();
    expect(f.write('late')).toBe(false);
    expect(f.stats.dropped).toBe(1);
  });
});

describe('NotifyFifos (global + vrrp + lvs)', () => {
  it('routes VRRP lines to notify_fifo and vrrp_notify_fifo, LVS lines to notify_fifo and lvs_notify_fifo', async () => {
    const [g, v, l] = [fresh(), fresh(), fresh()];
    const fifos = await NotifyFifos.open({ notifyFifo: { path: g }, vrrpNotifyFifo: { path: v }, lvsNotifyFifo: { path: l } });
    const outs = [fresh(), fresh(), fresh()];
    const readers = [reader(g, outs[0]!), reader(v, outs[1]!), reader(l, outs[2]!)];
    fifos.vrrp('INSTANCE "VI_1" MASTER 100\n');
    fifos.lvs('VS [192.0.2.1]:tcp:80 UP');
    await waitFor(() => outs.every((o) => fs.existsSync(o)) && fs.readFileSync(outs[0]!, 'utf8').split('\n').length === 3);
    await sleep(50);
    expect(fs.readFileSync(outs[0]!, 'utf8')).toBe('INSTANCE "VI_1" MASTER 100\nVS [192.0.2.1]:tcp:80 UP\n');
    expect(fs.readFileSync(outs[1]!, 'utf8')).toBe('INSTANCE "VI_1" MASTER 100\n');
    expect(fs.readFileSync(outs[2]!, 'utf8')).toBe('VS [192.0.2.1]:tcp:80 UP\n');
    for (const r of readers) await r.stop();
    await fifos.close();
  });

  it('a path configured twice is written once; a FIFO that cannot open is skipped with a log', async () => {
    const g = fresh();
    const logs: string[] = [];
    const bad = fresh();
    fs.writeFileSync(bad, 'not a fifo');
    const fifos = await NotifyFifos.open({ notifyFifo: { path: g }, vrrpNotifyFifo: { path: g }, lvsNotifyFifo: { path: bad } }, { log: (lv, m) => logs.push(`${lv} ${m}`) });
    expect(fifos.all).toHaveLength(1);
    expect(logs.some((x) => x.startsWith('error') && x.includes('not a FIFO'))).toBe(true);
    const out = fresh();
    const r = reader(g, out);
    fifos.vrrp('INSTANCE "VI_1" BACKUP 90');
    fifos.lvs('RS [10.0.0.1]:tcp:80 [192.0.2.1]:tcp:80 DOWN');
    await waitFor(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').split('\n').length === 3);
    await sleep(50);
    expect(fs.readFileSync(out, 'utf8')).toBe('INSTANCE "VI_1" BACKUP 90\nRS [10.0.0.1]:tcp:80 [192.0.2.1]:tcp:80 DOWN\n');
    await r.stop();
    await fifos.close();
  });
});
