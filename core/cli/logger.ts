import { pino, type Logger as PinoLogger } from 'pino';
import type { Logger } from '../plugin-api/index.ts';

/** A pino logger: human-readable lines by default, JSON lines with LOG_FORMAT=json (for log shippers). */
export function createLogger(level: string, name = 'slipstream'): Logger {
  const pretty = process.env['LOG_FORMAT'] !== 'json';
  const logger: PinoLogger = pretty
    ? pino({ name, level, transport: { target: 'pino-pretty', options: { colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' } } })
    : pino({ name, level });
  return logger as unknown as Logger;
}
