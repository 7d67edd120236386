/**
 * Entry of the import custom resource for the CDK `custom_resources.Provider` framework:
 * `onEvent` validates and records, `isComplete` imports the dump in time-boxed slices.
 * The logic lives in ./handler (plain functions, AWS edge injected) and src/sql.
 */
export async function onEvent(_event: unknown, _context?: unknown): Promise<Record<string, unknown>> {
  throw new Error('import-dump: not implemented yet');
}

export async function isComplete(_event: unknown, _context?: unknown): Promise<{ IsComplete: boolean; Data?: Record<string, string> }> {
  throw new Error('import-dump: not implemented yet');
}
