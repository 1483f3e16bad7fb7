// What the checker side needs from the configuration: per real server its target, configured
// weight and checkers, plus the global settings probes use. Plain data (it crosses IPC).
import type { CheckerSpec, Config } from '../src/config/model.js';
import type { ProbeSettings, ProbeTarget } from './types.js';

export interface CheckedRealServer {
  /** RealServer.id: `${vs.id}/rs:[ip]:port` */
  rsId: string;
  vsId: string;
  target: ProbeTarget;
  /** configured weight (dynamic checkers adjust relative to it) */
  weight: number;
  checkers: CheckerSpec[];
}

export interface CheckerInput {
  realServers: CheckedRealServer[];
  settings: ProbeSettings & {
    /** global checker_log_all_failures */
    logAllFailures: boolean;
  };
}

export function checkerInputFromConfig(config: Config): CheckerInput {
  const realServers: CheckedRealServer[] = [];
  for (const vs of config.virtualServers) {
    for (const rs of vs.realServers) {
      // nothing to check: always up (keepalived), the virtual-server manager knows that itself
      if (rs.checkers.length === 0) continue;
      const target: ProbeTarget = { address: rs.address, port: rs.port, family: rs.family };
      if (vs.virtualhost) target.virtualhost = vs.virtualhost;
      realServers.push({ rsId: rs.id, vsId: vs.id, target, weight: rs.weight, checkers: rs.checkers });
    }
  }
  return {
    realServers,
    settings: {
      enableScriptSecurity: config.global.enableScriptSecurity,
      scriptUser: config.global.scriptUser,
      trackFiles: config.trackFiles,
      logAllFailures: config.global.checkerLogAllFailures,
    },
  };
}
