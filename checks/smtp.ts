// SMTP_CHECK: 220 banner, HELO <helo_name> answered by 250, then QUIT (as keepalived).
import os from 'node:os';
import type { SmtpCheck } from '../src/config/model.js';
import { Conversation, connectStream } from './conversation.js';
import { ProbeFailure, reasonOf } from './net-util.js';
import { effectiveTarget, hostPort, type ProbeContext, type ProbeResult, type ProbeTarget } from './types.js';

export async function probeSmtp(spec: SmtpCheck, target: ProbeTarget, ctx: ProbeContext): Promise<ProbeResult> {
  const start = ctx.now();
  const { address, port } = effectiveTarget(spec, target);
  const peer = hostPort(address, port);
  let conv: Conversation | undefined;
  try {
    const sock = await connectStream({ spec, address, port, timeoutMs: spec.connectTimeoutMs, cancel: ctx.cancel });
    conv = new Conversation(sock, peer, spec.connectTimeoutMs, 64 * 1024);
    const banner = await conv.reply('SMTP banner');
    if (banner.code !== 220) throw new ProbeFailure(`SMTP banner code ${banner.code}, expected 220: ${firstLine(banner.text)}`);
    const helo = spec.heloName || os.hostname();
    conv.write(`HELO ${helo}\r\n`);
    const r = await conv.reply('HELO reply');
    if (r.code !== 250) throw new ProbeFailure(`HELO ${helo} answered ${r.code}, expected 250: ${firstLine(r.text)}`);
    conv.write('QUIT\r\n');
    return { up: true, reason: `SMTP ${peer}: 220 banner, HELO 250`, latencyMs: ctx.now() - start };
  } catch (err) {
    return { up: false, reason: `SMTP_CHECK ${peer}: ${reasonOf(err)}`, latencyMs: ctx.now() - start };
  } finally {
    // give QUIT a chance to leave, then drop the connection without waiting for 221
    if (conv) conv.sock.end();
    const s = conv?.sock;
    if (s) setTimeout(() => s.destroy(), 100).unref();
  }
}

function firstLine(t: string): string {
  return JSON.stringify(t.split('\n')[0]!.slice(0, 80));
}
