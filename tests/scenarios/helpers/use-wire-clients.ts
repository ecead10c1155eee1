import { afterEach } from 'vitest';
import { WireClient, type WireOpenOptions } from './wire-client.js';

/** Opens wire clients for the tests of one file and destroys every one of them after each test. */
export function useWireClients(): (url: string, options?: WireOpenOptions) => Promise<WireClient> {
  const open: WireClient[] = [];
  afterEach(() => {
    for (const client of open.splice(0)) client.destroy();
  });
  return async (url, options) => {
    const client = await WireClient.open(url, options);
    open.push(client);
    return client;
  };
}
