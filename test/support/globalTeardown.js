// @ts-check
export default async function globalTeardown() {
  const services = /** @type {any} */ (globalThis).__services;
  await services?.stop();
}
