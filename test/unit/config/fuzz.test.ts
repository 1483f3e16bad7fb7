// Property tests: whatever the input, the config layer answers with diagnostics (or its own
// ConfigError), never another exception, and never hangs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/config/diagnostics.js';
import { globalHandlers, lvsdHandlers } from '../../../src/config/build/global.js';
import { instanceHandlers, syncGroupHandlers, vrrpScriptHandlers, trackFileHandlers } from '../../../src/config/build/vrrp.js';
import { vsHandlers } from '../../../src/config/build/lvs.js';
import { CHECKER_TYPES } from '../../../src/config/build/checkers.js';

const KEYWORDS = [
  'global_defs', 'lvsd_defs', 'vrrp_script', 'track_file', 'vrrp_sync_group', 'vrrp_instance', 'virtual_server_group',
  'virtual_server', 'real_server', 'url', 'path', 'group', 'fwmark', 'include', 'authentication', 'auth_type', 'auth_pass',
  ...Object.keys(globalHandlers), ...Object.keys(lvsdHandlers), ...Object.keys(instanceHandlers), ...Object.keys(syncGroupHandlers),
  ...Object.keys(vrrpScriptHandlers), ...Object.keys(trackFileHandlers), ...Object.keys(vsHandlers), ...Object.keys(CHECKER_TYPES),
];

const word = fc.oneof(
  fc.constantFrom(...KEYWORDS),
  fc.constantFrom('{', '}', '{', '}', '\n', '\n', '\n', '"', '#', '!', '\\', '$X=', '$X', '${X}', '$Y=$X $X', '@lvs1', '@^lvs1', 'include *.conf', 'include main.conf'),
  fc.constantFrom('MASTER', 'BACKUP', 'PASS', 'AH', 'NAT', 'DR', 'TUN', 'rr', 'wlc', 'TCP', 'UDP', 'eth0', 'inet6', 'reverse', 'weight'),
  fc.integer({ min: -70000, max: 70000 }).map(String),
  fc.double({ min: -1, max: 300, noNaN: true }).map((d) => d.toFixed(3)),
  fc.ipV4(),
  fc.ipV6(),
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 40 })).map(([a, p]) => `${a}/${p}`),
  fc.string({ maxLength: 12 }),
);

const tokenStream = fc.array(word, { maxLength: 400 }).map((ws) => ws.join(' '));

function loadText(main: string, extra: Record<string, string> = {}) {
  return loadConfig('/etc/lvsd/main.conf', { configId: 'lvs1', files: { '/etc/lvsd/main.conf': main, ...extra }, interfaceExists: () => true });
}

function survives(main: string, extra: Record<string, string> = {}): void {
  const t0 = performance.now();
  try {
    const r = loadText(main, extra);
    expect([0, 3, 4, 5]).toContain(r.exitCode);
    for (const d of r.diagnostics) {
      expect(d.loc.line).toBeGreaterThanOrEqual(0);
      expect(typeof d.message).toBe('string');
    }
    if (r.config) JSON.stringify(r.config);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
  }
  // a hang detector, not a speed target: inputs here are at most a few KB
  expect(performance.now() - t0).toBeLessThan(2000);
}

describe('config fuzzing', () => {
  it('random token streams built from the real vocabulary', () => {
    fc.assert(fc.property(tokenStream, (text) => survives(text)), { numRuns: 1500 });
  });

  it('random token streams split across included files', () => {
    fc.assert(
      fc.property(tokenStream, tokenStream, (a, b) => survives(`${a}\ninclude part.conf\n${a}`, { '/etc/lvsd/part.conf': b, '/etc/lvsd/x.conf': a })),
      { numRuns: 500 },
    );
  });

  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => survives(Buffer.from(bytes).toString('utf8'))),
      { numRuns: 1000 },
    );
  });

  it('mutations of a valid configuration', () => {
    const valid = `global_defs {\n router_id r\n}\nvrrp_instance VI_1 {\n state MASTER\n interface eth0\n virtual_router_id 51\n priority 150\n advert_int 1\n authentication {\n auth_type PASS\n auth_pass x\n }\n virtual_ipaddress {\n 10.0.0.1/24\n }\n}\nvirtual_server 10.0.0.1 80 {\n lb_algo rr\n real_server 10.0.1.1 80 {\n HTTP_GET {\n url {\n path /\n }\n }\n }\n}\n`;
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(valid.length), fc.nat(8), fc.string({ maxLength: 6 })), { maxLength: 8 }), (edits) => {
        let t = valid;
        for (const [at, del, ins] of edits) t = t.slice(0, at) + ins + t.slice(at + del);
        survives(t);
      }),
      { numRuns: 1500 },
    );
  });
});
