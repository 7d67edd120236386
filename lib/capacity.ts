/**
 * Facts about instance sizes that synth and preflight both need, and the connection budget built on them.
 * Plain data, no AWS calls: what the tables do not know, the checks report as unknown (preflight asks AWS).
 */

/** vCPUs of EC2 instance sizes (the same for the t3/t3a/t4g/m/c/r families at a given size, up to 2xlarge). */
const VCPUS_BY_SIZE: Record<string, number> = {
  nano: 2,
  micro: 2,
  small: 2,
  medium: 2,
  large: 2,
  xlarge: 4,
  '2xlarge': 8,
  '4xlarge': 16,
  '8xlarge': 32,
};
const SIZED_FAMILIES = /^(t3|t3a|t4g|m5|m5a|m6i|m6a|m6g|m7i|m7a|m7g|c5|c6i|c6g|c7i|c7g|r5|r6i|r6g|r7i|r7g)\.(\w+)$/;

/** vCPUs of an EC2 instance type, or undefined when the table does not know it. */
export function instanceVcpus(instanceType: string): number | undefined {
  const m = SIZED_FAMILIES.exec(instanceType);
  if (!m) return undefined;
  // c and m "large" are 2 vCPUs like t; nano..medium exist only for t families.
  return VCPUS_BY_SIZE[m[2]];
}

/** GiB of memory of RDS instance classes (without "db."), for max_connections. */
const DB_MEMORY_GIB: Record<string, number> = {
  't4g.micro': 1,
  't4g.small': 2,
  't4g.medium': 4,
  't4g.large': 8,
  't4g.xlarge': 16,
  't4g.2xlarge': 32,
  't3.micro': 1,
  't3.small': 2,
  't3.medium': 4,
  't3.large': 8,
  't3.xlarge': 16,
  't3.2xlarge': 32,
  'm6g.large': 8,
  'm6g.xlarge': 16,
  'm6g.2xlarge': 32,
  'm7g.large': 8,
  'm7g.xlarge': 16,
  'm7g.2xlarge': 32,
  'r6g.large': 16,
  'r6g.xlarge': 32,
  'r6g.2xlarge': 64,
  'r7g.large': 16,
  'r7g.xlarge': 32,
  'r7g.2xlarge': 64,
};

/**
 * RDS MySQL's default max_connections, {DBInstanceClassMemory/12582880}, from the class's nominal memory.
 * RDS reserves some memory first, so the real value is a little lower: the budget keeps a margin for that.
 */
export function dbMaxConnections(instanceClass: string): number | undefined {
  const gib = DB_MEMORY_GIB[instanceClass.replace(/^db\./, '')];
  return gib === undefined ? undefined : Math.floor((gib * 1024 ** 3) / 12582880);
}

/** Connections kept free for the import, the export, the operator and RDS's own (rdsadmin). */
export const RESERVED_CONNECTIONS = 10;
/** The share of the nominal max_connections the app may plan on (RDS reserves memory before the formula). */
export const MAX_CONNECTIONS_SHARE = 0.9;

export interface ConnectionBudget {
  /** Instances at full scale-out over all groups. */
  readonly maxInstances: number;
  readonly connectionsPerInstance: number;
  /** maxInstances × connectionsPerInstance + RESERVED_CONNECTIONS. */
  readonly needed: number;
  /** The database's max_connections (estimated from its class), or undefined when unknown. */
  readonly maxConnections?: number;
  /** needed ≤ MAX_CONNECTIONS_SHARE × maxConnections; undefined when the class is unknown. */
  readonly fits?: boolean;
}

/** workers × pool per instance, times every instance of every group at full scale-out, against max_connections. */
export function connectionBudget(input: {
  readonly groups: number;
  readonly maxCapacity: number;
  readonly connectionsPerInstance: number;
  readonly dbInstanceClass: string;
}): ConnectionBudget {
  const maxInstances = input.groups * input.maxCapacity;
  const needed = maxInstances * input.connectionsPerInstance + RESERVED_CONNECTIONS;
  const maxConnections = dbMaxConnections(input.dbInstanceClass);
  return {
    maxInstances,
    connectionsPerInstance: input.connectionsPerInstance,
    needed,
    maxConnections,
    fits: maxConnections === undefined ? undefined : needed <= Math.floor(maxConnections * MAX_CONNECTIONS_SHARE),
  };
}

/** How long before a schedule window the LCU reservation is raised (provisioning takes minutes); cost prices it. */
export const LCU_LEAD_MINUTES = 30;

/** One span the LCU reservation is held: reserved at `from`, reset at `to`, covering the named windows. */
export interface LcuHold {
  readonly from: Date;
  readonly to: Date;
  readonly windows: readonly string[];
}

/**
 * The spans the LCU reservation is held for a schedule: from LCU_LEAD_MINUTES before each window to its end,
 * with overlapping or touching spans merged. A reset cancels whatever is reserved, so one reserve/reset pair per
 * window would let a window's reset drop the next window's reservation when that one starts within the lead of
 * its end; one pair per merged span cannot. The template schedules these spans and the quote prices them.
 */
export function lcuHolds(windows: readonly { name: string; start: Date; end: Date }[]): LcuHold[] {
  const lead = LCU_LEAD_MINUTES * 60_000;
  const spans = windows
    .map((w) => ({ from: w.start.getTime() - lead, to: w.end.getTime(), name: w.name }))
    .sort((a, b) => a.from - b.from);
  const holds: { from: number; to: number; windows: string[] }[] = [];
  for (const s of spans) {
    const last = holds[holds.length - 1];
    if (last && s.from <= last.to) {
      last.to = Math.max(last.to, s.to);
      last.windows.push(s.name);
    } else holds.push({ from: s.from, to: s.to, windows: [s.name] });
  }
  return holds.map((h) => ({ from: new Date(h.from), to: new Date(h.to), windows: h.windows }));
}
