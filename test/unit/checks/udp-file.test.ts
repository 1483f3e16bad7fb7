import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FileCheck, TrackFile, UdpCheck } from '../../../src/config/model.js';
import { judgeFileValue, probeFile, strtol0 } from '../../../checks/file.js';
import { parseHex } from '../../../checks/net-util.js';
import { judgeUdpReply, probeUdp } from '../../../checks/udp.js';
import { closedUdpPort, common, ctx, loc, target, tmpDir, udpServer } from './helpers.js';

const udp = (over: Partial<UdpCheck> = {}): UdpCheck => ({ ...common(), type: 'UDP_CHECK', requireReplyAny: false, ...over });

describe('hex strings (keepalived format)', () => {
  it('reads groups two digits at a time, a lone last digit as its own byte', () => {
    expect(parseHex('Ab12f 3 456 546443123').data.toString('hex')).toBe('ab120f03450654644312' + '03');
    expect(parseHex('').data.length).toBe(0);
    const m = parseHex('1X Xf', true);
    expect(m.data.toString('hex')).toBe('100f');
    expect(m.mask.toString('hex')).toBe('0ff0');
    expect(() => parseHex('zz')).toThrow(/invalid hex digit/);
  });

  it('judges replies: length bounds, then the common prefix outside X nibbles', () => {
    const expect1 = parseHex('12 3X', true);
    expect(judgeUdpReply(Buffer.from([0x12, 0x3f, 0x99]), expect1, 0, 255)).toBeNull();
    expect(judgeUdpReply(Buffer.from([0x12]), expect1, 0, 255)).toBeNull(); // only min(len) bytes compared
    expect(judgeUdpReply(Buffer.from([0x12, 0x4f]), expect1, 0, 255)).toMatch(/reply byte 1 is 0x4f, expected 0x30/);
    expect(judgeUdpReply(Buffer.alloc(3), null, 4, 10)).toBe('reply of 3 bytes outside 4-10');
  });
});

describe('UDP_CHECK', () => {
  it('without require_reply: up when no ICMP error comes back within the timeout', async () => {
    const s = await udpServer(() => {});
    try {
      const r = await probeUdp(udp({ ...common({ connectTimeoutMs: 150 }), payload: 'dead beef' } as UdpCheck), target(s.port), ctx());
      expect(r).toMatchObject({ up: true, reason: expect.stringContaining('no ICMP error within 150 ms') });
      expect(s.received[0]!.toString('hex')).toBe('deadbeef');
    } finally {
      await s.close();
    }
  });

  it('a closed port (ICMP port unreachable) is down at once with ECONNREFUSED', async () => {
    const port = await closedUdpPort();
    const t0 = Date.now();
    const r = await probeUdp(udp({ ...common({ connectTimeoutMs: 3000 }) } as UdpCheck), target(port), ctx());
    expect(r.up).toBe(false);
    expect(r.reason).toContain(`ECONNREFUSED 127.0.0.1:${port}`);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('with require_reply: the echo must match, in length and content', async () => {
    const echo = await udpServer((m, send) => send(m));
    const silent = await udpServer(() => {});
    try {
      expect((await probeUdp(udp({ payload: '01020304', requireReply: '0102 XX04' }), target(echo.port), ctx())).up).toBe(true);
      const mismatch = await probeUdp(udp({ payload: '01020304', requireReply: '0109' }), target(echo.port), ctx());
      expect(mismatch.reason).toContain('reply byte 1 is 0x02, expected 0x09');
      const tooShort = await probeUdp(udp({ payload: '01', requireReplyAny: true, minReplyLength: 2 }), target(echo.port), ctx());
      expect(tooShort.reason).toContain('reply of 1 bytes outside 2-255');
      const noReply = await probeUdp(udp({ ...common({ connectTimeoutMs: 150 }), payload: '01', requireReplyAny: true } as UdpCheck), target(silent.port), ctx());
      expect(noReply.reason).toContain('timeout after 150 ms waiting for a reply');
      expect((await probeUdp(udp({ payload: 'zz' }), target(echo.port), ctx())).reason).toContain('invalid hex digit');
    } finally {
      await Promise.all([echo.close(), silent.close()]);
    }
  });
});

describe('FILE_CHECK', () => {
  const dir = tmpDir();
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tf = (name: string, weight = 0, reverse = false): TrackFile => ({ name, file: path.join(dir, name), weight, weightReverse: reverse, loc });
  const fc = (over: Partial<FileCheck> = {}): FileCheck => ({ ...common(), type: 'FILE_CHECK', trackFile: 'f', dynamic: false, weightReverse: false, ...over });

  it('parses numbers like strtol(.., 0)', () => {
    expect(strtol0(' 42\n')).toBe(42n);
    expect(strtol0('-7abc')).toBe(-7n);
    expect(strtol0('0x1f')).toBe(31n);
    expect(strtol0('010')).toBe(8n);
    expect(strtol0('09')).toBe(0n);
    expect(strtol0('junk')).toBe(0n);
    expect(strtol0('')).toBe(0n);
  });

  it('applies keepalived track_file rules', () => {
    expect(judgeFileValue(0n, 0, false, false).up).toBe(true);
    expect(judgeFileValue(3n, 0, false, false).up).toBe(false);
    expect(judgeFileValue(0n, 0, true, false).up).toBe(false);
    expect(judgeFileValue(5n, 0, true, false).up).toBe(true);
    expect(judgeFileValue(5n, 10, false, true)).toMatchObject({ up: true, weightDelta: 50 });
    expect(judgeFileValue(5n, 10, true, true)).toMatchObject({ up: true, weightDelta: -50 });
    expect(judgeFileValue(5n, 10, false, false).weightDelta).toBeUndefined();
    expect(judgeFileValue(-2147483648n, 1, false, true).up).toBe(false);
    expect(judgeFileValue(-3000000000n, 1000, false, true).up).toBe(false);
  });

  it('reads the tracked file; a missing file is down', async () => {
    const settings = { trackFiles: { f: tf('f'), w: tf('w', 3) } };
    fs.writeFileSync(path.join(dir, 'f'), '0\n');
    expect((await probeFile(fc(), target(80), ctx(settings))).up).toBe(true);
    fs.writeFileSync(path.join(dir, 'f'), '1\n');
    expect((await probeFile(fc(), target(80), ctx(settings))).reason).toContain('value 1 means failure');
    fs.writeFileSync(path.join(dir, 'w'), '4');
    expect(await probeFile(fc({ trackFile: 'w', dynamic: true }), target(80), ctx(settings))).toMatchObject({ up: true, weightDelta: 12 });
    // the checker's own weight overrides the track_file's
    expect(await probeFile(fc({ trackFile: 'w', dynamic: true, weight: -2 }), target(80), ctx(settings))).toMatchObject({ up: true, weightDelta: -8 });
    fs.rmSync(path.join(dir, 'f'));
    expect((await probeFile(fc(), target(80), ctx(settings))).reason).toContain('file does not exist');
    expect((await probeFile(fc({ trackFile: 'nope' }), target(80), ctx(settings))).reason).toContain('track_file nope is not defined');
    fs.writeFileSync(path.join(dir, 'f'), '99999999999');
    expect((await probeFile(fc(), target(80), ctx(settings))).reason).toContain('invalid number');
  });
});
