// Failure paths that need a real network: SYNs dropped (connect timeout), a host that does not
// exist (ARP fails: EHOSTUNREACH after a few seconds), probes from a namespace to a real server.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, isRoot, Lab } from '../../helpers/netns.js';

const agent = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/probe-agent.mjs');
const loc = { file: 'x', line: 1, col: 1 };
const common = (connectTimeoutMs: number) => ({ connectTimeoutMs, delayLoopMs: 1000, retry: 0, delayBeforeRetryMs: 1000, warmupMs: 0, alpha: false, logAllFailures: false, loc });

interface Out {
  up?: boolean;
  reason?: string;
  elapsedMs?: number;
  done?: boolean;
}

describe.skipIf(!isRoot)('probes across a namespace lab (root)', () => {
  let lab: Lab;
  beforeAll(async () => {
    await ensureBuilt(['dist/checks/probe.js']);
    lab = await Lab.create({ nodes: ['dir', { name: 'rs', role: 'realserver' }] });
    await lab.exec('rs', 'nft', 'add table inet lvsdt');
    await lab.exec('rs', 'nft', 'add chain inet lvsdt in { type filter hook input priority 0; }');
    await lab.exec('rs', 'nft', 'add rule inet lvsdt in tcp dport 81 drop');
  }, 60_000);
  afterAll(async () => {
    await lab?.destroy();
  });

  async function run(jobs: object[]): Promise<Out[]> {
    const p = lab.spawnNode('dir', agent, [JSON.stringify(jobs)]);
    const out: Out[] = [];
    await p.waitForJson<Out>((o) => {
      if (!o.done) out.push(o);
      return o.done === true;
    }, { timeoutMs: 30_000 });
    return out;
  }

  it('connect timeouts when SYNs are dropped, refusals when the port is closed', async () => {
    const rs = lab.node('rs').ipv4!;
    const target = (port: number) => ({ address: rs, port, family: 'inet' });
    const [tcpDrop, httpDrop, tcpClosed] = await run([
      { spec: { ...common(500), type: 'TCP_CHECK' }, target: target(81) },
      {
        spec: { ...common(500), type: 'HTTP_GET', urls: [{ path: '/', statusCodes: [[200, 299]], regexNoMatch: false, regexOptions: [], loc }], httpProtocol: '1.0', fastRecovery: false, enableSni: false, tlsCompliant: false },
        target: target(81),
      },
      { spec: { ...common(500), type: 'TCP_CHECK' }, target: target(82) },
    ]);
    expect(tcpDrop).toMatchObject({ up: false, reason: `TCP_CHECK: connect timeout after 500 ms (${rs}:81)` });
    expect(tcpDrop!.elapsedMs).toBeGreaterThanOrEqual(480);
    expect(httpDrop).toMatchObject({ up: false, reason: `HTTP_GET ${rs}:81/: connect timeout after 500 ms (${rs}:81)` });
    expect(tcpClosed).toMatchObject({ up: false, reason: `TCP_CHECK: connect ECONNREFUSED ${rs}:82` });
  });

  it('UDP_CHECK: a host that does not answer ARP is unreachable once ARP gives up', async () => {
    const gone = { address: '10.99.0.98', port: 53, family: 'inet' };
    const [short, long] = await run([
      { spec: { ...common(300), type: 'UDP_CHECK', payload: '00', requireReplyAny: false }, target: gone },
      { spec: { ...common(6000), type: 'UDP_CHECK', payload: '00', requireReplyAny: false }, target: gone },
    ]);
    // keepalived's documented caveat: without a reply requirement, silence within the timeout is "up"
    expect(short).toMatchObject({ up: true });
    expect(long).toMatchObject({ up: false, reason: expect.stringMatching(/EHOSTUNREACH 10\.99\.0\.98:53/) });
  });
});
