import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type ServerOptions, type WebSocket, WebSocketServer } from 'ws';
import type { ChannelConfig } from './config.js';
import { isHandshakeOwnedHeader } from './internal/handshake-headers.js';
import { writeRefusal } from './internal/http-refusal.js';
import { chooseProtocol } from './internal/upgrade-request.js';
import type { Logger } from './logger.js';
import type { UpgradeHeaders } from './pending-upgrade.js';

/** What one handshake adds to ws's: the route's subprotocols and the extra 101 headers. */
interface HandshakeDetails {
  readonly protocols: readonly string[];
  readonly headers: UpgradeHeaders;
}

/**
 * The `ws` servers (noServer mode) that complete a hub's handshakes, one per set of frame limits
 * (routes may override them). Every limit `ws` enforces is set from the config, never left to
 * `ws`'s own, much larger defaults. A request ws finds invalid is answered like every refusal.
 */
export class WsHandshakes {
  readonly #servers = new Map<string, WebSocketServer>();
  readonly #details = new WeakMap<IncomingMessage, HandshakeDetails>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Completes the handshake of an accepted upgrade; `done` gets its WebSocket. */
  complete(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    config: ChannelConfig,
    headers: UpgradeHeaders,
    done: (ws: WebSocket) => void,
  ): void {
    const wss = this.#serverFor(config.limits);
    this.#details.set(req, { protocols: config.protocols, headers });
    wss.handleUpgrade(req, socket, head, done);
  }

  /** Closes every ws server (the hub is closed: no channel is left). */
  close(): void {
    for (const wss of this.#servers.values()) wss.close();
    this.#servers.clear();
  }

  #serverFor(limits: ChannelConfig['limits']): WebSocketServer {
    const { maxPayload, maxFragments, maxBufferedChunks, maxPendingPongs } = limits;
    const id = `${maxPayload}/${maxFragments}/${maxBufferedChunks}/${maxPendingPongs}`;
    let wss = this.#servers.get(id);
    if (wss === undefined) {
      // @types/ws does not know maxPendingAutoPongs yet (ws 8.23 does).
      const options: ServerOptions & { maxPendingAutoPongs: number } = {
        noServer: true,
        maxPayload,
        maxFragments,
        maxBufferedChunks,
        maxPendingAutoPongs: maxPendingPongs,
        perMessageDeflate: false,
        clientTracking: false,
        handleProtocols: (offered, req) =>
          chooseProtocol(offered, this.#details.get(req)?.protocols ?? []),
      };
      wss = new WebSocketServer(options);
      wss.on('headers', this.#onHeaders);
      wss.on('wsClientError', this.#onInvalidUpgrade);
      this.#servers.set(id, wss);
    }
    return wss;
  }

  /** ws found the request is no valid WebSocket upgrade: answer it like every other refusal. */
  readonly #onInvalidUpgrade = (error: Error, socket: Duplex, req: IncomingMessage): void => {
    this.#details.delete(req);
    this.#logger.debug('invalid upgrade request', { url: req.url, cause: error });
    if (req.method !== 'GET') {
      writeRefusal(socket, 405, 'WSLANE_UPGRADE_INVALID', { Allow: 'GET' });
    } else if (/version/i.test(error.message)) {
      writeRefusal(socket, 400, 'WSLANE_UPGRADE_INVALID', { 'Sec-WebSocket-Version': '13, 8' });
    } else {
      writeRefusal(socket, 400, 'WSLANE_UPGRADE_INVALID');
    }
  };

  readonly #onHeaders = (headers: string[], req: IncomingMessage): void => {
    const details = this.#details.get(req);
    this.#details.delete(req);
    if (details === undefined) return;
    for (const [name, value] of Object.entries(details.headers)) {
      if (value === undefined || isHandshakeOwnedHeader(name)) continue;
      for (const item of Array.isArray(value) ? value : [value])
        headers.push(`${name}: ${String(item)}`);
    }
  };
}
