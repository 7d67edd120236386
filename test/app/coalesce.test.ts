import { GroupInserter, ReadCoalescer } from '../../app/coalesce';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('ReadCoalescer', () => {
  test('callers share a read, but never one that started before they called', async () => {
    let version = 0;
    const started: number[] = [];
    const c = new ReadCoalescer(async () => {
      const v = ++version;
      started.push(v);
      await tick(20);
      return v;
    });
    const a = c.get(); // starts read 1
    await tick();
    const b = c.get();
    const d = c.get(); // arrive during read 1: must get read 2
    expect(await a).toBe(1);
    expect(await b).toBe(2);
    expect(await d).toBe(2);
    expect(started).toEqual([1, 2]);
    expect(await c.get()).toBe(3); // idle again: a fresh read
  });

  test('a failed read fails its callers and the next caller reads again', async () => {
    let n = 0;
    const c = new ReadCoalescer(async () => {
      n++;
      await tick();
      if (n === 1) throw new Error('db down');
      return n;
    });
    await expect(c.get()).rejects.toThrow('db down');
    expect(await c.get()).toBe(2);
  });
});

describe('GroupInserter', () => {
  test('rows offered during an insert go into the next multi-row insert; each caller settles after its row', async () => {
    const batches: number[][] = [];
    const g = new GroupInserter<number>(async (rows) => {
      await tick(10);
      batches.push(rows);
    });
    const first = g.add(1);
    const rest = [2, 3, 4].map((r) => g.add(r));
    await Promise.all([first, ...rest]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  test('a failed insert rejects exactly its batch', async () => {
    let calls = 0;
    const g = new GroupInserter<number>(async () => {
      calls++;
      await tick();
      if (calls === 1) throw new Error('lost');
    });
    await expect(g.add(1)).rejects.toThrow('lost');
    await expect(g.add(2)).resolves.toBeUndefined();
  });
});
