// Probe identity: two checkers with the same key run the same probe with the same state machine,
// so they are probed once and the result fanned out (e.g. one real server behind several virtual
// servers). The key covers the type, the address actually probed and every spec field except
// its source location and logging flag.
import crypto from 'node:crypto';
import type { CheckerSpec, TrackFile } from '../src/config/model.js';
import { effectiveTarget, type ProbeTarget } from './types.js';

function stable(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    // source locations (of the checker and of nested url blocks) never change what is probed
    .filter((k) => o[k] !== undefined && k !== 'loc')
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stable(o[k])}`)
    .join(',')}}`;
}

const USES_VIRTUALHOST = new Set(['HTTP_GET', 'SSL_GET', 'NEGOTIATE_CHECK']);

export function probeKey(spec: CheckerSpec, target: ProbeTarget, trackFiles: Record<string, TrackFile> = {}): string {
  const { loc: _loc, logAllFailures: _log, ...rest } = spec;
  const t = effectiveTarget(spec, target);
  const parts: Record<string, unknown> = { spec: rest, address: t.address, port: t.port };
  if (USES_VIRTUALHOST.has(spec.type)) parts.vhost = target.virtualhost;
  if (spec.type === 'FILE_CHECK') {
    const tf = trackFiles[spec.trackFile];
    parts.file = tf ? { file: tf.file, weight: tf.weight, reverse: tf.weightReverse } : null;
  }
  // readable prefix for logs, digest of the rest to keep keys short (they cross IPC)
  const digest = crypto.createHash('sha1').update(stable(parts)).digest('base64url').slice(0, 22);
  return `${spec.type} ${t.address.includes(':') ? `[${t.address}]` : t.address}:${t.port} ${digest}`;
}
