// Structured logs: pino, one JSON object per line on stdout (journald/systemd friendly).
// Subsystems get child loggers ({sub: 'vrrp'}, {sub: 'lvs'}, ...). Nothing logs per packet:
// state changes, transitions and errors only, so logging never costs VRRP timing.
import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

export interface LogOptions {
  /** keepalived -D: more detail (debug level) */
  detail?: boolean;
  level?: pino.Level;
  /** write here instead of stdout (tests) */
  destination?: pino.DestinationStream;
  /** extra fields on every line (e.g. {node: 'd1'}) */
  base?: Record<string, unknown>;
}

export function createLogger(o: LogOptions = {}): Logger {
  const level = o.level ?? (o.detail ? 'debug' : 'info');
  const opts: pino.LoggerOptions = {
    level,
    base: { pid: process.pid, ...(o.base ?? {}) },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  // sync writes: a crash or SIGKILL must not lose the last state change
  return pino(opts, o.destination ?? pino.destination({ dest: 1, sync: true }));
}
