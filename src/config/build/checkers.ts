import os from 'node:os';
// Checker blocks inside real_server. Timers are resolved later (checker > real server >
// virtual server > keepalived default), so handlers record only what was written.
import type { CheckerCommon, CheckerSpec, CheckerType, DnsType, HttpUrl, NegotiateCheck, SourceLoc } from '../model.js';
import { type Stmt, locOf } from '../tree.js';
import { fields, type Ctx, type Handlers } from './context.js';

/** what was written in the checker block, before inheritance */
export interface CheckerDraft {
  type: CheckerType;
  loc: SourceLoc;
  fields: Record<string, unknown>;
  timers: { connectTimeoutMs?: number; delayLoopMs?: number; retry?: number; delayBeforeRetryMs?: number; warmupMs?: number; alpha?: boolean };
  logAllFailures: boolean;
}

export const CHECKER_TYPES: Record<string, CheckerType> = {
  HTTP_GET: 'HTTP_GET',
  SSL_GET: 'SSL_GET',
  TCP_CHECK: 'TCP_CHECK',
  SMTP_CHECK: 'SMTP_CHECK',
  DNS_CHECK: 'DNS_CHECK',
  MISC_CHECK: 'MISC_CHECK',
  UDP_CHECK: 'UDP_CHECK',
  PING_CHECK: 'PING_CHECK',
  ICMP_CHECK: 'PING_CHECK',
  FILE_CHECK: 'FILE_CHECK',
  NEGOTIATE_CHECK: 'NEGOTIATE_CHECK',
};

export const UNSUPPORTED_CHECKERS = new Set(['BFD_CHECK']);

const common: Handlers<CheckerDraft> = {
  connect_ip: (s, d, c) => {
    if (!c.arity(s, 1)) return;
    const ip = c.ip(s, 0);
    if (ip) d.fields['connectIp'] = ip.address;
  },
  connect_port: (s, d, c) => {
    if (!c.arity(s, 1)) return;
    const p = c.port(s, 0);
    if (p !== undefined) d.fields['connectPort'] = p;
  },
  bindto: (s, d, c) => {
    if (!c.arity(s, 1)) return;
    const ip = c.ip(s, 0);
    if (ip) d.fields['bindTo'] = ip.address;
  },
  bind_port: (s, d, c) => {
    if (!c.arity(s, 1)) return;
    const p = c.port(s, 0);
    if (p !== undefined) d.fields['bindPort'] = p;
  },
  bind_if: (s, d, c) => {
    const v = c.str(s);
    if (v !== undefined) d.fields['bindIf'] = v;
  },
  fwmark: (s, d, c) => {
    const v = c.intStmt(s, 1, 0xffffffff);
    if (v !== undefined) d.fields['fwmark'] = v;
  },
  connect_timeout: (s, d, c) => {
    const v = c.timerStmt(s, 0.001, 3600);
    if (v !== undefined) d.timers.connectTimeoutMs = v;
  },
  retry: (s, d, c) => {
    const v = c.intStmt(s, 0, 1_000_000);
    if (v !== undefined) d.timers.retry = v;
  },
  nb_get_retry: (s, d, c) => {
    const v = c.intStmt(s, 0, 1_000_000);
    if (v === undefined) return;
    d.timers.retry = v;
    c.diags.warning(c.loc(s), "nb_get_retry is deprecated - use 'retry' (as keepalived)");
  },
  delay_before_retry: (s, d, c) => {
    const v = c.timerStmt(s, 0, 86_400);
    if (v !== undefined) d.timers.delayBeforeRetryMs = v;
  },
  delay_loop: (s, d, c) => {
    const v = c.timerStmt(s, 0.001, 86_400);
    if (v !== undefined) d.timers.delayLoopMs = v;
  },
  warmup: (s, d, c) => {
    const v = c.timerStmt(s, 0, 86_400);
    if (v !== undefined) d.timers.warmupMs = v;
  },
  alpha: (s, d, c) => {
    const v = c.flag(s);
    if (v !== undefined) d.timers.alpha = v;
  },
  log_all_failures: (s, d, c) => {
    const v = c.flag(s);
    if (v !== undefined) d.logAllFailures = v;
  },
};

