import { describe, expect, it } from 'vitest';
import { effectiveDataplane, engineLimitationsFor } from '../../../src/dataplane/engine-choice.js';
import { load, messages } from '../config/helpers.js';

const conf = (dp: string, sched: string, kind = 'NAT') =>
  `lvsd_defs {\n  dataplane ${dp}\n}\nvirtual_server 10.0.0.1 80 {\n  lb_algo ${sched}\n  lb_kind ${kind}\n  real_server 10.0.1.1 80 {\n  }\n}\n`;

describe('engine choice and limitations in lvsd check', () => {
  it('auto picks IPVS when the kernel has it, nftables otherwise', () => {
    expect(effectiveDataplane('auto', () => true)).toBe('ipvs');
    expect(effectiveDataplane('auto', () => false)).toBe('nftables');
    expect(effectiveDataplane('nftables', () => true)).toBe('nftables');
  });

  it('what nftables cannot do is an error at the virtual server when nftables is the engine', () => {
    const r = load(conf('auto', 'wlc', 'TUN'), {}, { engineLimitations: engineLimitationsFor(() => false) });
    expect(r.exitCode).toBe(4);
    expect(messages(r)).toEqual([
      expect.stringMatching(/^main\.conf:4:1 error: scheduler wlc \(weighted least-connection\) needs connection counts, which nftables does not keep.*\(dataplane auto chose nftables: this kernel has no IPVS\)$/),
      expect.stringMatching(/^main\.conf:4:1 error: TUN forwarding .* is not available with nftables/),
    ]);
  });

  it('the same configuration is clean where IPVS is the engine', () => {
    expect(load(conf('auto', 'wlc', 'TUN'), {}, { engineLimitations: engineLimitationsFor(() => true) }).diagnostics).toEqual([]);
    expect(load(conf('ipvs', 'lblc'), {}, { engineLimitations: engineLimitationsFor(() => false) }).diagnostics).toEqual([]);
  });

  it('schedulers nftables has are fine', () => {
    for (const s of ['rr', 'wrr', 'sh', 'dh', 'mh']) {
      expect(load(conf('nftables', s), {}, { engineLimitations: engineLimitationsFor(() => false) }).diagnostics).toEqual([]);
    }
  });
});
