// The whole daemon with the IPVS engine, end to end, in the IPVS VM: one boot runs
// test/vm/scenarios/daemon-ipvs.ts (LVS-NAT, then LVS-DR: `lvsd run` with dataplane ipvs and real
// HTTP_GET checks in namespaces, `ipvsadm -Ln` checked, client traffic, a real server stopped and
// restored, clean stop); here each reported case is asserted and the measured numbers printed.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../../helpers/netns.js';
import { LB_DIST } from '../lb/lab.js';
import { buildVmDrivers, parseCases, REPO_ROOT, runInVm, vmSkipReason, type VmResult } from '../../vm/vm.js';

interface CaseOut {
  name: string;
  expected?: unknown;
  actual?: unknown;
  note?: unknown;
  error?: string;
  ms: number;
}

const PER_MODE = ['start', 'ipvsadm', 'rr', 'wrr', 'sh', 'rs-down', 'rs-up', 'drift', 'stop'];
const CASES = [...PER_MODE.map((c) => `nat-${c}`), ...PER_MODE.map((c) => `dr-${c}`), 'dr-realserver-down'];

const DRIVER = 'dist/test/vm/scenarios/daemon-ipvs.js';
const skip = vmSkipReason();

describe.skipIf(skip !== undefined)(`lvsd end to end with IPVS (VM)${skip ? ` — skipped: ${skip}` : ''}`, () => {
  let run: VmResult;
  let results = new Map<string, CaseOut>();

  beforeAll(async () => {
    await ensureBuilt(LB_DIST);
    const built = buildVmDrivers();
    if (!built.ok || !fs.existsSync(path.join(REPO_ROOT, DRIVER))) throw new Error(`compiling the VM driver failed:\n${built.output}`);
    run = await runInVm(`node ${DRIVER}`, { timeoutS: 600 });
    results = new Map(parseCases<CaseOut>(run.output).map((c) => [c.name, c]));
    for (const c of results.values()) if (c.note !== undefined && /start|rs-down|rs-up|drift/.test(c.name)) console.log(`[ipvs vm] ${c.name} (${c.ms} ms): ${JSON.stringify(c.note)}`);
    for (const l of run.output.split('\n').filter((x) => x.startsWith('@@LOG'))) console.log(`[ipvs vm] ${l}`);
  }, 900_000);

  const tail = (): string => `\n--- VM output (tail) ---\n${run.output.slice(-3000)}\n--- harness log (tail) ---\n${run.log.slice(-3000)}`;

  it('the VM booted and the driver ran to the end', () => {
    expect(run.output, tail()).toContain('@@DONE');
    expect(run.code, tail()).toBe(0);
    expect([...results.keys()].sort()).toEqual([...CASES].sort());
  });

  for (const name of CASES) {
    it(name, () => {
      const c = results.get(name);
      expect(c, `case ${name} was not reported${tail()}`).toBeDefined();
      expect(c!.error).toBeUndefined();
      expect(c!.actual, JSON.stringify(c!.note ?? '')).toEqual(c!.expected);
    });
  }
});
