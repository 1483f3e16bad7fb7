// Every sample configuration in etc/ passes `lvsd check` cleanly, for each director of the pair
// (their @lvs1 / @lvs2 lines), through the real CLI. Host checks are off: the samples name the
// interfaces of the directors they describe, not of the machine running the tests.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../../..');
const samples = fs.readdirSync(path.join(ROOT, 'etc')).filter((f) => f.endsWith('.conf'));

describe('sample configurations in etc/', () => {
  it('there are samples for LVS-NAT and LVS-DR', () => {
    expect(samples).toEqual(expect.arrayContaining(['lvs-nat.conf', 'lvs-dr.conf']));
  });

  it.each(samples.flatMap((f) => ['lvs1', 'lvs2'].map((id) => [f, id] as const)))('%s as %s: lvsd check exits 0 with no diagnostics', async (file, id) => {
    const { stdout, stderr } = await run(process.execPath, [path.join(ROOT, 'bin/lvsd.js'), 'check', '--no-host-checks', '-i', id, '-f', path.join(ROOT, 'etc', file)]);
    expect(stderr).toBe('');
    expect(stdout).toBe('');
  });

  it('the pair differs only where it should: each director gets its own state and priority', async () => {
    const dump = async (id: string) =>
      JSON.parse((await run(process.execPath, [path.join(ROOT, 'bin/lvsd.js'), 'check', '--no-host-checks', '-i', id, '--dump', 'json', '-f', path.join(ROOT, 'etc/lvs-nat.conf')])).stdout);
    const [a, b] = [await dump('lvs1'), await dump('lvs2')];
    expect(a.instances.map((i: { initialState: string; priority: number }) => [i.initialState, i.priority])).toEqual([['MASTER', 150], ['MASTER', 150]]);
    expect(b.instances.map((i: { initialState: string; priority: number }) => [i.initialState, i.priority])).toEqual([['BACKUP', 100], ['BACKUP', 100]]);
    expect(a.syncGroups.VG_NAT.members).toEqual(['VI_PUBLIC', 'VI_GATEWAY']);
    expect(a.virtualServers).toEqual(b.virtualServers);
  });
});
