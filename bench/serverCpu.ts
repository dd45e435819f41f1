/**
 * The CPU time each database server spends, read from /proc where the servers run on the bench's
 * own machine (scripts/citus.sh's cluster, the local PostgreSQL): where a flush's time goes, node
 * by node. A server is found by its checkpointer, whose parent is the postmaster; the server's
 * time is the postmaster's own, its live children's, and what its exited children left it (a
 * backend that ends is added to its parent's cutime and cstime when the postmaster reaps it).
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Pool } from '../src/db/pool.js';

const CHECKPOINTER = `SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'`;
const TICKS_PER_SECOND = 100;

interface ProcStat {
  readonly ppid: number;
  /** utime + stime, and cutime + cstime (children reaped), in ticks. */
  readonly own: number;
  readonly reaped: number;
}

function procStat(pid: number): ProcStat | undefined {
  try {
    // The command name (field 2) may hold spaces: the fields after it start after its ')'.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const n = (i: number) => Number(fields[i - 3]);
    return { ppid: n(4), own: n(14) + n(15), reaped: n(16) + n(17) };
  } catch {
    return undefined;
  }
}

/** CPU seconds the server whose postmaster is `postmaster` has spent so far. */
function serverSeconds(postmaster: number): number {
  const self = procStat(postmaster);
  if (!self) return 0;
  let ticks = self.own + self.reaped;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = procStat(Number(entry));
    if (child?.ppid === postmaster) ticks += child.own;
  }
  return ticks / TICKS_PER_SECOND;
}

export interface ServerCpu {
  /** The servers' names, in the order `seconds` gives them. */
  readonly nodes: readonly string[];
  /** CPU seconds each server has spent so far. */
  seconds(): number[];
}

/**
 * The meter for `pool`'s server and, on Citus, its worker nodes; undefined where a server does not
 * run on this machine (no /proc entry for its postmaster).
 */
export async function serverCpu(pool: Pool, platform: string): Promise<ServerCpu | undefined> {
  const pids: Array<[string, number]> = [];
  const { rows } = await pool.query<{ pid: number }>(CHECKPOINTER);
  if (rows[0]) pids.push([platform === 'citus' ? 'coordinator' : 'server', rows[0].pid]);
  if (platform === 'citus') {
    const { rows: workers } = await pool.query<{ node: string; result: string }>(
      `SELECT nodename || ':' || nodeport AS node, result
       FROM run_command_on_workers($$${CHECKPOINTER}$$) ORDER BY nodeport`,
    );
    for (const w of workers) pids.push([`worker ${w.node}`, Number(w.result)]);
  }
  const postmasters = pids.map(([node, pid]) => [node, procStat(pid)?.ppid] as const);
  if (postmasters.length === 0 || postmasters.some(([, ppid]) => ppid === undefined)) return undefined;
  return {
    nodes: postmasters.map(([node]) => node),
    seconds: () => postmasters.map(([, ppid]) => serverSeconds(ppid!)),
  };
}
