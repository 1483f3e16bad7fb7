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
