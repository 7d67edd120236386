/**
 * The environment as the CLI entry (src/cli/index.ts) hands it to each command: commands read their
 * settings from here, never from process.env, and pass them on to the core modules as plain values.
 */
export type CliEnv = Readonly<Record<string, string | undefined>>;
