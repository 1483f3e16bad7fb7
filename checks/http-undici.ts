// The same exchange as http-client.ts done with undici (HTTP/1.1 only, a Client per request with
// `reset: true` so no connection is reused). Kept as the measured alternative: the benchmark runs
// both engines (bench/checks/http-checks.ts) and the raw client is the default.
import crypto from 'node:crypto';
import { Client, errors } from 'undici';
import type { HttpRequest, HttpResponse } from './http-client.js';
import { ProbeFailure, errReason } from './net-util.js';
import { hostPort } from './types.js';

export async function undiciExchange(r: HttpRequest): Promise<HttpResponse> {
  const peer = hostPort(r.address, r.port);
  const origin = `${r.tls ? 'https' : 'http'}://${peer}`;
  const connect: Record<string, unknown> = { timeout: r.timeoutMs, rejectUnauthorized: false };
  if (r.tls?.servername) connect.servername = r.tls.servername;
  const client = new Client(origin, {
    connect,
    localAddress: r.spec.bindTo,
    pipelining: 1,
    headersTimeout: r.timeoutMs,
    bodyTimeout: r.timeoutMs,
  });
  try {
    const res = await client.request({
      path: r.path,
      method: r.method,
      headers: { host: r.host, 'user-agent': 'KeepAliveClient', connection: 'close' },
      reset: true,
      signal: r.cancel.signal,
    });
    const md5 = r.wantDigest ? crypto.createHash('md5') : null;
    const kept: Buffer[] = [];
    let keptLen = 0;
    let bodyBytes = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      bodyBytes += chunk.length;
      md5?.update(chunk);
      if (keptLen < r.keepBody) {
        const part = chunk.subarray(0, r.keepBody - keptLen);
        kept.push(part);
        keptLen += part.length;
      }
    }
    const out: HttpResponse = { status: res.statusCode, head: '', bodyBytes, body: Buffer.concat(kept) };
    if (md5) out.md5 = md5.digest('hex');
    return out;
  } catch (err) {
    if (err instanceof errors.ConnectTimeoutError) throw new ProbeFailure(`connect timeout after ${r.timeoutMs} ms (${peer})`);
    if (err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError)
      throw new ProbeFailure(`timeout after ${r.timeoutMs} ms waiting for the HTTP response from ${peer}`);
    if (err instanceof errors.RequestAbortedError) throw new ProbeFailure('aborted');
    const cause = (err as { cause?: unknown }).cause;
    throw new ProbeFailure(errReason(cause ?? err, peer));
  } finally {
    client.destroy().catch(() => {});
  }
}
