import { pino, type Logger as PinoLogger } from 'pino';
import type { Logger } from '../plugin-api/index.ts';

/** A logger and the way to change its level (and every child's) while the node runs. */
export interface LevelledLogger {
  readonly logger: Logger;
  setLevel(level: string): void;
}

/** A pino logger: human-readable lines by default, JSON lines with LOG_FORMAT=json (for log shippers). */
export function createLogger(level: string, name = 'slipstream', destination?: NodeJS.WritableStream): LevelledLogger {
  const pretty = process.env['LOG_FORMAT'] !== 'json' && destination === undefined;
  // pino children keep the level they were made with: remember them to change them too
  const children = new Set<WeakRef<PinoLogger>>();
  const onChild = (child: PinoLogger): void => { children.add(new WeakRef(child)); };
  const logger: PinoLogger = pretty
    ? pino({ name, level, onChild, transport: { target: 'pino-pretty', options: { colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' } } })
    : destination === undefined ? pino({ name, level, onChild }) : pino({ name, level, onChild }, destination);
  return {
    logger: logger as unknown as Logger,
    setLevel(next: string) {
      logger.level = next;
      for (const ref of children) {
        const child = ref.deref();
        if (child === undefined) children.delete(ref);
        else child.level = next;
      }
    },
  };
}
