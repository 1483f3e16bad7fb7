// TCP_CHECK: the three-way handshake completes within connect_timeout; then close.
import type { TcpCheck } from '../src/config/model.js';
import { connectStream } from './conversation.js';
import { reasonOf } from './net-util.js';
import { effectiveTarget, hostPort, type ProbeContext, type ProbeResult, type ProbeTarget } from './types.js';

export async function probeTcp(spec: TcpCheck, target: ProbeTarget, ctx: ProbeContext): Promise<ProbeResult> {
  const start = ctx.now();
  const { address, port } = effectiveTarget(spec, target);
  try {
    const sock = await connectStream({ spec, address, port, timeoutMs: spec.connectTimeoutMs, cancel: ctx.cancel });
    sock.on('error', () => {});
    sock.destroy();
    return { up: true, reason: `TCP connect to ${hostPort(address, port)} ok`, latencyMs: ctx.now() - start };
  } catch (err) {
    return { up: false, reason: `TCP_CHECK: ${reasonOf(err)}`, latencyMs: ctx.now() - start };
  }
}
