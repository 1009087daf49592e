/**
 * A unix socket file outlives a crashed process, and binding over it fails with EADDRINUSE. Before binding,
 * remove the file only when it is a socket that refuses connections; a live listener is left alone (bind then fails).
 */
import { lstat, unlink } from 'node:fs/promises';
import { connect } from 'node:net';

/** "unix:/p" and "unix:///p" name the path /p; "unix:p" is relative. Other addresses: undefined. */
export function unixSocketPath(address: string): string | undefined {
  if (!address.startsWith('unix:')) return undefined;
  const rest = address.slice('unix:'.length);
  return rest.startsWith('//') ? rest.slice(2) : rest;
}

export async function removeStaleSocket(path: string): Promise<void> {
  const stats = await lstat(path).catch(() => undefined);
  if (stats === undefined || !stats.isSocket()) return;
  if (await refused(path)) await unlink(path).catch(() => {});
}

/** Only ECONNREFUSED proves nobody listens; any other outcome (connected, EACCES, ...) leaves the file alone. */
function refused(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}
