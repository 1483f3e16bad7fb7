// Test-side handle for fixtures/net-agent.mjs running in a lab node.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab, LabProcess } from '../../helpers/netns.js';

export const AGENT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/net-agent.mjs');
/** dist files the agent imports (for ensureBuilt) */
export const AGENT_DIST = [
  'dist/src/net/vrrp-socket.js',
  'dist/src/net/packet-socket.js',
  'dist/src/net/arp.js',
  'dist/src/net/rtnetlink/client.js',
  'dist/src/net/interfaces.js',
];

export class AgentError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export type AgentEvent = { event: string; [k: string]: unknown };

export class Agent {
  private nextId = 1;
  private constructor(readonly proc: LabProcess) {}

  static async start(lab: Lab, node: string): Promise<Agent> {
    const proc = lab.spawnNode(node, AGENT);
    await proc.waitForJson<AgentEvent>((o) => o.event === 'ready', { timeoutMs: 15_000 });
    return new Agent(proc);
  }

  /** Send a command; resolves its result, rejects with AgentError (carrying errno code). */
  async call<T = unknown>(op: string, args: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<T> {
    const id = this.nextId++;
    const since = this.proc.mark();
    this.proc.write(JSON.stringify({ ...args, id, op }));
    const r = await this.proc.waitForJson<{ id: number; ok: boolean; result?: T; error?: string; code?: string }>((o) => o.id === id, {
      timeoutMs,
      since,
    });
    if (!r.ok) throw new AgentError(`${op}: ${r.error}`, r.code);
    return r.result as T;
  }

  mark(): number {
    return this.proc.mark();
  }

  events<T extends AgentEvent = AgentEvent>(kind: string, since = 0): T[] {
    return this.proc.json<T>(since).filter((o) => o.event === kind);
  }

  waitEvent<T extends AgentEvent = AgentEvent>(kind: string, pred: (e: T) => boolean = () => true, opts: { timeoutMs?: number; since?: number } = {}): Promise<T> {
    return this.proc.waitForJson<T>((o) => o.event === kind && pred(o), opts);
  }

  stop(): Promise<unknown> {
    return this.proc.kill();
  }
}
