import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../../helpers/netns.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(here, 'fixtures/sched-child.mjs');

interface Report {
  before: { policy: string; priority: number };
  after: { policy: string; priority: number; resetOnFork: boolean };
  error: { code: string; message: string } | null;
  worker: { policy: string; priority: number };
  childPolicy: number;
}

function runChild(args: string[]): Promise<Report> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CHILD, ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as Report);
    });
  });
}

describe('event-loop realtime scheduling (src/daemon/sched.ts)', () => {
  beforeAll(() => ensureBuilt(['dist/src/daemon/sched.js']), 120_000);

  it.skipIf(process.getuid?.() !== 0)('as root: the calling thread gets SCHED_RR; threads and processes started later do not', async () => {
    const r = await runChild(['3']);
    expect(r.before.policy).toBe('SCHED_OTHER');
    expect(r.error).toBeNull();
    expect(r.after).toEqual({ policy: 'SCHED_RR', priority: 3, resetOnFork: true });
    expect(r.worker.policy).toBe('SCHED_OTHER');
    expect(r.childPolicy).toBe(0);
  });

  it('clamps the priority into 1..99', async () => {
    const r = await runChild(['500']);
    if (r.error) expect(r.error.code).toBe('EPERM'); // not root
    else expect(r.after.priority).toBe(99);
  });
});
