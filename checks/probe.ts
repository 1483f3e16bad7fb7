// probe(spec, target, ctx): dispatch to the checker module for spec.type. Never throws.
import type { CheckerSpec } from '../src/config/model.js';
import { probeDns } from './dns.js';
import { probeFile } from './file.js';
import { probeHttp } from './http.js';
import { probeMisc } from './misc.js';
import { probeNegotiate } from './negotiate.js';
import { probePing } from './ping.js';
import { probeSmtp } from './smtp.js';
import { probeTcp } from './tcp.js';
import type { ProbeContext, ProbeResult, ProbeTarget } from './types.js';
import { probeUdp } from './udp.js';

export async function probe(spec: CheckerSpec, target: ProbeTarget, ctx: ProbeContext): Promise<ProbeResult> {
  const start = ctx.now();
  try {
    switch (spec.type) {
      case 'HTTP_GET':
      case 'SSL_GET':
        return await probeHttp(spec, target, ctx);
      case 'TCP_CHECK':
        return await probeTcp(spec, target, ctx);
      case 'SMTP_CHECK':
        return await probeSmtp(spec, target, ctx);
      case 'DNS_CHECK':
        return await probeDns(spec, target, ctx);
      case 'MISC_CHECK':
        return await probeMisc(spec, target, ctx);
      case 'UDP_CHECK':
        return await probeUdp(spec, target, ctx);
      case 'PING_CHECK':
        return await probePing(spec, target, ctx);
      case 'FILE_CHECK':
        return await probeFile(spec, target, ctx);
      case 'NEGOTIATE_CHECK':
        return await probeNegotiate(spec, target, ctx);
      default:
        return { up: false, reason: `unknown checker type ${(spec as { type: string }).type}`, latencyMs: 0 };
    }
  } catch (err) {
    // a bug in a checker must not take the scheduler down: report it as the probe's failure
    return { up: false, reason: `${spec.type}: internal error: ${(err as Error)?.message ?? String(err)}`, latencyMs: ctx.now() - start };
  }
}
