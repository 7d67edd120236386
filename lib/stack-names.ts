/** The stack names of a deployment; the CDK app creates them and the CLI finds their outputs by them. */
export function stackNames(siteName: string): { data: string; web: string } {
  return { data: `rushhour-${siteName}-data`, web: `rushhour-${siteName}-web` };
}
