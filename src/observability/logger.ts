import { pino, type Logger as PinoLogger } from 'pino';
import type { LogLevel } from '../config.js';

export type Logger = PinoLogger;

/** JSON logs on stdout (or the given stream); a child logger per stage adds {stage, topic, partition}. */
export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    base: { service: 'bet-projector' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: ['password', '*.password', 'databaseUrl', '*.databaseUrl'], censor: '***' },
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}

export const silentLogger: Logger = pino({ level: 'silent' });
