/**
 * An HTTP fault proxy for AWS JSON-protocol services (DynamoDB, SQS) in tests: point the SDK at `endpoint`
 * (`AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SQS`) and it forwards every request to the real local server
 * (dynalite, local-aws-sqs), except the ones a queued fault picks by operation (`X-Amz-Target`, e.g.
 * `DynamoDB_20120810.PutItem`, `AmazonSQS.ReceiveMessage`) and, optionally, by body. Those get AWS's own error
 * shape, a dropped connection, or a delay.
 *
 * Error shapes (AWS JSON 1.0 protocol, what the SDK parses): status + `{"__type": "<namespace>#<Code>",
 * "message": …}`; SQS, being "awsQueryCompatible", also sends `x-amzn-query-error: <legacy code>;Sender|Receiver`.
 *
 * @example
 * const proxy = await startFaultProxy(dynamo.endpoint);
 * proxy.failNext('DynamoDB_20120810.UpdateItem', dynamoError('ProvisionedThroughputExceededException'), { times: 6 });
 * proxy.failNext('AmazonSQS.DeleteMessageBatch', { kind: 'drop' });
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type AwsFault =
  /** Answer with AWS's error shape. */
  | {
      kind: 'error';
      status: number;
      /** Full `__type`, e.g. `com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException`. */
      type: string;
      message?: string;
      /** `x-amzn-query-error` header (SQS's legacy error code and fault). */
      queryError?: string;
    }
  /** Close the connection without an answer (a network failure for the client). */
  | { kind: 'drop' }
  /** Forward, but only after `ms`. */
  | { kind: 'delay'; ms: number };

export interface ProxiedRequest {
  target: string;
  at: number;
  /** The fault applied, if any. */
  fault?: AwsFault['kind'];
  status?: number;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** Every request, in arrival order (live array). */
  readonly requests: readonly ProxiedRequest[];
  /**
   * The next `times` (default 1) requests to `target` (`'*'`: any) whose body satisfies `where` get `fault`.
   * `times: Infinity` keeps failing until `clear()`.
   */
  failNext(
    target: string,
    fault: AwsFault,
    opts?: { times?: number; where?: (body: string, target: string) => boolean },
  ): void;
  /** Requests to `target` that a fault hit. */
  faulted(target?: string): ProxiedRequest[];
  /** Forget queued faults (recorded requests stay). */
  clear(): void;
  stop(): Promise<void>;
}

/** DynamoDB's error shape for `code` (400 unless told: InternalServerError is 500). */
export function dynamoError(code: string, message?: string): AwsFault {
  return {
    kind: 'error',
    status: code === 'InternalServerError' ? 500 : 400,
    type: `com.amazonaws.dynamodb.v20120810#${code}`,
    message: message ?? DYNAMO_MESSAGES[code] ?? code,
  };
}

const DYNAMO_MESSAGES: Record<string, string> = {
  ProvisionedThroughputExceededException:
    'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
  ConditionalCheckFailedException: 'The conditional request failed',
  ThrottlingException: 'Rate of requests exceeds the allowed throughput.',
  InternalServerError: 'Internal server error',
};

/** SQS's error shape for `code`, with its legacy query error code. */
export function sqsError(
  code: 'InternalError' | 'QueueDoesNotExist' | 'RequestThrottled' | 'KmsThrottled' | 'ServiceUnavailable',
): AwsFault {
  switch (code) {
    case 'QueueDoesNotExist':
      return {
        kind: 'error',
        status: 400,
        type: 'com.amazonaws.sqs#QueueDoesNotExist',
        message: 'The specified queue does not exist.',
        queryError: 'AWS.SimpleQueueService.NonExistentQueue;Sender',
      };
    case 'RequestThrottled':
      return {
        kind: 'error',
        status: 400,
        type: 'com.amazonaws.sqs#RequestThrottled',
        message: 'Request is throttled.',
        queryError: 'RequestThrottled;Sender',
      };
    case 'KmsThrottled':
      return {
        kind: 'error',
        status: 400,
        type: 'com.amazonaws.sqs#KmsThrottled',
        message: 'Request was denied due to request throttling.',
        queryError: 'KMS.ThrottlingException;Sender',
      };
    case 'ServiceUnavailable':
      return {
        kind: 'error',
        status: 503,
        type: 'com.amazonaws.sqs#ServiceUnavailable',
        message: 'Service Unavailable',
        queryError: 'ServiceUnavailable;Receiver',
      };
    default:
      return {
        kind: 'error',
        status: 500,
        type: 'com.amazonaws.sqs#InternalError',
        message: 'We encountered an internal error. Please try again.',
        queryError: 'InternalError;Receiver',
      };
  }
}

interface Queued {
  target: string;
  fault: AwsFault;
  remaining: number;
  where?: (body: string, target: string) => boolean;
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const up = new URL(upstream);
  const requests: ProxiedRequest[] = [];
  const queued: Queued[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const take = (target: string, body: string): AwsFault | undefined => {
    const i = queued.findIndex(
      (q) =>
        q.remaining > 0 && (q.target === '*' || q.target === target) && (!q.where || q.where(body, target)),
    );
    const q = queued[i];
    if (!q) return undefined;
    q.remaining -= 1;
    if (q.remaining <= 0) queued.splice(i, 1);
    return q.fault;
  };

  const forward = (
    req: http.IncomingMessage,
    body: Buffer,
    res: http.ServerResponse,
    record: ProxiedRequest,
  ) => {
    const out = http.request(
      {
        host: up.hostname,
        port: up.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: up.host },
      },
      (answer) => {
        record.status = answer.statusCode;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    out.end(body);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const target = String(req.headers['x-amz-target'] ?? '');
      const record: ProxiedRequest = { target, at: Date.now() };
      requests.push(record);
      const fault = take(target, body.toString('utf8'));
      if (!fault) return forward(req, body, res, record);
      record.fault = fault.kind;
      if (fault.kind === 'drop') {
        record.status = 0;
        req.socket.destroy();
        return;
      }
      if (fault.kind === 'delay') {
        const t = setTimeout(() => {
          timers.delete(t);
          forward(req, body, res, record);
        }, fault.ms);
        timers.add(t);
        return;
      }
      record.status = fault.status;
      const headers: Record<string, string> = {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': `fault-${requests.length}`,
      };
      if (fault.queryError) headers['x-amzn-query-error'] = fault.queryError;
      res.writeHead(fault.status, headers);
      res.end(JSON.stringify({ __type: fault.type, message: fault.message ?? fault.type }));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    failNext(target, fault, opts = {}) {
      queued.push({ target, fault, remaining: opts.times ?? 1, where: opts.where });
    },
    faulted: (target) => requests.filter((r) => r.fault && (!target || r.target === target)),
    clear() {
      queued.length = 0;
    },
    async stop() {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