function parseStatusCodes(s: Stmt, c: Ctx): [number, number][] | undefined {
  if (!c.arity(s, 1, 100)) return undefined;
  const out: [number, number][] = [];
  for (const a of s.args) {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(a.text);
    if (!m) {
      c.diags.error(locOf(a), `status_code "${a.text}" is not a code (100-599) or a range like 200-299`);
      continue;
    }
    const lo = Number(m[1]);
    const hi = m[2] ? Number(m[2]) : lo;
    if (lo < 100 || hi > 599 || lo > hi) {
      c.diags.error(locOf(a), `status_code "${a.text}" is outside 100-599 or reversed`);
      continue;
    }
    out.push([lo, hi]);
  }
  return out.length ? out : undefined;
}

const U = fields<HttpUrl>();

const urlHandlers: Handlers<HttpUrl> = {
  path: U.str('path'),
  digest: (s, u, c) => {
    const v = c.str(s);
    if (v === undefined) return;
    if (!/^[0-9a-fA-F]{32}$/.test(v)) c.diags.error(c.loc(s, 0), `digest "${v}" is not an MD5 hex digest (32 hex digits)`);
    else u.digest = v.toLowerCase();
  },
  status_code: (s, u, c) => {
    const v = parseStatusCodes(s, c);
    if (v) u.statusCodes = v;
  },
  virtualhost: U.str('virtualhost'),
  regex: (s, u, c) => {
    const v = c.str(s);
    if (v === undefined) return;
    try {
      new RegExp(v);
      u.regex = v;
    } catch (e) {
      c.diags.error(c.loc(s, 0), `regex "${v}" does not compile: ${(e as Error).message}`);
    }
  },
  regex_no_match: (s, u, c) => {
    c.noArgs(s);
    u.regexNoMatch = true;
  },
  regex_options: (s, u, c) => {
    if (c.arity(s, 1, 20)) u.regexOptions = s.args.map((a) => a.text);
  },
};

// shared, frozen defaults: every url block of a large config would otherwise carry its own copies
const NO_CODES: [number, number][] = Object.freeze([]) as unknown as [number, number][];
const NO_OPTIONS: string[] = Object.freeze([]) as unknown as string[];
const DEFAULT_CODES: [number, number][] = Object.freeze([Object.freeze([200, 299])]) as unknown as [number, number][];

const IGNORED_URL = new Set(['regex_stack', 'regex_min_offset', 'regex_max_offset']);

const http: Handlers<CheckerDraft> = {
  url: (s, d, c) => {
    const b = c.block(s);
    if (!b) return;
    const u: HttpUrl = { path: '', statusCodes: NO_CODES, regexNoMatch: false, regexOptions: NO_OPTIONS, loc: c.loc(s) };
    c.dispatch(b, urlHandlers, u, 'url', IGNORED_URL);
    if (!u.path) {
      c.diags.error(c.loc(s), 'url block without a path; ignored');
      return;
    }
    if (u.statusCodes.length === 0) u.statusCodes = DEFAULT_CODES;
    ((d.fields['urls'] ??= []) as HttpUrl[]).push(u);
  },
  http_protocol: (s, d, c) => {
    if (!c.arity(s, 1)) return;
    const v = c.oneOf(s, 0, ['1.0', '1.0C', '1.1', '1.0c'] as const);
    if (v) d.fields['httpProtocol'] = v === '1.0c' ? '1.0C' : v;
  },
  virtualhost: (s, d, c) => {
    const v = c.str(s);
    if (v !== undefined) d.fields['virtualhost'] = v;
  },
  fast_recovery: (s, d, c) => {
    const v = c.flag(s);
    if (v !== undefined) d.fields['fastRecovery'] = v;
  },
  enable_sni: (s, d, c) => {
    const v = c.flag(s);
    if (v !== undefined) d.fields['enableSni'] = v;
  },
  sni_name: (s, d, c) => {
    const v = c.str(s);
    if (v !== undefined) d.fields['sniName'] = v;
  },
  tls_compliant: (s, d, c) => {
    const v = c.flag(s);
    if (v !== undefined) d.fields['tlsCompliant'] = v;
  },
};

