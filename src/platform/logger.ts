/** Structured JSON logs (pino); one root logger, children per component or request. */
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service: 'tradeql' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Never log credentials that may sit in connection strings or headers.
    redact: { paths: ['*.password', '*.authorization', 'req.headers.authorization', '*.clientUrl'], censor: '[redacted]' },
  });
}
