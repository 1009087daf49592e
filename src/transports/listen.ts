/** Binding a listener, shared by the HTTP and gRPC servers. */
import type { Server } from 'node:net';
import type { ListenTarget } from '../config/listen.ts';

/** Binds `server` (node:http, node:http2 or node:net) to `target`; rejects with the bind error (EADDRINUSE, EACCES…). */
export function listen(server: Server, target: ListenTarget): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      resolve();
    };
    if ('path' in target) server.listen(target.path, done);
    else server.listen(target.port, target.host, done);
  });
}
