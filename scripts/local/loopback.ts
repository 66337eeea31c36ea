import type { Server } from 'node:net';
import type { AddressInfo } from 'node:net';

/** Listens on 127.0.0.1 only (port 0: any free one) and resolves with the endpoint URL. */
export const listenOnLoopback = async (server: Pick<Server, 'once' | 'off' | 'listen' | 'address'>, port = 0): Promise<string> => {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};
