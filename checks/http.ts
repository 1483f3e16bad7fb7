// HTTP_GET / SSL_GET: every `url` block must pass (status in range, MD5 digest of the body,
// regex / regex_no_match), each over a fresh connection with keepalived's request format.
import net from 'node:net';
import type { HttpCheck, HttpUrl } from '../src/config/model.js';
import { defaultHost, httpExchange, type HttpRequest, type HttpResponse } from './http-client.js';
import { reasonOf } from './net-util.js';
import { effectiveTarget, hostPort, type ProbeContext, type ProbeResult, type ProbeTarget } from './types.js';

/** Body bytes kept for regex matching (keepalived streams; this bounds memory per probe). */
export const REGEX_BODY_LIMIT = 1 << 20;

export type HttpEngine = 'raw' | 'undici';
let engine: HttpEngine = 'raw';
/** Select the HTTP implementation (the benchmark compares both; undici loads only when chosen). */
export function setHttpEngine(e: HttpEngine): void {
  engine = e;
}

const regexCache = new Map<string, RegExp | string>();

/** keepalived passes PCRE2 options; the ones JavaScript has map to flags, others are ignored. */
export function compileRegex(pattern: string, options: string[]): RegExp | string {
  const key = `${options.join(',')}\u0000${pattern}`;
  let r = regexCache.get(key);
  if (r === undefined) {
    let flags = '';
    for (const o of options) {
      if (o === 'caseless') flags += 'i';
      else if (o === 'multiline') flags += 'm';
      else if (o === 'dotall') flags += 's';
      else if (o === 'utf' || o === 'ucp') flags += flags.includes('u') ? '' : 'u';
    }
    try {
      r = new RegExp(pattern, flags);
    } catch (err) {
      r = `invalid regex ${JSON.stringify(pattern)}: ${(err as Error).message}`;
    }
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(key, r);
  }
  return r;
}

export function formatRanges(ranges: [number, number][]): string {
  return ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
}

/** Why a response fails a url block, or null when it passes. */
export function judgeResponse(url: HttpUrl, res: HttpResponse): string | null {
  const ranges = url.statusCodes.length ? url.statusCodes : ([[200, 299]] as [number, number][]);
  if (!ranges.some(([a, b]) => res.status >= a && res.status <= b))
    return `HTTP status ${res.status} not in ${formatRanges(ranges)}`;
  if (url.digest && res.md5 !== url.digest.toLowerCase())
    return `MD5 digest ${res.md5} of the body does not match ${url.digest.toLowerCase()}`;
  if (url.regex !== undefined) {
    const re = compileRegex(url.regex, url.regexOptions);
    if (typeof re === 'string') return re;
    const matched = re.test(res.body.toString('latin1'));
    if (matched && url.regexNoMatch) return `body matches regex ${JSON.stringify(url.regex)} (regex_no_match)`;
    if (!matched && !url.regexNoMatch) return `body does not match regex ${JSON.stringify(url.regex)}`;
  }
  return null;
}

export function hostFor(spec: HttpCheck, url: HttpUrl, target: ProbeTarget, address: string, port: number): string {
  return url.virtualhost ?? spec.virtualhost ?? target.virtualhost ?? defaultHost(address, port);
}

function sniFor(spec: HttpCheck, url: HttpUrl, target: ProbeTarget): string | undefined {
  if (!spec.enableSni) return undefined;
  const name = spec.sniName ?? url.virtualhost ?? spec.virtualhost ?? target.virtualhost;
  // an IP literal is not a valid SNI name (RFC 6066)
  return name && net.isIP(name) === 0 ? name : undefined;
}

export async function probeHttp(spec: HttpCheck, target: ProbeTarget, ctx: ProbeContext): Promise<ProbeResult> {
  const start = ctx.now();
  const { address, port } = effectiveTarget(spec, target);
  const peer = hostPort(address, port);
  const urls = spec.urls.length ? spec.urls : [{ path: '/', statusCodes: [[200, 299]], regexNoMatch: false, regexOptions: [] } as unknown as HttpUrl];
  let last = '';
  for (const url of urls) {
    const req: HttpRequest = {
      spec,
      address,
      port,
      timeoutMs: spec.connectTimeoutMs,
      cancel: ctx.cancel,
      method: 'GET',
      path: url.path,
      host: hostFor(spec, url, target, address, port),
      version: spec.httpProtocol,
      wantDigest: url.digest !== undefined,
      keepBody: url.regex !== undefined ? REGEX_BODY_LIMIT : 0,
    };
    if (spec.type === 'SSL_GET') req.tls = { servername: sniFor(spec, url, target) };
    let res: HttpResponse;
    try {
      res = await (engine === 'undici' ? (await import('./http-undici.js')).undiciExchange(req) : httpExchange(req));
    } catch (err) {
      return { up: false, reason: `${spec.type} ${peer}${url.path}: ${reasonOf(err)}`, latencyMs: ctx.now() - start };
    }
    const bad = judgeResponse(url, res);
    if (bad) return { up: false, reason: `${spec.type} ${peer}${url.path}: ${bad}`, latencyMs: ctx.now() - start };
    last = `HTTP ${res.status}`;
  }
  return { up: true, reason: `${spec.type} ${peer}: ${last}${urls.length > 1 ? ` (${urls.length} urls)` : ''}`, latencyMs: ctx.now() - start };
}
