// Host-side helper for the IPVS VM: boot it once with a command (the repository is shared in
// over 9p at the same path, and the command runs there as root) and get the output back.
// The VM is TCG-only here (~3 s boot, Node ~10x slower): batch kernel-facing cases into one boot.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RUN = path.join(REPO_ROOT, 'test/vm/run-in-vm.sh');

export interface VmResult {
  /** the command's exit status; 124 = VM timed out, 125 = VM or harness failure */
  code: number;
  /** the guest command's stdout and stderr, merged */
  output: string;
  /** harness messages (build progress, guest console on failure) */
  log: string;
}

export interface VmOptions {
  /** seconds before the VM is killed (default 300) */
  timeoutS?: number;
  /** guest memory in MiB */
  memMiB?: number;
  cpus?: number;
  /** isolated virtio NICs (eth0, eth1, ...) */
  nics?: number;
  /** extra environment for run-in-vm.sh (IPVSVM_*, LVSD_VM_BUILD) */
  env?: Record<string, string>;
}

/** Why the VM cannot run here, or undefined when it can. */
export function vmSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'the IPVS VM needs Linux';
  if (process.getuid?.() !== 0) return 'the IPVS VM needs root (image build, 9p share)';
  if (spawnSync('sh', ['-c', 'command -v qemu-system-x86_64'], { stdio: 'ignore' }).status !== 0) return 'qemu-system-x86_64 is not installed';
  if (!fs.existsSync(RUN)) return `missing ${RUN}`;
  return undefined;
}

/** Boot the VM, run `command` (bash) in the repository directory, return its status and output. */
export function runInVm(command: string, opts: VmOptions = {}): Promise<VmResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  if (opts.timeoutS) env.IPVSVM_TIMEOUT = String(opts.timeoutS);
  if (opts.memMiB) env.IPVSVM_MEM = String(opts.memMiB);
  if (opts.cpus) env.IPVSVM_CPUS = String(opts.cpus);
  if (opts.nics) env.IPVSVM_NICS = String(opts.nics);
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [RUN, REPO_ROOT, command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : 125),
        output: Buffer.concat(out).toString('utf8'),
        log: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}

/** Compile what runs inside the VM (scenario drivers, benchmarks) into dist/ with tsc. */
export function buildVmDrivers(): { ok: boolean; output: string } {
  const tsc = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(REPO_ROOT, 'test/vm/tsconfig.json')], { cwd: REPO_ROOT, encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** Lines `@@CASE {json}` printed by a driver, parsed. */
export function parseCases<T = unknown>(output: string): T[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('@@CASE '))
    .map((l) => JSON.parse(l.slice('@@CASE '.length)) as T);
}
