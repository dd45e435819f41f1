/**
 * The bench's workers run with the Node flags a deployed worker has: the image's ENTRYPOINT flags
 * and the chart's heap ceiling. A bench that drifted from them would measure another process
 * (its peak RSS above all).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { WORKER_NODE_FLAGS } from '../../bench/parts.js';
import { ROOT } from '../support/docs.js';
import { entrypointNodeFlags } from '../support/imageFlags.js';

describe('the bench workers’ Node flags', () => {
  it('are the image’s ENTRYPOINT flags and the chart’s heap ceiling, nothing else', () => {
    const values = parse(readFileSync(path.join(ROOT, 'helm/bet-projector/values.yaml'), 'utf8')) as {
      heapLimitMiB: number;
    };
    expect([...WORKER_NODE_FLAGS].sort()).toEqual(
      [...entrypointNodeFlags(), `--max-old-space-size=${values.heapLimitMiB}`].sort(),
    );
  });
});
