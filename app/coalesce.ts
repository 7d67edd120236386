/**
 * Shares one database read among the requests that arrive while an earlier read is running.
 * Freshness is kept: a caller never gets a result from a query that started before it called;
 * it waits for the next query, which starts as soon as the running one ends. Under a rush this
 * turns N identical course-list SELECTs into at most two in flight, with no staleness window.
 */
export class ReadCoalescer<T> {
  private running?: Promise<T>;
  private next?: Promise<T>;

  constructor(private readonly read: () => Promise<T>) {}

  get(): Promise<T> {
    if (!this.running) return this.start();
    this.next ??= this.running.then(() => undefined, () => undefined).then(() => {
      this.next = undefined;
      return this.start();
    });
    return this.next;
  }

  private start(): Promise<T> {
    const p = this.read();
    this.running = p;
    p.then(() => undefined, () => undefined).then(() => { if (this.running === p) this.running = undefined; });
    return p;
  }
}

/**
 * Group insert: rows offered while an INSERT is running go into the next multi-row INSERT. Each
 * caller's promise settles when its own row is stored (or the insert failed), so nothing is
 * acknowledged before it is written. At low load every row is inserted at once, alone.
 */
export class GroupInserter<R> {
  private pending: Array<{ row: R; resolve: () => void; reject: (err: unknown) => void }> = [];
  private flushing = false;

  constructor(private readonly insert: (rows: R[]) => Promise<void>, private readonly maxBatch = 500) {}

  add(row: R): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length) {
        const batch = this.pending.splice(0, this.maxBatch);
        try {
          await this.insert(batch.map((b) => b.row));
          for (const b of batch) b.resolve();
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
