// FILE_CHECK: the number in a track_file decides the checker (keepalived's track_file rules).
//  - weight 0: a value of 0 is up, anything else down ("reverse" swaps the two);
//  - weight W != 0: result = value x W (x -1 with reverse), clamped to int32; down only when the
//    result reaches INT32_MIN (keepalived's IPVS_WEIGHT_FAULT), else up, and with `dynamic` the
//    result is added to the real server's weight.
// Divergence (by design): a missing or unreadable file is down here; keepalived reads it as 0.
import fs from 'node:fs/promises';
import type { FileCheck } from '../src/config/model.js';
import type { ProbeContext, ProbeResult, ProbeTarget } from './types.js';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** C strtol(s, NULL, 0): whitespace, sign, 0x hex / 0 octal / decimal prefix; no digits = 0. */
export function strtol0(text: string): bigint {
  const m = /^\s*([+-]?)(.*)$/s.exec(text)!;
  const neg = m[1] === '-';
  const rest = m[2]!;
  let base = 10;
  let digits: string;
  if (/^0[xX][0-9a-fA-F]/.test(rest)) {
    base = 16;
    digits = /^[0-9a-fA-F]*/.exec(rest.slice(2))![0];
  } else if (rest.startsWith('0')) {
    base = 8;
    digits = /^[0-7]*/.exec(rest.slice(1))![0];
  } else digits = /^[0-9]*/.exec(rest)![0];
  if (digits === '') return 0n;
  let v = 0n;
  for (const ch of digits) v = v * BigInt(base) + BigInt(parseInt(ch, 16));
  return neg ? -v : v;
}

export interface FileVerdict {
  up: boolean;
  reason: string;
  weightDelta?: number;
}

/** Pure rule: what a value read from the file means for this checker. */
export function judgeFileValue(value: bigint, weight: number, reverse: boolean, dynamic: boolean): FileVerdict {
  if (weight === 0) {
    const fault = reverse ? value === 0n : value !== 0n;
    return { up: !fault, reason: `value ${value}${reverse ? ' (reverse)' : ''} ${fault ? 'means failure' : 'means ok'}` };
  }
  let result = value * BigInt(weight) * (reverse ? -1n : 1n);
  if (result < BigInt(INT32_MIN)) result = BigInt(INT32_MIN);
  if (result > BigInt(INT32_MAX)) result = BigInt(INT32_MAX);
  const r = Number(result);
  if (r <= INT32_MIN) return { up: false, reason: `value ${value} x weight ${weight} reaches the fault level` };
  const v: FileVerdict = { up: true, reason: `value ${value} x weight ${weight}${reverse ? ' (reverse)' : ''} = ${r}` };
  if (dynamic) v.weightDelta = r;
  return v;
}

export async function probeFile(spec: FileCheck, _target: ProbeTarget, ctx: ProbeContext): Promise<ProbeResult> {
  const start = ctx.now();
  const tf = ctx.settings.trackFiles[spec.trackFile];
  if (!tf) return { up: false, reason: `FILE_CHECK: track_file ${spec.trackFile} is not defined`, latencyMs: 0 };
  // the checker's weight wins; without one, the track_file's weight and reverse apply (keepalived)
  const weight = spec.weight !== undefined && spec.weight !== 0 ? spec.weight : tf.weight;
  const reverse = spec.weight !== undefined && spec.weight !== 0 ? spec.weightReverse : tf.weightReverse;
  let text: string;
  try {
    const fh = await fs.open(tf.file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      const buf = Buffer.alloc(127);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      text = buf.toString('latin1', 0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { up: false, reason: `FILE_CHECK ${tf.file}: ${e.code === 'ENOENT' ? 'file does not exist' : `cannot read (${e.code ?? e.message})`}`, latencyMs: ctx.now() - start };
  }
  const value = strtol0(text);
  if (value < BigInt(INT32_MIN) || value > BigInt(INT32_MAX) + 1n)
    return { up: false, reason: `FILE_CHECK ${tf.file}: invalid number ${JSON.stringify(text.trim().slice(0, 30))}`, latencyMs: ctx.now() - start };
  const v = judgeFileValue(value, weight, reverse, spec.dynamic);
  const r: ProbeResult = { up: v.up, reason: `FILE_CHECK ${tf.file}: ${v.reason}`, latencyMs: ctx.now() - start };
  if (v.weightDelta !== undefined) r.weightDelta = v.weightDelta;
  return r;
}
