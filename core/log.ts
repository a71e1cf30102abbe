/**
 * A small leveled logger writing one line per event to stderr: time, level, scope, message and
 * key=value fields. Plain text so that `kubectl logs` stays readable; no dependency.
 */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export type Fields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  error(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  enabled(level: LogLevel): boolean;
  child(scope: string): Logger;
}

function format(fields: Fields | undefined): string {
  if (!fields) return '';
  let out = '';
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    const s = String(v);
    out += ` ${k}=${/[\s"=]/.test(s) ? JSON.stringify(s) : s}`;
  }
  return out;
}

export function createLogger(level: LogLevel, scope: string, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const max = RANK[level];
  const emit = (lvl: LogLevel, msg: string, fields?: Fields) => {
    if (RANK[lvl] > max) return;
    write(`${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} ${scope}: ${msg}${format(fields)}\n`);
  };
  return {
    error: (m, f) => emit('error', m, f),
    warn: (m, f) => emit('warn', m, f),
    info: (m, f) => emit('info', m, f),
    debug: (m, f) => emit('debug', m, f),
    enabled: (l) => RANK[l] <= max,
    child: (s) => createLogger(level, `${scope}/${s}`, write),
  };
}
