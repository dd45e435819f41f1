/**
 * What the database allows for plain multi-row UPSERTs, independent of the projector's code: the
 * ceiling issue 23 sets the worker's drain against. `clients` connections at once, each sending
 * statements of `rows` rows (a VALUES list, Citus routes each row to its shard) into a scratch table
 * distributed as bets_view is, the rows of each statement spread over `tenants` tenants. The first
 * statements of each client insert new rows, the later ones update them under a version guard, as
 * the worker's UPSERT does once bets settle.
 */
import { dialectOf } from '../src/db/platform.js';
import type { Pool } from '../src/db/pool.js';
import type { BenchContext } from './parts.js';
import { repeat, type Figure } from './stats.js';

const TABLE = 'bench_upsert_ceiling';
/** Each client's distinct bets: after this many rows it updates what it inserted. */
const BETS_PER_CLIENT = 10_000;

const CREATE = `
CREATE TABLE ${TABLE} (
  tenant_id  bigint        NOT NULL,
  bet_id     text          NOT NULL,
  user_id    text          NOT NULL,
  amount     numeric(20,4) NOT NULL,
  odds       numeric(10,4) NOT NULL,
  status     text          NOT NULL,
  version    bigint        NOT NULL,
  updated_at timestamptz   NOT NULL,
  PRIMARY KEY (tenant_id, bet_id)
)`;

const COLUMNS = 7;

function upsertText(rows: number): string {
  const values = Array.from(
    { length: rows },
    (_, r) =>
      `(${Array.from({ length: COLUMNS }, (_, c) => `$${r * COLUMNS + c + 1}`).join(', ')}, clock_timestamp())`,
  ).join(',\n');
  return `INSERT INTO ${TABLE} AS t (tenant_id, bet_id, user_id, amount, odds, status, version, updated_at)
VALUES ${values}
ON CONFLICT (tenant_id, bet_id) DO UPDATE SET
  status = EXCLUDED.status, amount = EXCLUDED.amount, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
WHERE t.version < EXCLUDED.version`;
}

async function createTable(pool: Pool): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS ${TABLE}`);
  await pool.query(CREATE);
  for (const statement of dialectOf(pool).colocate(TABLE, 'bets_view')) await pool.query(statement);
}

/** Rows per second: `count` rows over `clients` connections, statements of `rows` rows. */
export async function benchUpsertCeiling(
  ctx: BenchContext,
  count: number,
  options: { clients: number; rows: number; tenants: number },
): Promise<Figure> {
  const { clients, rows, tenants } = options;
  const statements = Math.max(1, Math.floor(count / (clients * rows)));
  const text = upsertText(rows);
  const f = await repeat(ctx.runs, async () => {
    await createTable(ctx.pool);
    const started = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async (_, client) => {
        const db = await ctx.pool.connect();
        try {
          for (let s = 0; s < statements; s++) {
            const values: unknown[] = [];
            for (let r = 0; r < rows; r++) {
              const n = (s * rows + r) % BETS_PER_CLIENT;
              const version = Math.floor((s * rows + r) / BETS_PER_CLIENT) + 1;
              // Each statement's rows spread over the tenants; a bet keeps its tenant.
              const tenant = 1 + ((n + client) % tenants);
              values.push(tenant, `c${client}-${n}`, `u${n % 997}`, '10.0000', '1.8500', 'placed', version);
            }
            await db.query({ name: `upsert_ceiling_${rows}`, text, values });
          }
        } finally {
          db.release();
        }
      }),
    );
    return Math.round((statements * clients * rows * 1000) / (performance.now() - started));
  });
  await ctx.pool.query(`DROP TABLE IF EXISTS ${TABLE}`);
  ctx.log(
    `plain ${rows}-row UPSERT, ${clients} clients, ${tenants} tenant(s) per statement: ${f.median} rows/s`,
  );
  return f;
}
