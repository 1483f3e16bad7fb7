// Messages between ScriptHost (daemon) and script-helper (child process). JSON over Node IPC.
import type { ScriptResult, ScriptRunnerOptions, ScriptSpec } from './scripts.js';

export type HelperInit = Pick<ScriptRunnerOptions, 'enableScriptSecurity' | 'scriptUser' | 'killGraceMs' | 'securityCacheMs' | 'maxOutputBytes'>;

export type ToHelper =
  | { t: 'init'; opts: HelperInit }
  | { t: 'run'; id: number; spec: ScriptSpec }
  | { t: 'abort'; id: number }
  | { t: 'killAll'; signal: NodeJS.Signals }
  | { t: 'stop' };

export type FromHelper =
  | { t: 'ready'; pid: number }
  | { t: 'spawned'; id: number; pid: number }
  | { t: 'result'; id: number; result: ScriptResult }
  | { t: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; msg: string };
