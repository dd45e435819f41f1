import { backlogFlushSize, ConfigError, describeConfig, loadConfig } from '../../src/config.js';
import { DIALECTS } from '../../src/db/dialect.js';

describe('loadConfig', () => {
  it('has documented defaults and freezes the result', () => {
    const config = loadConfig({});
    expect(config.flushMaxEvents).toBe(100);
    // Unset, the backlog flush size is the platform's: a Citus flush pays a task per shard.
    expect(config.flushBacklogMaxEvents).toBeUndefined();
    expect(backlogFlushSize(config, DIALECTS.postgres.backlogFlushEvents)).toBe(1_000);
    expect(backlogFlushSize(config, DIALECTS.citus.backlogFlushEvents)).toBe(6_000);
    // A FLUSH_MAX_EVENTS above the backlog default raises the backlog size with it.
    expect(
      backlogFlushSize(loadConfig({ FLUSH_MAX_EVENTS: '5000' }), DIALECTS.postgres.backlogFlushEvents),
    ).toBe(5_000);
    // Set, it holds on both platforms.
    expect(
      backlogFlushSize(loadConfig({ FLUSH_BACKLOG_MAX_EVENTS: '1500' }), DIALECTS.citus.backlogFlushEvents),
    ).toBe(1_500);
    expect(config.flushIntervalMs).toBe(100);
    expect(config.flushLingerMs).toBe(5);
    expect(config.kafkaBrokers).toEqual(['127.0.0.1:9092']);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each([
    [{ FLUSH_MAX_EVENTS: 'lots' }, 'FLUSH_MAX_EVENTS "lots" is not a whole number'],
    [{ FLUSH_INTERVAL_MS: '0' }, 'FLUSH_INTERVAL_MS 0 is out of range'],
    [{ FLUSH_BACKLOG_MAX_EVENTS: '50' }, 'FLUSH_BACKLOG_MAX_EVENTS 50 is below FLUSH_MAX_EVENTS 100'],
    [{ FLUSH_LINGER_MS: '200' }, 'FLUSH_LINGER_MS 200 is above FLUSH_INTERVAL_MS 100'],
    [{ KAFKA_BROKERS: 'localhost' }, 'KAFKA_BROKERS entry "localhost" is not host:port'],
    [{ PUBLISH_EVENTS: 'maybe' }, 'PUBLISH_EVENTS "maybe" is not a boolean'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL scheme "mysql:" is not postgres:'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL "loud" is not one of'],
    [{ PROJECTION_NAME: 'other_view' }, 'PROJECTION_NAME "other_view" is no longer read'],
    [{ PUSHGATEWAY_URL: 'ftp://gateway' }, 'PUSHGATEWAY_URL scheme "ftp:" is not http: or https:'],
    [
      { KAFKA_COMPRESSION: 'brotli' },
      'KAFKA_COMPRESSION "brotli" is not one of none, gzip, snappy, lz4, zstd',
    ],
    [{ KAFKA_TOPIC: 'bad topic' }, 'KAFKA_TOPIC "bad topic" may only contain'],
  ])('rejects %j with a message naming the variable and value', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('never shows the database password', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://app:s3cret@db:5432/bets' });
    expect(JSON.stringify(describeConfig(config))).not.toContain('s3cret');
    // Not even in the error about a URL that does not parse.
    expect(() => loadConfig({ DATABASE_URL: 'postgres://app:s3cret@[db/bets' })).toThrow(
      'DATABASE_URL "postgres://app:***@[db/bets" is not a URL',
    );
  });
});
