import type { BurstableSpec } from '../../lib/burstable';
import type { RushhourConfig } from '../../lib/config';

type Phase = RushhourConfig['cost']['phases'][number];
type Scaling = Pick<RushhourConfig['autoScaling'], 'scaleInCpuPercent' | 'scaleOutCpuPercent'>;

/** An idle phase's CPU: the OS, the agent and health checks every 10 s on a site nobody uses. */
export const IDLE_CPU_PERCENT = 5;

/**
 * The average CPU a phase assumes when it does not say (`averageCpuPercent`), from its kind and the scaling rules:
 * - idle: IDLE_CPU_PERCENT;
 * - steady: midway between scaleInCpuPercent and scaleOutCpuPercent, the band the alarms hold the group in;
 * - peak: scaleOutCpuPercent, where the group adds instances (a rush at maxCapacity runs hotter: say so with
 *   averageCpuPercent).
 */
export function phaseAverageCpu(phase: Phase, scaling: Scaling): number {
  if (phase.averageCpuPercent !== undefined) return phase.averageCpuPercent;
  switch (phase.kind) {
    case 'idle':
      return IDLE_CPU_PERCENT;
    case 'peak':
      return scaling.scaleOutCpuPercent;
    default:
      return (scaling.scaleInCpuPercent + scaling.scaleOutCpuPercent) / 2;
  }
}

/**
 * Surplus vCPU-hours of `instanceHours` at `averageCpuPercent` on a burstable type in unlimited mode: the CPU
 * above the baseline, per vCPU. An instance earns baseline × vCPUs × 60 credits an hour and spends
 * CPU × vCPUs × 60; one credit is one vCPU-minute, so the net spend over H hours in vCPU-hours is
 * H × vCPUs × (CPU − baseline) / 100. Billed when the instance terminates (a scale-in) or once it exceeds a
 * day's earnings; a T3/T3a/T4g starts with no credits, so a phase pays its own surplus. A phase below the
 * baseline earns credits that this model does not carry into another phase (the quote errs high, not low).
 */
export function surplusVcpuHours(instanceHours: number, averageCpuPercent: number, spec: BurstableSpec): number {
  return (instanceHours * spec.vcpus * Math.max(0, averageCpuPercent - spec.baselinePercent)) / 100;
}
