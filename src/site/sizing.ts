/**
 * The php-fpm pool size: how many requests one instance runs at once.
 *
 * workers = clamp(min(vCPUs x 8, (memory MiB - reserve) / 48), 2, 256)
 *
 * - 8 per vCPU: a database-backed page spends most of its time waiting on MySQL, so a core keeps busy
 *   with several requests in flight; beyond that requests only queue for the CPU and time out later.
 * - 48 MiB per worker: the example site's workers measured 14-15 MiB RSS each on PHP 8.2 after its pages
 *   (test/site/php-nginx.test.ts logs it); 48 leaves room for a heavier real site under memory_limit.
 * - reserve: 400 MiB for the OS, nginx, the SSM agent and the page cache; 150 MiB more with Apache.
 * t3.small (2 vCPU, 2 GiB): min(16, 34) = 16 workers. t3.micro (2 vCPU, 1 GiB): min(16, 13) = 13.
 * `web.site.phpWorkers` overrides it.
 */
export const MIB_PER_WORKER = 48;
export const WORKERS_PER_VCPU = 8;

export function phpPoolSize(facts: { vcpus: number; memoryMiB: number; apache?: boolean }, override?: number): number {
  if (override !== undefined) return override;
  const reserve = 400 + (facts.apache ? 150 : 0);
  const byCpu = Math.max(1, facts.vcpus) * WORKERS_PER_VCPU;
  const byMemory = Math.floor((facts.memoryMiB - reserve) / MIB_PER_WORKER);
  return Math.max(2, Math.min(256, byCpu, byMemory));
}
