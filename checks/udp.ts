// UDP_CHECK: send the payload on a connected socket. Without require_reply the service is up
// unless an ICMP error (port/host unreachable => ECONNREFUSED/EHOSTUNREACH) arrives within
// connect_timeout; with require_reply a reply of the right length and content must arrive.
import { settleOnce } from './cancel.js';
import type { UdpCheck } from '../src/config/model.js';
import { errReason, parseHex, reasonOf, udpConnected } from './net-util.js';
import { effectiveTarget, hostPort, type ProbeContext, type ProbeResult, type ProbeTarget } from './types.js';

/** keepalived's check: lengths in [min, max], then min(len, expected) bytes equal outside X nibbles. */
export function judgeUdpReply(reply: Buffer, expect: { data: Buffer; mask: Buffer } | null, min: number, max: number): string | null {
  if (reply.length < min || reply.length > max) return `reply of ${reply.length} bytes outside ${min}-${max}`;
  if (!expect) return null;
  const n = Math.min(reply.length, expect.data.length);
  for (let i = 0; i < n; i++) {
    if (((reply[i]! ^ expect.data[i]!) & ~expect.mask[i]! & 0xff) !== 0)
      return `reply byte ${i} is 0x${reply[i]!.toString(16).padStart(2, '0')}, expected 0x${expect.data[i]!.toString(16).padStart(2, '0')}`;
  }
  return null;
}

export async function probeUdp(spec: UdpCheck, target: ProbeTarget, ctx: ProbeContext): Promise<ProbeResult> {
  const start = ctx.now();
  const { address, port } = effectiveTarget(spec, target);
  const peer = hostPort(address, port);
  const fail = (reason: string): ProbeResult => ({ up: false, reason: `UDP_CHECK ${peer}: ${reason}`, latencyMs: ctx.now() - start });
  let payload: Buffer;
  let expect: { data: Buffer; mask: Buffer } | null = null;
  try {
    payload = parseHex(spec.payload ?? '').data;
    if (spec.requireReply) expect = parseHex(spec.requireReply, true);
  } catch (err) {
    return fail(reasonOf(err));
  }
  const needReply = expect !== null || spec.requireReplyAny;
  const min = spec.minReplyLength ?? 0;
  const max = spec.maxReplyLength ?? 255;
  let sock;
  try {
    sock = await udpConnected(spec, address, port);
  } catch (err) {
    return fail(reasonOf(err));
  }
  const s = sock;
  return new Promise<ProbeResult>((resolve) => {
    const finish: (r: ProbeResult) => void = settleOnce(resolve, ctx.cancel, spec.connectTimeoutMs, {
      timeout: () => {
        if (needReply) finish(fail(`timeout after ${spec.connectTimeoutMs} ms waiting for a reply`));
        else finish({ up: true, reason: `UDP ${peer}: no ICMP error within ${spec.connectTimeoutMs} ms`, latencyMs: ctx.now() - start });
      },
      abort: () => finish(fail('aborted')),
      cleanup: () => s.close(),
    });
    s.on('error', (err) => finish(fail(errReason(err, peer))));
    s.on('message', (msg: Buffer) => {
      const bad = needReply ? judgeUdpReply(msg, expect, min, max) : null;
      if (bad) finish(fail(bad));
      else finish({ up: true, reason: `UDP ${peer}: ${msg.length}-byte reply`, latencyMs: ctx.now() - start });
    });
    s.send(payload, (err) => {
      if (err) finish(fail(errReason(err, peer)));
    });
  });
}
