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
    this.next ??= this.running
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        this.next = undefined;
        return this.start();
      });
    return this.next;
  }

  private start(): Promise<T> {
    const p = this.read();
    this.running = p;
    p.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      if (this.running === p) this.running = undefined;
    });
    return p;
  }
}

/** An outcome that fails one item of a batch (its caller's promise rejects with `error`), not the others. */
export class ItemFailure {
  constructor(readonly error: unknown) {}
}

/**
 * Group commit: items offered while a batch is running go into the next batch, one database round
 * trip for many requests. Each caller's promise settles with its own item's outcome once the whole
 * batch is stored (or rejects if the batch failed, or its own outcome is an ItemFailure), so nothing is
 * acknowledged before it is written.
 * At low load every item runs at once, alone.
 */
export class GroupBatcher<I, O> {
  private pending: Array<{ item: I; resolve: (out: O) => void; reject: (err: unknown) => void }> = [];
  private flushing = false;

  /** @param run stores a batch and returns one outcome per item, in order. */
  constructor(
    private readonly run: (items: I[]) => Promise<Array<O | ItemFailure>>,
    private readonly maxBatch = 500,
  ) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length) {
        const batch = this.pending.splice(0, this.maxBatch);
        try {
          const outcomes = await this.run(batch.map((b) => b.item));
          if (outcomes.length !== batch.length)
            throw new Error(`batch of ${batch.length} returned ${outcomes.length} outcomes`);
          batch.forEach((b, i) => {
            const out = outcomes[i];
            if (out instanceof ItemFailure) b.reject(out.error);
            else b.resolve(out);
          });
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}

/** Group insert: a GroupBatcher whose items are rows and whose outcome is "stored". */
export class GroupInserter<R> extends GroupBatcher<R, void> {
  constructor(insert: (rows: R[]) => Promise<void>, maxBatch = 500) {
    super(async (rows) => {
      await insert(rows);
      return rows.map(() => undefined);
    }, maxBatch);
  }
}
