/** Structured JSON logs (pino); one root logger, children per component or request. */
import pino, { type Logger } from 'pino';

export type { Logger };

/** Receives each serialized line (redacted, as on the console) at warn and above. */
export type LogSink = (line: string) => void;

const TAP = Symbol('tradeql.logTap');

/** A pino destination that hands warnings and errors to whoever listens (the gateway's system-log writer). */
class LogTap {
  readonly sinks = new Set<LogSink>();

  write(line: string): void {
    for (const sink of this.sinks) {
      try {
        sink(line);
      } catch {
        // A sink must never break logging.
      }
    }
  }
}

/**
 * LOG_LEVEL sets what reaches the console. Warnings and errors also go to the tap whatever LOG_LEVEL says, so they
 * reach logging.system_logs even when the console is quieter.
 */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  const tap = new LogTap();
  const streams: pino.StreamEntry[] = [{ level: 'warn', stream: tap }];
  if (level !== 'silent') streams.push({ level: level as pino.Level, stream: pino.destination({ dest: 1, sync: true }) });
  const warn = pino.levels.values.warn;
  const logger = pino(
    {
      level: level !== 'silent' && pino.levels.values[level] < warn ? level : 'warn',
      base: { service: 'tradeql' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Never log credentials that may sit in connection strings or headers.
      redact: { paths: ['*.password', '*.authorization', 'req.headers.authorization', '*.clientUrl'], censor: '[redacted]' },
    },
    pino.multistream(streams),
  );
  // Children are created from their parent's prototype: they find the root's tap.
  Object.defineProperty(logger, TAP, { value: tap });
  return logger;
}

/** Listens to a logger's warnings and errors (children included); returns the function that stops. */
export function onWarnings(log: Logger, sink: LogSink): (() => void) | undefined {
  const tap = (log as unknown as { [TAP]?: LogTap })[TAP];
  if (!tap) return undefined; // not one of ours
  tap.sinks.add(sink);
  return () => tap.sinks.delete(sink);
}
