// systemd's default stop (KillMode=control-group) and Ctrl-C signal the whole process group:
// lvsd must still stop in order — notify_stop runs, the checker and script helpers are stopped
// by the daemon, nothing is reported lost, exit 0.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, isRoot, Lab, PROJECT_ROOT } from '../../helpers/netns.js';

describe.skipIf(!isRoot)('lvsd and a signal to its whole process group (root)', () => {
  let lab: Lab;
  let dir: string;
  beforeAll(async () => {
    await ensureBuilt(['dist/src/cli/main.js']);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsd-pgrp-'));
    fs.chmodSync(dir, 0o755);
    lab = await Lab.create({ nodes: [{ name: 'd1', host: 11, role: 'director' }] });
  }, 60_000);
  afterAll(async () => {
    await lab?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('%s to the group: notify_stop runs, exit 0, no lost scripts', async (sig) => {
    const marker = path.join(dir, `stopped-${sig}`);
    const conf = path.join(dir, `${sig}.conf`);
    fs.writeFileSync(
      conf,
      `vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 9\n  priority 150\n  advert_int 1\n  notify_stop "/usr/bin/touch ${marker}"\n  virtual_ipaddress {\n    10.99.0.100/24\n  }\n}\n` +
        `virtual_server 10.99.0.100 80 {\n  lb_algo rr\n  real_server 10.99.0.50 80 {\n    TCP_CHECK {\n      connect_timeout 1\n    }\n  }\n}\n`,
    );
    const p = lab.spawn('d1', process.execPath, [path.join(PROJECT_ROOT, 'bin/lvsd.js'), 'run', '-f', conf]);
    await p.waitForJson((o) => o['event'] === 'started', { timeoutMs: 15_000 });
    const exit = await p.kill(sig, 10_000); // LabProcess.kill signals the process group
    const log = p.lines.join('\n');
    expect(exit.code, log).toBe(0);
    expect(log).not.toMatch(/script helper exited|lost|checker process restarted/);
    expect(fs.existsSync(marker), log).toBe(true);
  });
});
