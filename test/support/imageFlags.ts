/** The Node flags the image starts the projector with (Dockerfile ENTRYPOINT), as a pod runs it. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './docs.js';

export function entrypointNodeFlags(): string[] {
  const line = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('ENTRYPOINT'));
  if (line === undefined) throw new Error('the Dockerfile has no ENTRYPOINT');
  const args = JSON.parse(line.slice('ENTRYPOINT'.length)) as string[];
  return args.filter((a) => a.startsWith('--'));
}
