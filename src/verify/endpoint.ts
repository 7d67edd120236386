import { z } from 'zod';
import { connectRunner, QueryRunner } from './runner';
import { formatVerify, verifyData, VerifyResult } from './verify';

/** `HOST:PORT/DB` as verify-data takes it. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly database: string;
}

export class EndpointError extends Error {
  override readonly name = 'EndpointError';
  constructor(
    message: string,
    readonly value: string,
  ) {
    super(message);
  }
}

const ENDPOINT = z
  .string()
  .regex(/^([^:/\s]+):(\d{1,5})\/([^/\s]+)$/)
  .transform((s) => {
    const [, host, port, database] = /^([^:/\s]+):(\d{1,5})\/([^/\s]+)$/.exec(s)!;
    return { host, port: Number(port), database };
  })
  .refine((e) => e.port > 0 && e.port < 65536);

export function parseEndpoint(value: string): Endpoint {
  const r = ENDPOINT.safeParse(value);
  if (!r.success) throw new EndpointError(`expected HOST:PORT/DB, got ${JSON.stringify(value)}`, value);
  return r.data;
}

export interface VerifyDatabasesOptions {
  readonly left: Endpoint & { user: string; password: string };
  readonly right: Endpoint & { user: string; password: string };
  readonly tables?: readonly string[];
  readonly chunkSize?: number;
  readonly pauseMs?: number;
}

/** Connects to both servers, verifies row by row, closes. */
export async function verifyDatabases(o: VerifyDatabasesOptions): Promise<VerifyResult> {
  const runners: QueryRunner[] = [];
  try {
    const left = await connectRunner(o.left);
    runners.push(left);
    const right = await connectRunner(o.right);
    runners.push(right);
    return await verifyData({
      left,
      right,
      leftDatabase: o.left.database,
      rightDatabase: o.right.database,
      tables: o.tables,
      chunkSize: o.chunkSize,
      pauseMs: o.pauseMs,
    });
  } finally {
    await Promise.all(runners.map((r) => r.close()));
  }
}

export { formatVerify };
