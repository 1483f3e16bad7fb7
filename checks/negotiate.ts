// NEGOTIATE_CHECK (lvsd extension, ldirectord's checktype=negotiate): send a request, match the
// answer against the `receive` regex.
//  - http/https: `request` is the URI; up when the status is 2xx and the body (GET) or the
//    status line and headers (HEAD) match `receive`;
//  - tcp: write `request` (\r \n \t escapes honoured), read until `receive` matches, the peer
//    closes, or the timeout; up when it matched (an empty `receive` only needs the connection);
//  - smtp/ftp/nntp/pop/imap: the greeting must be positive for the protocol; an optional
//    `request` line is sent and its reply read; `receive` is matched against all of it.
import net from 'node:net';
import type { NegotiateCheck } from '../src/config/model.js';
import { Conversation, connectStream } from './conversation.js';
import { compileRegex } from './http.js';
import { defaultHost, httpExchange } from './http-client.js';
import { ProbeFailure, reasonOf } from './net-util.js';
import { effectiveTarget, hostPort, type ProbeContext, type ProbeResult, type ProbeTarget } from './types.js';

const BODY_LIMIT = 1 << 20;

export function unescapeRequest(s: string): string {
  return s.replace(/\\([rnt\\])/g, (_, c: string) => (c === 'r' ? '\r' : c === 'n' ? '\n' : c === 't' ? '\t' : '\\'));
}

/** "http://h/p?q" -> "/p?q"; "" -> "/"; a path stays as it is. */
export function requestPath(request: string): string {
  if (request === '') return '/';
  if (/^https?:\/\//i.test(request)) {
    try {
      const u = new URL(request);
      return `${u.pathname}${u.search}`;
    } catch {
      return request;
    }
  }
  return request.startsWith('/') ? request : `/${request}`;
}

function matcher(receive: string): ((text: string) => boolean) | string {
  if (receive === '') return () => true;
  const re = compileRegex(receive, []);
  if (typeof re === 'string') return re;
  return (t) => re.test(t);
}

const GREETING: Record<string, (l: string) => boolean> = {
  smtp: (l) => l.startsWith('220'),
  ftp: (l) => l.startsWith('220'),
  nntp: (l) => l.startsWith('200') || l.startsWith('201'),
  pop: (l) => l.startsWith('+OK'),
  imap: (l) => /^\* (OK|PREAUTH)\b/i.test(l),
};

const QUIT: Record<string, string> = { smtp: 'QUIT\r\n', ftp: 'QUIT\r\n', nntp: 'QUIT\r\n', pop: 'QUIT\r\n', imap: 'z LOGOUT\r\n' };

export async function probeNegotiate(spec: NegotiateCheck, target: ProbeTarget, ctx: ProbeContext): Promise<ProbeResult> {
  const start = ctx.now();
  const { address, port } = effectiveTarget(spec, target);
  const peer = hostPort(address, port);
  const label = `NEGOTIATE_CHECK ${spec.service} ${peer}`;
  const down = (reason: string): ProbeResult => ({ up: false, reason: `${label}: ${reason}`, latencyMs: ctx.now() - start });
  const up = (reason: string): ProbeResult => ({ up: true, reason: `${label}: ${reason}`, latencyMs: ctx.now() - start });
  const match = matcher(spec.receive);
  if (typeof match === 'string') return down(match);
  try {
    if (spec.service === 'http' || spec.service === 'https') {
      const vhost = spec.virtualhost ?? target.virtualhost;
      const res = await httpExchange({
        spec,
        address,
        port,
        timeoutMs: spec.connectTimeoutMs,
        cancel: ctx.cancel,
        tls: spec.service === 'https' ? { servername: vhost && net.isIP(vhost) === 0 ? vhost : undefined } : undefined,
        method: spec.httpMethod,
        path: requestPath(spec.request),
        host: vhost ?? defaultHost(address, port),
        version: '1.1',
        wantDigest: false,
        keepBody: spec.httpMethod === 'GET' ? BODY_LIMIT : 0,
      });
      if (res.status < 200 || res.status > 299) return down(`HTTP status ${res.status} not in 200-299`);
      const text = spec.httpMethod === 'HEAD' ? res.head : res.body.toString('latin1');
      if (!match(text)) return down(`${spec.httpMethod === 'HEAD' ? 'headers do' : 'body does'} not match ${JSON.stringify(spec.receive)}`);
      return up(`HTTP ${res.status}, matched`);
    }
    const sock = await connectStream({ spec, address, port, timeoutMs: spec.connectTimeoutMs, cancel: ctx.cancel });
    const conv = new Conversation(sock, peer, spec.connectTimeoutMs, BODY_LIMIT);
    try {
      if (spec.service === 'tcp') {
        if (spec.request !== '') conv.write(unescapeRequest(spec.request));
        if (spec.receive === '') return up('connected');
        const got = await conv.collect((b) => match(b.toString('latin1')));
        if (match(got.data.toString('latin1'))) return up('matched');
        const how = got.timedOut ? `within ${spec.connectTimeoutMs} ms` : 'before the connection closed';
        return down(`answer (${got.data.length} bytes) did not match ${JSON.stringify(spec.receive)} ${how}`);
      }
      const positive = GREETING[spec.service]!;
      const numeric = spec.service === 'smtp' || spec.service === 'ftp' || spec.service === 'nntp';
      const read = async (what: string): Promise<string> => (numeric ? (await conv.reply(what)).text : await conv.line(what));
      let text = await read('greeting');
      if (!positive(text)) throw new ProbeFailure(`negative greeting ${JSON.stringify(text.split('\n')[0]!.slice(0, 80))}`);
      if (spec.request !== '') {
        conv.write(`${unescapeRequest(spec.request)}\r\n`);
        text += `\n${await read('reply to the request')}`;
      }
      conv.write(QUIT[spec.service]!);
      if (!match(text)) return down(`answer does not match ${JSON.stringify(spec.receive)}`);
      return up('greeting ok');
    } finally {
      conv.sock.end();
      setTimeout(() => conv.close(), 100).unref();
    }
  } catch (err) {
    return down(reasonOf(err));
  }
}
