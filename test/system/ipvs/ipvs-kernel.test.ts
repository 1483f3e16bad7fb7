// The IPVS engine against a real kernel: one VM boot runs every case of
// test/vm/scenarios/ipvs-kernel.ts (config applied and read back with ipvsadm, changes as exact
// diffs, kernel errors, timeouts, sync daemons, NAT and DR traffic through IPVS); here each
// reported case is asserted.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildVmDrivers, parseCases, REPO_ROOT, runInVm, vmSkipReason, type VmResult } from '../../vm/vm.js';

interface CaseOut {
  name: string;
  expected?: unknown;
  actual?: unknown;
  note?: unknown;
  error?: string;
  ms: number;
}

const CASES = [
  'info',
  'timeouts',
  'sync-daemons',
  'apply-initial',
  'observe-roundtrip',
  'observe-foreign',
  'apply-change',
  'kernel-errors',
  'schedulers-available',
  'nat-traffic',
  'counters',
  'dr-traffic',
  'flush',
];

const DRIVER = 'dist/test/vm/scenarios/ipvs-kernel.js';
const skip = vmSkipReason();

describe.skipIf(skip !== undefined)(`IPVS engine in a real kernel (VM)${skip ? ` — skipped: ${skip}` : ''}`, () => {
  let run: VmResult;
  let results = new Map<string, CaseOut>();

  beforeAll(async () => {
    const built = buildVmDrivers();
    if (!built.ok || !fs.existsSync(path.join(REPO_ROOT, DRIVER))) throw new Error(`compiling the VM driver failed:\n${built.output}`);
    run = await runInVm(`node ${DRIVER}`, { timeoutS: 600 });
    results = new Map(parseCases<CaseOut>(run.output).map((c) => [c.name, c]));
  }, 900_000);

  const tail = () => `\n--- VM output (tail) ---\n${run.output.slice(-3000)}\n--- harness log (tail) ---\n${run.log.slice(-3000)}`;

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
