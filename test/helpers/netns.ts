// Network-namespace lab for system tests (TypeScript port of shared/tools/lab/lab.sh).
//
// Topology: one switch namespace with a bridge `br0` (STP off, forward_delay 0, multicast
// snooping off) and N node namespaces, each with `eth0` = veth into the bridge (switch-side port
// `v-<node>`), a fixed MAC and IPv4 (optionally IPv6) addresses. Nothing is created in the root
// namespace. Namespace names carry the creating pid and a random suffix (`lvt<pid>x<rand>-<node>`),
// so parallel labs of other tests never collide; names of crashed runs (dead pid) are removed by
// the next Lab.create.
//
// How project code runs inside a namespace (the one approach used by every system test):
//   tests spawn Node scripts with `lab.spawnNode(node, script, args)` (= `ip netns exec NS node
//   script ...`). Scripts live in test/system/<area>/fixtures/*.mjs and import the *compiled*
//   project from dist/, e.g. `import { VrrpSocket } from '../../../../dist/src/net/vrrp-socket.js'`.
//   Call `await ensureBuilt([...dist files you import])` in beforeAll: it runs `tsc -p tsconfig.json`
//   when a source under src/ or checks/ is newer than its output (npm test builds first, so this
//   is normally only an mtime scan) and fails with the compiler output if a needed file is still
//   missing or stale. Scripts talk JSON lines on stdout; see LabProcess.waitForJson.
//
// Cleanup: destroy() kills every process in the lab namespaces (by pid, `ip netns pids`) and
// deletes them. useLab() registers it with afterAll; every live lab is also torn down
// synchronously on process exit, so a throwing test leaves nothing behind.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { Lab, PROJECT_ROOT, type LabOptions } from '../../src/lab/netns.js';

export * from '../../src/lab/netns.js';

// ---- build -------------------------------------------------------------------------------

function* tsSources(dir: string): Generator<string> {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* tsSources(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) yield p;
  }
}

const distOf = (src: string): string => path.join(PROJECT_ROOT, 'dist', path.relative(PROJECT_ROOT, src)).replace(/\.ts$/, '.js');
const mtime = (p: string): number => (fs.existsSync(p) ? fs.statSync(p).mtimeMs : -1);

function stale(src: string): boolean {
  return mtime(distOf(src)) < mtime(src);
}

/**
 * Make dist/ current. `required`: project-relative dist paths the caller imports (e.g.
 * 'dist/src/net/vrrp-socket.js'); they must exist and be newer than their sources afterwards.
 * Other helpers' files with type errors do not block: tsc still emits.
 */
export async function ensureBuilt(required: readonly string[] = []): Promise<void> {
  const roots = ['src', 'checks'].map((d) => path.join(PROJECT_ROOT, d));
  const srcOfRequired = required.map((d) => path.join(PROJECT_ROOT, d.replace(/^dist\//, '').replace(/\.js$/, '.ts')));
  const missing = (): string[] => required.filter((d, i) => !fs.existsSync(path.join(PROJECT_ROOT, d)) || stale(srcOfRequired[i]!));
  const needed = (): boolean => roots.some((r) => [...tsSources(r)].some(stale)) || missing().length > 0;
  if (!needed()) return;
  // one build at a time across test processes (unit tests run in parallel); re-check under the lock
  const out = await withBuildLock(async () => {
    if (!needed()) return '';
    const tsc = path.join(PROJECT_ROOT, 'node_modules/typescript/bin/tsc');
    return new Promise<string>((resolve) => {
      execFile(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: PROJECT_ROOT, maxBuffer: 16 << 20 }, (_err, stdout, stderr) =>
        resolve(`${stdout}${stderr}`),
      );
    });
  });
  const still = missing();
  if (still.length) throw new Error(`build did not produce ${still.join(', ')}:\n${out}`);
}

async function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = path.join(PROJECT_ROOT, '.lvsd-build.lock'); // .lvsd-* is git-ignored
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        // a lock older than any build is left over from a killed process
        if (Date.now() - fs.statSync(lock).mtimeMs > 120_000) fs.rmdirSync(lock);
      } catch {
        // removed by its owner meanwhile
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

// ---- processes ---------------------------------------------------------------------------

/**
 * Create a lab in beforeAll and destroy it in afterAll; returns a getter. For
 * `describe.skipIf(!isRoot)` suites (hooks of skipped suites do not run).
 */
export function useLab(opts: LabOptions): () => Lab {
  let lab: Lab | undefined;
  beforeAll(async () => {
    lab = await Lab.create(opts);
  });
  afterAll(async () => {
    await lab?.destroy();
  });
  return () => {
    if (!lab) throw new Error('lab not created (did beforeAll fail?)');
    return lab;
  };
}
