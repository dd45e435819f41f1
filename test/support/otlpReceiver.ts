/**
 * A real OTLP/HTTP trace receiver for tests: an HTTP server on a free port that answers POST
 * /v1/traces as a collector does and decodes what it got — OTLP/JSON, or OTLP protobuf with a wire
 * decoder written here from the OTLP .proto field numbers (the SDK's own serializer is the code under
 * test, so it is not the oracle).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Record<string, string | number | boolean | Array<string | number>>;
  readonly links: Array<{ traceId: string; spanId: string }>;
  readonly statusCode: number;
  readonly serviceName: string | undefined;
}

export interface OtlpReceiver {
  readonly url: string;
  /** Content types of the requests received, in order. */
  readonly contentTypes: string[];
  readonly spans: ReceivedSpan[];
  close(): Promise<void>;
}

// --- protobuf wire format (https://protobuf.dev/programming-guides/encoding/) ---

type Field = { no: number; wire: number; value: bigint | Buffer };

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[i++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const tag = Number(varint());
    const no = tag >> 3;
    const wire = tag & 7;
    if (wire === 0) out.push({ no, wire, value: varint() });
    else if (wire === 1) {
      out.push({ no, wire, value: buf.readBigUInt64LE(i) });
      i += 8;
    } else if (wire === 2) {
      const length = Number(varint());
      out.push({ no, wire, value: buf.subarray(i, i + length) });
      i += length;
    } else if (wire === 5) {
      out.push({ no, wire, value: BigInt(buf.readUInt32LE(i)) });
      i += 4;
    } else throw new Error(`wire type ${wire} at byte ${i}`);
  }
  return out;
}

const bytesOf = (fs: Field[], no: number) =>
  fs.filter((f) => f.no === no && Buffer.isBuffer(f.value)).map((f) => f.value as Buffer);
const first = (fs: Field[], no: number) => fs.find((f) => f.no === no)?.value;

/** AnyValue: 1 string, 2 bool, 3 int, 4 double, 5 array. */
function anyValue(buf: Buffer): string | number | boolean | Array<string | number> {
  const f = fields(buf)[0];
  if (!f) return '';
  if (f.no === 1) return (f.value as Buffer).toString('utf8');
  if (f.no === 2) return f.value === 1n;
  if (f.no === 3) return Number(BigInt.asIntN(64, f.value as bigint));
  if (f.no === 4) return Buffer.from(new BigUint64Array([f.value as bigint]).buffer).readDoubleLE(0);
  if (f.no === 5) return bytesOf(fields(f.value as Buffer), 1).map((v) => anyValue(v) as string | number);
  return '';
}

function keyValues(list: Buffer[]): ReceivedSpan['attributes'] {
  const out: ReceivedSpan['attributes'] = {};
  for (const kv of list) {
    const fs = fields(kv);
    const key = (first(fs, 1) as Buffer).toString('utf8');
    const value = first(fs, 2);
    out[key] = value ? anyValue(value as Buffer) : '';
  }
  return out;
}

/** ExportTraceServiceRequest { 1 resource_spans { 1 resource, 2 scope_spans { 2 spans } } }. */
function decodeProtobuf(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of bytesOf(fields(body), 1)) {
    const rsFields = fields(rs);
    const resource = first(rsFields, 1) as Buffer | undefined;
    const resourceAttributes = resource ? keyValues(bytesOf(fields(resource), 1)) : {};
    for (const ss of bytesOf(rsFields, 2)) {
      for (const s of bytesOf(fields(ss), 2)) {
        const fs = fields(s);
        const hex = (no: number) =>
          ((first(fs, no) as Buffer | undefined) ?? Buffer.alloc(0)).toString('hex');
        const status = first(fs, 15) as Buffer | undefined;
        spans.push({
          traceId: hex(1),
          spanId: hex(2),
          parentSpanId: hex(4),
          name: (first(fs, 5) as Buffer).toString('utf8'),
          kind: Number(first(fs, 6) ?? 0n),
          attributes: keyValues(bytesOf(fs, 9)),
          links: bytesOf(fs, 13).map((l) => {
            const lf = fields(l);
            return {
              traceId: (first(lf, 1) as Buffer).toString('hex'),
              spanId: (first(lf, 2) as Buffer).toString('hex'),
            };
          }),
          statusCode: status ? Number(first(fields(status), 3) ?? 0n) : 0,
          serviceName: resourceAttributes['service.name'] as string | undefined,
        });
      }
    }
  }
  return spans;
}

// --- OTLP/JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) ---

type JsonAny = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: JsonAny[] };
};
type JsonKv = { key: string; value?: JsonAny };

function jsonValue(v: JsonAny | undefined): string | number | boolean | Array<string | number> {
  if (!v) return '';
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map((x) => jsonValue(x) as string | number);
  return '';
}

const jsonAttributes = (list: JsonKv[] | undefined) =>
  Object.fromEntries((list ?? []).map((kv) => [kv.key, jsonValue(kv.value)]));

function decodeJson(body: Buffer): ReceivedSpan[] {
  const request = JSON.parse(body.toString('utf8')) as {
    resourceSpans?: Array<{
      resource?: { attributes?: JsonKv[] };
      scopeSpans?: Array<{
        spans?: Array<{
          traceId: string;
          spanId: string;
          parentSpanId?: string;
          name: string;
          kind?: number;
          attributes?: JsonKv[];
          links?: Array<{ traceId: string; spanId: string }>;
          status?: { code?: number };
        }>;
      }>;
    }>;
  };
  const spans: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const serviceName = jsonAttributes(rs.resource?.attributes)['service.name'] as string | undefined;
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        spans.push({
          traceId: s.traceId.toLowerCase(),
          spanId: s.spanId.toLowerCase(),
          parentSpanId: (s.parentSpanId ?? '').toLowerCase(),
          name: s.name,
          kind: s.kind ?? 0,
          attributes: jsonAttributes(s.attributes),
          links: (s.links ?? []).map((l) => ({
            traceId: l.traceId.toLowerCase(),
            spanId: l.spanId.toLowerCase(),
          })),
          statusCode: s.status?.code ?? 0,
          serviceName,
        });
      }
    }
  }
  return spans;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const contentTypes: string[] = [];
  const spans: ReceivedSpan[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = req.headers['content-type'] ?? '';
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      contentTypes.push(type);
      const body = Buffer.concat(chunks);
      const json = type.startsWith('application/json');
      spans.push(...(json ? decodeJson(body) : decodeProtobuf(body)));
      // An empty ExportTraceServiceResponse: all accepted.
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(json ? '{}' : Buffer.alloc(0));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    contentTypes,
    spans,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
