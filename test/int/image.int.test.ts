/**
 * What the production image is built from: the folders the Dockerfile's build stage copies,
 * compiled as it compiles them (no Docker engine here, so the stage's COPY lines are followed by
 * hand). The image holds the product and no bench code, and its `projector` says so when asked to
 * bench.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The sources the build stage copies: `COPY <src> ./<dst>` lines before the runtime stage. */
function buildStageSources(): string[] {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const build = dockerfile.slice(0, dockerfile.indexOf(' AS runtime'));
  return [...build.matchAll(/^COPY (?!--)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
}

describe('the production image', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bp-image-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is built from the product alone, holds no bench code, and says so when asked to bench', () => {
    const sources = buildStageSources();
    expect(sources).toEqual(
      expect.arrayContaining(['src', 'consumers', 'projections', 'cli', 'tsconfig.build.json']),
    );
    expect(sources).not.toContain('bench');
    for (const source of sources)
      cpSync(path.join(ROOT, source), path.join(dir, source), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    execFileSync(
      process.execPath,
      [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: dir,
        stdio: 'pipe',
      },
    );
    expect(existsSync(path.join(dir, 'dist/cli/main.js'))).toBe(true);
    expect(existsSync(path.join(dir, 'dist/bench'))).toBe(false);

    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [path.join(dir, 'dist/cli/main.js'), ...args], { encoding: 'utf8' });
    expect(cli('--help').stdout).toContain('worker');
    const bench = cli('bench');
    expect({ code: bench.status, stderr: bench.stderr.trim() }).toEqual({
      code: 2,
      stderr:
        'projector bench: the bench is not part of this build (the image ships the product only): run `npm run bench` in a checkout',
    });
  });
});
