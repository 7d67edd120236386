import { Options, Presets, SingleBar } from 'cli-progress';

/** A progress reporter: a bar on a terminal, a plain line every 10% otherwise (logs, CI). */
export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

const mib = (n: number) => (n / 1048576).toFixed(n < 1048576 ? 3 : 1);

/** Byte progress labelled `label`: a cli-progress bar when `stream` is a terminal, else a line per 10%. */
export function progress(label: string, stream: NodeJS.WriteStream = process.stdout): Progress {
  if (stream.isTTY) {
    const bar = new SingleBar(
      { format: `${label} [{bar}] {percentage}% {doneMiB}/{totalMiB} MiB eta {eta}s`, stream, hideCursor: true },
      Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total) {
        if (!started) {
          bar.start(Math.max(total, 1), 0, { doneMiB: '0.0', totalMiB: mib(total) });
          started = true;
        }
        bar.setTotal(Math.max(total, 1));
        bar.update(done, { doneMiB: mib(done), totalMiB: mib(total) });
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let lastDecile = -1;
  return {
    update(done, total) {
      // Unknown total (a stream): a line every 16 MiB instead of every 10%.
      if (total <= 0) {
        const step = Math.floor(done / (16 * 1048576));
        if (step !== lastDecile) {
          lastDecile = step;
          stream.write(`${label}: ${mib(done)} MiB\n`);
        }
        return;
      }
      const decile = Math.floor((done / total) * 10);
      if (decile !== lastDecile) {
        lastDecile = decile;
        stream.write(`${label}: ${mib(done)}/${mib(total)} MiB (${decile * 10}%)\n`);
      }
    },
    stop() {
      /* plain lines need no cleanup */
    },
  };
}

/**
 * A cli-progress bar with a custom `format` (and payload tokens) when `enabled` and `stream` is a terminal;
 * undefined otherwise, so the caller falls back to plain lines.
 */
export function terminalBar(
  format: string,
  stream: NodeJS.WriteStream,
  options: Omit<Options, 'format' | 'stream'> & { readonly enabled?: boolean } = {},
): SingleBar | undefined {
  const { enabled = true, ...rest } = options;
  return enabled && stream.isTTY ? new SingleBar({ ...rest, format, stream }) : undefined;
}
