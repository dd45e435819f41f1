// @ts-check
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

export default async function globalTeardown() {
  const services = /** @type {any} */ (globalThis).__services;
  await services?.stop();
  assertNoSecretLogged(process.env['TEST_LOG_DIR']);
}

/**
 * Every `projector` process the tests started wrote its whole output under TEST_LOG_DIR; tests
 * register the secrets they used in its `secrets` file (the role passwords come from globalSetup).
 * One secret in one line fails the run. The error names the file and line, not the secret.
 * @param {string | undefined} dir
 */
function assertNoSecretLogged(dir) {
  if (!dir || !existsSync(dir)) return;
  const registered = existsSync(path.join(dir, 'secrets'))
    ? readFileSync(path.join(dir, 'secrets'), 'utf8').split('\n')
    : [];
  const secrets = [
    process.env['TEST_WORKER_PASSWORD'],
    process.env['TEST_READER_PASSWORD'],
    ...registered,
  ].filter(/** @returns {s is string} */ (s) => typeof s === 'string' && s.length >= 8);
  let lines = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.log'))) {
    const content = readFileSync(path.join(dir, file), 'utf8').split('\n');
    lines += content.length;
    content.forEach((line, index) => {
      if (secrets.some((secret) => line.includes(secret))) {
        throw new Error(`a password was logged: ${path.join(dir, file)} line ${index + 1}`);
      }
    });
  }
  process.stdout.write(
    `\nsecret scan: ${lines} log lines from test processes, ${secrets.length} secrets, none found\n`,
  );
}
