/**
 * CPU time of processes, from /proc (Linux): a worker's, and each database server's where the
 * servers run on the bench's own machine (scripts/citus.sh's cluster, the local PostgreSQL) —
 * where a flush's time goes, node by node. A server is found by its checkpointer, whose parent is
 * the postmaster; the server's time is the postmaster's own, its live children's, and what its
 * exited children left it (a backend that ends is added to its parent's cutime and cstime when
 * the postmaster reaps it).
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Pool } from '../src/db/pool.js';
import { round1 } from './stats.js';

const CHECKPOINTER = `SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'`;
/** /proc's clock ticks (USER_HZ): 100 per second on Linux, whatever the kernel's own HZ. */
const TICKS_PER_SECOND = 100;

interface ProcStat {
  readonly ppid: number;
  /** utime + stime, and cutime + cstime (children reaped), in ticks. */
  readonly own: number;
  readonly reaped: number;
}

function procStat(pid: number): ProcStat | undefined {
  try {
    // The command name (field 2) may hold spaces and parentheses: the fields after it start after
    // its last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const n = (i: number) => Number(fields[i - 3]);
    return { ppid: n(4), own: n(14) + n(15), reaped: n(16) + n(17) };
  } catch {
    return undefined;
  }
}

/** A process's CPU time so far (user + system), in ms; 0 when it is gone. */
export function cpuMs(pid: number): number {
  const stat = procStat(pid);
  return stat ? (stat.own * 1000) / TICKS_PER_SECOND : 0;
}

/** Whether `pid` on this machine is a PostgreSQL checkpointer (the server is here, not remote). */
function isCheckpointer(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('checkpointer');
  } catch {
    return false;
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
 * run on this machine (its checkpointer's process id is not a checkpointer here).
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
  // A process id from a server elsewhere (a container, another host) may name anything here.
  if (pids.length === 0 || !pids.every(([, pid]) => isCheckpointer(pid))) return undefined;
  const postmasters = pids.map(([node, pid]) => [node, procStat(pid)?.ppid] as const);
  if (postmasters.some(([, ppid]) => ppid === undefined)) return undefined;
  return {
    nodes: postmasters.map(([node]) => node),
    seconds: () => postmasters.map(([, ppid]) => serverSeconds(ppid!)),
  };
}

/**
 * CPU spent inside timed sections only (`timed('start')` … `timed('end')`, any number of them):
 * each server's of `meter` and this process's own, in µs per event over `events`.
 */
export function timedCpu(meter: ServerCpu | undefined) {
  const server = meter?.nodes.map(() => 0) ?? [];
  let client = 0;
  let serverAt: number[] = [];
  let clientAt = process.cpuUsage();
  return {
    timed: (phase: 'start' | 'end'): void => {
      if (phase === 'start') {
        serverAt = meter?.seconds() ?? [];
        clientAt = process.cpuUsage();
        return;
      }
      meter?.seconds().forEach((after, i) => (server[i]! += after - serverAt[i]!));
      const used = process.cpuUsage(clientAt);
      client += (used.user + used.system) / 1e6;
    },
    microsPerEvent: (events: number) => {
      const per = (seconds: number) => round1((seconds / events) * 1e6);
      return { serverMicros: server.map(per), clientMicros: per(client) };
    },
  };
}