const DNS_TYPES: readonly DnsType[] = ['A', 'NS', 'CNAME', 'SOA', 'MX', 'TXT', 'AAAA'];

const HEX_RE = /^([0-9a-fA-F]{2})*$/;

const specific: Partial<Record<CheckerType, Handlers<CheckerDraft>>> = {
  HTTP_GET: http,
  SSL_GET: http,
  SMTP_CHECK: {
    helo_name: (s, d, c) => {
      const v = c.str(s);
      if (v !== undefined) d.fields['heloName'] = v;
    },
  },
  DNS_CHECK: {
    type: (s, d, c) => {
      if (!c.arity(s, 1)) return;
      const v = c.oneOf(s, 0, DNS_TYPES, { caseInsensitive: true, what: 'DNS_CHECK type' });
      if (v) d.fields['queryType'] = v;
    },
    name: (s, d, c) => {
      const v = c.str(s);
      if (v === undefined) return;
      if (v.length > 253 || v.split('.').some((l) => l.length > 63)) c.diags.error(c.loc(s, 0), `DNS name "${v}" is too long`);
      else d.fields['name'] = v;
    },
  },
  MISC_CHECK: {
    misc_path: (s, d, c) => {
      if (!c.arity(s, 1, 1000)) return;
      d.fields['path'] = s.args.map((a) => a.text).join(' ');
    },
    misc_timeout: (s, d, c) => {
      const v = c.timerStmt(s, 0.001, 86_400);
      if (v !== undefined) d.fields['timeoutMs'] = v;
    },
    misc_dynamic: (s, d, c) => {
      const v = c.flag(s);
      if (v !== undefined) d.fields['dynamic'] = v;
    },
    user: (s, d, c) => {
      if (!c.arity(s, 1, 2)) return;
      d.fields['user'] = { user: s.args[0]!.text, ...(s.args[1] ? { group: s.args[1].text } : {}) };
    },
  },
  UDP_CHECK: {
    payload: (s, d, c) => {
      if (!c.arity(s, 0, 1)) return;
      const v = s.args[0]?.text ?? '';
      if (!HEX_RE.test(v)) c.diags.error(c.loc(s, 0), `payload "${v}" is not hex bytes`);
      else d.fields['payload'] = v.toLowerCase();
    },
    require_reply: (s, d, c) => {
      if (!c.arity(s, 0, 1)) return;
      const v = s.args[0]?.text;
      if (v === undefined) {
        d.fields['requireReplyAny'] = true;
        return;
      }
      if (!/^([0-9a-fA-FxX]{2})*$/.test(v)) c.diags.error(c.loc(s, 0), `require_reply "${v}" is not hex bytes (X matches any nibble)`);
      else d.fields['requireReply'] = v.toLowerCase();
    },
    min_reply_length: (s, d, c) => {
      const v = c.intStmt(s, 0, 65535);
      if (v !== undefined) d.fields['minReplyLength'] = v;
    },
    max_reply_length: (s, d, c) => {
      const v = c.intStmt(s, 0, 65535);
      if (v !== undefined) d.fields['maxReplyLength'] = v;
    },
  },
  PING_CHECK: {},
  TCP_CHECK: {},
  FILE_CHECK: {
    track_file: (s, d, c) => {
      const v = c.str(s);
      if (v !== undefined) {
        d.fields['trackFile'] = v;
        d.fields['trackFileLoc'] = c.loc(s, 0);
      }
    },
    dynamic: (s, d, c) => {
      const v = c.flag(s);
      if (v !== undefined) d.fields['dynamic'] = v;
    },
    weight: (s, d, c) => {
      if (!c.arity(s, 1, 2)) return;
      const w = c.int(s, 0, -254, 254, 'weight');
      if (w !== undefined) d.fields['weight'] = w;
      if (s.args[1]) {
        if (s.args[1].text === 'reverse') d.fields['weightReverse'] = true;
        else c.diags.error(c.loc(s, 1), `weight: expected "reverse", got "${s.args[1].text}"`);
      }
    },
  },
  NEGOTIATE_CHECK: {
    service: (s, d, c) => {
      if (!c.arity(s, 1)) return;
      const v = c.oneOf(s, 0, ['http', 'https', 'tcp', 'smtp', 'ftp', 'pop', 'imap', 'nntp'] as const);
      if (v) d.fields['service'] = v;
    },
    request: (s, d, c) => {
      const v = c.str(s);
      if (v !== undefined) d.fields['request'] = v;
    },
    receive: (s, d, c) => {
      const v = c.str(s);
      if (v === undefined) return;
      try {
        new RegExp(v);
        d.fields['receive'] = v;
      } catch (e) {
        c.diags.error(c.loc(s, 0), `receive "${v}" does not compile as a regex: ${(e as Error).message}`);
      }
    },
    http_method: (s, d, c) => {
      if (!c.arity(s, 1)) return;
      const v = c.oneOf(s, 0, ['GET', 'HEAD'] as const);
      if (v) d.fields['httpMethod'] = v;
    },
    virtualhost: (s, d, c) => {
      const v = c.str(s);
      if (v !== undefined) d.fields['virtualhost'] = v;
    },
  },
};

