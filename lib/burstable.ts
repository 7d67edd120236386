/**
 * Burstable (T-class) instance facts that synth and the quote both need: which types earn CPU credits, their
 * vCPUs and baseline, and the credit mode the launch template states. Plain data from the EC2 User Guide's
 * credit table (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-credits-baseline-concepts.html,
 * "CPU credits and baseline utilization", read 2026-12): earned credits per hour = baseline × vCPUs × 60.
 */

/** `standard` throttles to the baseline once earned credits are spent; `unlimited` bursts and bills the surplus. */
export const CPU_CREDIT_MODES = ['unlimited', 'standard'] as const;
export type CpuCreditMode = (typeof CPU_CREDIT_MODES)[number];

export interface BurstableSpec {
  /** The family as the price table keys its surplus rate: t2, t3, t3a, t4g. */
  readonly family: string;
  readonly vcpus: number;
  /** Baseline utilization per vCPU, percent: below it the instance earns more credits than it spends. */
  readonly baselinePercent: number;
}

// [vCPUs, baseline % per vCPU] by size. T3, T3a and T4g share one table; T2's small sizes have one vCPU.
const T3_SIZES: Record<string, [number, number]> = {
  nano: [2, 5],
  micro: [2, 10],
  small: [2, 20],
  medium: [2, 20],
  large: [2, 30],
  xlarge: [4, 40],
  '2xlarge': [8, 40],
};
const T2_SIZES: Record<string, [number, number]> = {
  nano: [1, 5],
  micro: [1, 10],
  small: [1, 20],
  medium: [2, 20],
  large: [2, 30],
  xlarge: [4, 22.5],
  '2xlarge': [8, 17],
};
const FAMILIES: Record<string, Record<string, [number, number]>> = {
  t2: T2_SIZES,
  t3: T3_SIZES,
  t3a: T3_SIZES,
  t4g: T3_SIZES,
};

/** Whether the type is in a burstable family (has a credit specification at all). */
export function isBurstable(instanceType: string): boolean {
  return /^t\d[a-z]*\./.test(instanceType);
}

/** vCPUs and baseline of a burstable type, or undefined when the type is not burstable or not in the table. */
export function burstableSpec(instanceType: string): BurstableSpec | undefined {
  const [family, size] = instanceType.split('.');
  const row = FAMILIES[family]?.[size];
  return row && { family, vcpus: row[0], baselinePercent: row[1] };
}

/**
 * The credit mode the launch template states: the configured one, `unlimited` for any burstable type when none
 * is configured (stated explicitly so an account-level default of `standard` cannot throttle the rush), and
 * none for other types (EC2 refuses a credit specification for them).
 */
export function cpuCreditMode(instanceType: string, configured: CpuCreditMode | undefined): CpuCreditMode | undefined {
  if (!isBurstable(instanceType)) return undefined;
  return configured ?? 'unlimited';
}
