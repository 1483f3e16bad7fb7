import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/model.js';
import { checkerInputFromConfig } from '../../../checks/input.js';
import { httpCheck, loc } from './helpers.js';

describe('checkerInputFromConfig', () => {
  it('takes every real server with checkers, its target, weight and the virtual server virtualhost', () => {
    const chk = httpCheck();
    const cfg = {
      global: { enableScriptSecurity: true, scriptUser: { user: 'nobody' }, checkerLogAllFailures: true },
      trackFiles: { t: { name: 't', file: '/run/t', weight: 0, weightReverse: false, loc } },
      virtualServers: [
        {
          id: 'vs:TCP:[10.0.0.1]:80',
          virtualhost: 'www.example',
          realServers: [
            { id: 'vs:TCP:[10.0.0.1]:80/rs:[10.0.0.5]:8080', address: '10.0.0.5', family: 'inet', port: 8080, weight: 3, checkers: [chk] },
            { id: 'vs:TCP:[10.0.0.1]:80/rs:[10.0.0.6]:8080', address: '10.0.0.6', family: 'inet', port: 8080, weight: 1, checkers: [] },
          ],
        },
      ],
    } as unknown as Config;
    const input = checkerInputFromConfig(cfg);
    expect(input.realServers).toEqual([
      {
        rsId: 'vs:TCP:[10.0.0.1]:80/rs:[10.0.0.5]:8080',
        vsId: 'vs:TCP:[10.0.0.1]:80',
        target: { address: '10.0.0.5', port: 8080, family: 'inet', virtualhost: 'www.example' },
        weight: 3,
        checkers: [chk],
      },
    ]);
    expect(input.settings).toMatchObject({ enableScriptSecurity: true, scriptUser: { user: 'nobody' }, logAllFailures: true });
    expect(Object.keys(input.settings.trackFiles)).toEqual(['t']);
  });
});

describe('probe identity from a real configuration', () => {
  it('the same checker written in two virtual servers (different lines) is one probe', async () => {
    const { loadConfig } = await import('../../../src/config/index.js');
    const { probeKey } = await import('../../../checks/dedup.js');
    const vs = (vip: string, algo: string, extra: string): string =>
      `virtual_server ${vip} 80 {\n lb_algo ${algo}\n real_server 10.2.0.2 80 {\n${extra}  HTTP_GET {\n   url {\n    path /\n    status_code 200\n   }\n   connect_timeout 1\n  }\n }\n}\n`;
    const text = vs('10.1.0.1', 'rr', '') + vs('10.1.0.2', 'wrr', '  inhibit_on_failure\n  weight 3\n') + vs('10.1.0.3', 'sh', '');
    const r = loadConfig('/x.conf', { files: { '/x.conf': text } });
    const input = checkerInputFromConfig(r.config!);
    const keys = input.realServers.map((rs) => probeKey(rs.checkers[0]!, rs.target));
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    // a different url is a different probe
    const r2 = loadConfig('/y.conf', { files: { '/y.conf': vs('10.1.0.1', 'rr', '') + vs('10.1.0.2', 'rr', '').replace('path /', 'path /other') } });
    const k2 = checkerInputFromConfig(r2.config!).realServers.map((rs) => probeKey(rs.checkers[0]!, rs.target));
    expect(new Set(k2).size).toBe(2);
  });
});