const IGNORED_CHECKER = new Set(['host', 'ssl', 'regex_stack']);
/** handler table per checker type, merged once */
const TABLES = new Map<CheckerType, Handlers<CheckerDraft>>();

export function parseChecker(s: Stmt, type: CheckerType, c: Ctx): CheckerDraft | undefined {
  const b = c.block(s);
  if (!b) return undefined;
  const d: CheckerDraft = { type, loc: c.loc(s), fields: {}, timers: {}, logAllFailures: false };
  let table = TABLES.get(type);
  if (!table) TABLES.set(type, (table = { ...common, ...(specific[type] ?? {}) }));
  c.dispatch(b, table, d, s.name.text, IGNORED_CHECKER);
  return d;
}

/** Timers inherited from the real server / virtual server; retry and delay_before_retry only when written. */
export interface ResolvedTimers {
  connectTimeoutMs: number;
  delayLoopMs: number;
  retry?: number;
  delayBeforeRetryMs?: number;
  warmupMs: number;
  alpha: boolean;
}

/** keepalived's per-type defaults (check_*.c: retry, default_delay_before_retry) */
function defaultRetry(type: CheckerType): number {
  if (type === 'DNS_CHECK') return 3;
  if (type === 'MISC_CHECK') return 0;
  return 1;
}

function defaultDelayBeforeRetryMs(type: CheckerType, delayLoopMs: number): number {
  if (type === 'HTTP_GET' || type === 'SSL_GET') return 3000;
  if (type === 'DNS_CHECK') return delayLoopMs;
  return 1000;
}

