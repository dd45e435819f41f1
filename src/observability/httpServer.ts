/**
 * /metrics for Prometheus, /healthz for the liveness probe, /readyz for the readiness probe.
 * Liveness only asks "is the loop alive" — a worker catching up on a long backlog or retrying a
 * database outage is alive; readiness asks "can it do its job now" (database reachable, group joined).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry, RegistryContentType } from 'prom-client';

export interface ProbeResult {
  readonly ok: boolean;
  readonly detail: Record<string, unknown>;
}

export interface HttpServerOptions {
  readonly port: number;
  readonly host?: string;
  readonly registry: Registry<RegistryContentType>;
  readonly liveness: () => ProbeResult;
  readonly readiness: () => Promise<ProbeResult>;
}

export interface HttpServer {
  readonly port: number;
  close(): Promise<void>;
}

function send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const server = http.createServer((req, res) => {
    const route = (req.url ?? '/').split('?')[0];
    const handle = async () => {
      if (req.method !== 'GET') return send(res, 405, 'text/plain', 'method not allowed\n');
      if (route === '/metrics') {
        return send(res, 200, options.registry.contentType, await options.registry.metrics());
      }
      if (route === '/healthz' || route === '/readyz') {
        const probe = route === '/healthz' ? options.liveness() : await options.readiness();
        return send(
          res,
          probe.ok ? 200 : 503,
          'application/json',
          `${JSON.stringify({ ok: probe.ok, ...probe.detail })}\n`,
        );
      }
      return send(res, 404, 'text/plain', 'not found\n');
    };
    handle().catch((error: unknown) => send(res, 500, 'text/plain', `${(error as Error).message}\n`));
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
