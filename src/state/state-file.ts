import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { PersistedJsonError, readPersistedJson } from './persisted';
import { openPrivateSync } from '../util/private-file';

/**
 * The operator's local state: what each command did, step by step, so that a command that crashed or
 * lost its connection resumes from the last completed step. Written atomically (temp file + rename),
 * so a crash never leaves a half-written file.
 */

export interface StepRecord {
  readonly at: string;
  /** Whatever the step needs to remember for later steps (paths, checksums, ids); never secrets. */
  readonly data: Record<string, unknown>;
}

export interface OperationState {
  /** Identifies one run of a command with its inputs, e.g. "pull-db:courses@origin". */
  readonly key: string;
  startedAt: string;
  finishedAt?: string;
  steps: Record<string, StepRecord>;
}

export interface StateDocument {
  version: 1;
  operations: Record<string, OperationState>;
}

export const DEFAULT_STATE_FILE = '.rushhour/state.json';

const StepRecordSchema = z.object({ at: z.string(), data: z.record(z.string(), z.unknown()) });
const OperationStateSchema = z.object({
  key: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  steps: z.record(z.string(), StepRecordSchema),
});
export const StateDocumentSchema = z.object({
  version: z.literal(1, { error: 'unknown format (version must be 1)' }),
  operations: z.record(z.string(), OperationStateSchema),
});

export class StateFile {
  constructor(readonly file: string = DEFAULT_STATE_FILE) {}

  read(): StateDocument {
    if (!fs.existsSync(this.file)) return { version: 1, operations: {} };
    try {
      return readPersistedJson(this.file, StateDocumentSchema, 'state file') as StateDocument;
    } catch (err) {
      if (!(err instanceof PersistedJsonError)) throw err;
      const why = err.issues.length ? err.issues.join('; ') : (err.cause as Error | undefined)?.message;
      throw new PersistedJsonError(
        this.file,
        err.what,
        err.issues,
        `the state file ${this.file} is unreadable (${why}); move it aside to start over`,
        err,
      );
    }
  }

  private write(doc: StateDocument): void {
    fs.mkdirSync(path.dirname(path.resolve(this.file)), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    // The state records hosts, paths and hashes of the operator's pulls: owner-only, even over a stale tmp.
    const fd = openPrivateSync(tmp, 'w');
    try {
      fs.writeSync(fd, JSON.stringify(doc, null, 2) + '\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
  }

  /** The operation under `key`, created when absent (or restarted when `fresh`). */
  operation(key: string, options: { fresh?: boolean } = {}): Operation {
    const doc = this.read();
    if (!doc.operations[key] || options.fresh || doc.operations[key].finishedAt) {
      doc.operations[key] = { key, startedAt: new Date().toISOString(), steps: {} };
      this.write(doc);
    }
    return new Operation(this, key);
  }

  /** Operations whose key starts with `prefix`, newest first. */
  list(prefix = ''): OperationState[] {
    return Object.values(this.read().operations)
      .filter((o) => o.key.startsWith(prefix))
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  }

  update(key: string, change: (op: OperationState) => void): OperationState {
    const doc = this.read();
    const op = doc.operations[key];
    if (!op) throw new Error(`no operation ${key} in ${this.file}`);
    change(op);
    this.write(doc);
    return op;
  }
}

/** One command run's steps. */
export class Operation {
  constructor(
    private readonly state: StateFile,
    readonly key: string,
  ) {}

  get current(): OperationState {
    const op = this.state.read().operations[this.key];
    if (!op) throw new Error(`operation ${this.key} vanished from ${this.state.file}`);
    return op;
  }

  done(step: string): StepRecord | undefined {
    return this.current.steps[step];
  }

  record(step: string, data: Record<string, unknown> = {}): void {
    this.state.update(this.key, (op) => {
      op.steps[step] = { at: new Date().toISOString(), data };
    });
  }

  /** Runs `fn` unless the step was completed before; returns the recorded data either way. */
  async step<T extends Record<string, unknown>>(
    step: string,
    fn: () => Promise<T>,
    log?: (m: string) => void,
  ): Promise<T> {
    const prior = this.done(step);
    if (prior) {
      log?.(`step ${step}: already done at ${prior.at}, skipping`);
      return prior.data as T;
    }
    const data = await fn();
    this.record(step, data);
    return data;
  }

  finish(data: Record<string, unknown> = {}): void {
    this.state.update(this.key, (op) => {
      op.finishedAt = new Date().toISOString();
      op.steps.finished = { at: op.finishedAt, data };
    });
  }
}
