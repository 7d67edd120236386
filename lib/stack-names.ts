/** The stack names of a deployment; the CDK app creates them and the CLI finds their outputs by them. */
export function stackNames(siteName: string): { data: string; import: string; web: string } {
  return { data: `rushhour-${siteName}-data`, import: `rushhour-${siteName}-import`, web: `rushhour-${siteName}-web` };
}

/** Weighted DNS records are told apart by `${DNS_SET_IDENTIFIER_PREFIX}${n}` (n = 1..count); preflight reads them. */
export const DNS_SET_IDENTIFIER_PREFIX = 'alb-';
