/** Structured JSON log lines on stdout. Never log a token: callers pass reason codes, issuers, kids. */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  log(level: Level, msg: string, fields?: Record<string, unknown>): void;
}

export function jsonLogger(minLevel: Level = 'info', write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  return {
    log(level, msg, fields = {}) {
      if (ORDER[level] < ORDER[minLevel]) return;
      write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
    },
  };
}

export const silentLogger: Logger = { log() {} };

/** Where log lines go. `dropped` counts lines given up because the destination did not keep up. */
export interface LineWriter {
  write(line: string): void;
  readonly dropped?: number;
}

export interface BufferedLineWriter extends LineWriter {
  readonly dropped: number;
  /** Writes whatever is buffered; resolves once the stream has taken it (shutdown). */
  flush(): Promise<void>;
}

/**
 * Lines are queued in memory and written in one batch after the current I/O turn (setImmediate), so a request never
 * waits for the destination: stdout to a pipe is asynchronous on POSIX, but to a file or a terminal it is synchronous
 * and would otherwise block once per line. While the stream reports backpressure nothing more is written until it
 * drains; past `maxBufferedChars` queued, new lines are dropped and counted instead of growing memory without bound.
 */
export function bufferedLineWriter(stream: NodeJS.WritableStream = process.stdout, maxBufferedChars = 4 * 1024 * 1024): BufferedLineWriter {
  let queue: string[] = [];
  let queued = 0;
  let dropped = 0;
  let scheduled = false;
  let draining = false;

  const writeOut = (): boolean => {
    if (queue.length === 0) return true;
    const chunk = queue.join('');
    queue = [];
    queued = 0;
    return stream.write(chunk);
  };
  const flushSoon = (): void => {
    scheduled = false;
    if (draining || writeOut()) return;
    draining = true;
    stream.once('drain', () => {
      draining = false;
      if (queue.length > 0 && !scheduled) schedule();
    });
  };
  const schedule = (): void => {
    scheduled = true;
    setImmediate(flushSoon).unref();
  };

  return {
    write(line) {
      if (queued + line.length > maxBufferedChars) {
        dropped++;
        return;
      }
      queue.push(line);
      queued += line.length;
      if (!scheduled && !draining) schedule();
    },
    get dropped() {
      return dropped;
    },
    flush() {
      if (queue.length === 0) return Promise.resolve();
      const chunk = queue.join('');
      queue = [];
      queued = 0;
      return new Promise<void>((resolve) => {
        stream.write(chunk, () => resolve());
      });
    },
  };
}