/** Turn a draft into a full CheckerSpec, or report why it cannot run. */
export function finishChecker(d: CheckerDraft, t: ResolvedTimers, c: Ctx, globalVirtualhost: string | undefined): CheckerSpec | undefined {
  const f = d.fields;
  const base: CheckerCommon = {
    connectTimeoutMs: d.timers.connectTimeoutMs ?? t.connectTimeoutMs,
    delayLoopMs: d.timers.delayLoopMs ?? t.delayLoopMs,
    retry: d.timers.retry ?? t.retry ?? defaultRetry(d.type),
    delayBeforeRetryMs: d.timers.delayBeforeRetryMs ?? t.delayBeforeRetryMs ?? defaultDelayBeforeRetryMs(d.type, d.timers.delayLoopMs ?? t.delayLoopMs),
    warmupMs: d.timers.warmupMs ?? t.warmupMs,
    alpha: d.timers.alpha ?? t.alpha,
    logAllFailures: d.logAllFailures,
    loc: d.loc,
  };
  // optional fields only when written, so that JSON dumps stay small
  for (const k of ['connectIp', 'connectPort', 'bindTo', 'bindIf', 'bindPort', 'fwmark'] as const) {
    if (f[k] !== undefined) (base as unknown as Record<string, unknown>)[k] = f[k];
  }
  // the spec is built on `base` (no copies): 37,000 real servers make this a hot path
  const set = <T extends object>(extra: T): CheckerCommon & T => Object.assign(base, extra);
  const opt = (k: string, v: unknown): void => {
    if (v !== undefined) (base as unknown as Record<string, unknown>)[k] = v;
  };
  switch (d.type) {
    case 'HTTP_GET':
    case 'SSL_GET': {
      const urls = (f['urls'] as HttpUrl[] | undefined) ?? [];
      if (urls.length === 0) {
        c.diags.error(d.loc, `${d.type} without any url { path ... } block; checker ignored`);
        return undefined;
      }
      opt('virtualhost', (f['virtualhost'] as string | undefined) ?? globalVirtualhost);
      opt('sniName', f['sniName']);
      return set({
        type: d.type,
        urls,
        httpProtocol: (f['httpProtocol'] as '1.0' | '1.0C' | '1.1' | undefined) ?? '1.0',
        fastRecovery: (f['fastRecovery'] as boolean | undefined) ?? false,
        enableSni: (f['enableSni'] as boolean | undefined) ?? false,
        tlsCompliant: (f['tlsCompliant'] as boolean | undefined) ?? false,
      });
    }
    case 'TCP_CHECK':
      return set({ type: 'TCP_CHECK' as const });
    case 'PING_CHECK':
      return set({ type: 'PING_CHECK' as const });
    case 'SMTP_CHECK':
      return set({ type: 'SMTP_CHECK' as const, heloName: (f['heloName'] as string | undefined) ?? localHostName() });
    case 'DNS_CHECK':
      return set({ type: 'DNS_CHECK' as const, queryType: (f['queryType'] as DnsType | undefined) ?? 'SOA', name: (f['name'] as string | undefined) ?? '.' });
    case 'MISC_CHECK': {
      const p = f['path'] as string | undefined;
      if (!p) {
        c.diags.error(d.loc, 'MISC_CHECK without misc_path; checker ignored');
        return undefined;
      }
      opt('user', f['user']);
      return set({
        type: 'MISC_CHECK' as const,
        path: p,
        timeoutMs: (f['timeoutMs'] as number | undefined) ?? base.delayLoopMs,
        dynamic: (f['dynamic'] as boolean | undefined) ?? false,
      });
    }
    case 'UDP_CHECK':
      for (const k of ['payload', 'requireReply', 'minReplyLength', 'maxReplyLength']) opt(k, f[k]);
      return set({ type: 'UDP_CHECK' as const, requireReplyAny: (f['requireReplyAny'] as boolean | undefined) ?? false });
    case 'FILE_CHECK': {
      const tf = f['trackFile'] as string | undefined;
      if (!tf) {
        c.diags.error(d.loc, 'FILE_CHECK without track_file; checker ignored');
        return undefined;
      }
      opt('weight', f['weight']);
      return set({
        type: 'FILE_CHECK' as const,
        trackFile: tf,
        dynamic: (f['dynamic'] as boolean | undefined) ?? false,
        weightReverse: (f['weightReverse'] as boolean | undefined) ?? false,
      });
    }
    case 'NEGOTIATE_CHECK': {
      const service = f['service'] as NegotiateCheck['service'] | undefined;
      const receive = f['receive'] as string | undefined;
      if (!service || receive === undefined) {
        c.diags.error(d.loc, 'NEGOTIATE_CHECK needs service and receive; checker ignored');
        return undefined;
      }
      opt('virtualhost', f['virtualhost']);
      return set({
        type: 'NEGOTIATE_CHECK' as const,
        service,
        request: (f['request'] as string | undefined) ?? (service === 'http' || service === 'https' ? '/' : ''),
        receive,
        httpMethod: (f['httpMethod'] as 'GET' | 'HEAD' | undefined) ?? 'GET',
      });
    }
  }
}

function localHostName(): string {
  return os.hostname() || 'localhost';
}
