import type { Services } from './services.js';

export default async function globalTeardown(): Promise<void> {
  const services = (globalThis as { __services?: Services }).__services;
  await services?.stop();
}
