// DNS_CHECK: one UDP query to the real server; replies that are not ours are ignored until the
// timeout (as keepalived), an ICMP error ends the probe at once.
import { settleOnce } from './cancel.js';
import crypto from 'node:crypto';
import type { DnsCheck } from '../src/config/model.js';
import { DNS_TYPE_CODES, encodeQuery, judgeReply } from './dns-codec.js';
import { ProbeFailure, errReason, reasonOf, udpConnected } from './net-util.js';
import { effectiveTarget, hostPort, type ProbeContext, type ProbeResult, type ProbeTarget } from './types.js';

export async function probeDns(spec: DnsCheck, target: ProbeTarget, ctx: ProbeContext): Promise<ProbeResult> {
  const start = ctx.now();
  const { address, port } = effectiveTarget(spec, target);
  const peer = hostPort(address, port);
  const qtype = DNS_TYPE_CODES[spec.queryType];
  const name = spec.name || '.';
  const fail = (reason: string): ProbeResult => ({ up: false, reason: `DNS_CHECK ${peer}: ${reason}`, latencyMs: ctx.now() - start });
  if (qtype === undefined) return fail(`unsupported query type ${spec.queryType}`);
  let query: Buffer;
  const id = crypto.randomInt(0, 0x10000);
  try {
    query = encodeQuery(id, name, qtype);
  } catch (err) {
    return fail(reasonOf(err));
  }
  let sock;
  try {
    sock = await udpConnected(spec, address, port);
  } catch (err) {
    return fail(reasonOf(err));
  }
  const s = sock;
  return new Promise<ProbeResult>((resolve) => {
    let ignored = 0;
    const finish: (r: ProbeResult) => void = settleOnce(resolve, ctx.cancel, spec.connectTimeoutMs, {
      timeout: () => finish(fail(`timeout after ${spec.connectTimeoutMs} ms waiting for a DNS reply${ignored ? ` (${ignored} unrelated datagram${ignored > 1 ? 's' : ''} ignored)` : ''}`)),
      abort: () => finish(fail('aborted')),
      cleanup: () => s.close(),
    });
    s.on('error', (err) => finish(fail(errReason(err, peer))));
    s.on('message', (msg: Buffer) => {
      const v = judgeReply(msg, id, name, qtype);
      if (v.kind === 'ignore') ignored++;
      else if (v.kind === 'down') finish(fail(v.reason));
      else finish({ up: true, reason: `${v.reason} from ${peer}`, latencyMs: ctx.now() - start });
    });
    s.send(query, (err) => {
      if (err) finish(fail(err instanceof ProbeFailure ? err.message : errReason(err, peer)));
    });
  });
}
