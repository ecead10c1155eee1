import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Channel } from './channel.js';
import { EMPTY_CONTEXT } from './empty-context.js';
import { ERROR_OUTCOMES, UpgradeRefusedError, type WslaneErrorCode } from './errors.js';
import { type RefusalHeaders, writeRefusal } from './internal/http-refusal.js';
import { monotonicNow } from './internal/monotonic.js';
import type { TimedSubject } from './internal/shared-clock.js';
import type { Route } from './route.js';

const MAX_EARLY_BYTES = 64 * 1024;

/** Response headers to add to the 101 (e.g. `Set-Cookie` from a session middleware). */
export type UpgradeHeaders = RefusalHeaders;

/** What the hub does for a pending upgrade. */
export interface UpgradeHost {
  readonly handshakeTimeoutMs: number;
  accept(
    pending: PendingUpgrade,
    // biome-ignore lint/suspicious/noExplicitAny: any route may accept an upgrade.
    route: Route<any, any, any>,
    context: unknown,
    headers: UpgradeHeaders,
  ): Promise<Channel | undefined>;
  /** The upgrade ended: opened a channel, or not (then give back what it reserved). */
  settled(pending: PendingUpgrade, opened: boolean): void;
}

/** What an admitted upgrade holds in the manager: its IP's slot, then maybe a session key. */
export interface Admission {
  readonly ip: string;
  readonly scope?: string | undefined;
  readonly key?: string | undefined;
}

/**
 * An upgrade request between its arrival and its 101 (or refusal). Adapters get one, run the
 * framework's middleware, then `accept` or `refuse` it. The handshake deadline covers all of it:
 * slow auth middleware and clients that never finish the request.
 */
export class PendingUpgrade implements TimedSubject {
  readonly req: IncomingMessage;
  readonly socket: Duplex;
  /** Bytes of the upgraded stream read so far (the 'upgrade' event's head plus early bytes). */
  head: Buffer;
  readonly startedAt: number = monotonicNow();
  state: 'waiting' | 'upgrading' | 'done' = 'waiting';
  admission: Admission | undefined;
  /** Called once when the upgrade ends without a channel. */
  onAbandon: (() => void) | undefined;
  readonly #host: UpgradeHost;
  #response: ServerResponse | undefined;
  #early: Buffer[] | undefined;
  #earlyBytes = 0;

  constructor(host: UpgradeHost, req: IncomingMessage, socket: Duplex, head: Buffer) {
    this.#host = host;
    this.req = req;
    this.socket = socket;
    this.head = head;
    socket.on('error', this.#onSocketError);
    socket.once('close', this.#onSocketClose);
  }

  /** True until the upgrade is accepted, refused, timed out or its socket closed. */
  get isOpen(): boolean {
    return this.state === 'waiting';
  }

  /**
   * True while the framework's middleware may still answer this upgrade: it is waiting and
   * nothing was written to its socket. False once another 'upgrade' listener on the server wrote
   * to the socket (its own 101), a refusal or deadline answered it, or it closed.
   */
  get isAnswerable(): boolean {
    const written = (this.socket as { bytesWritten?: number }).bytesWritten ?? 0;
    return this.state === 'waiting' && !this.socket.destroyed && written === 0;
  }

  /** Completes the handshake for `route`; resolves `undefined` when it was refused or failed. */
  accept(
    // biome-ignore lint/suspicious/noExplicitAny: any route may accept an upgrade.
    route: Route<any, any, any>,
    context: unknown = EMPTY_CONTEXT,
    headers: UpgradeHeaders = {},
  ): Promise<Channel | undefined> {
    return this.#host.accept(this, route, context, headers);
  }

  /** Answers with an HTTP error instead of a 101. */
  refuse(
    status: number,
    code: WslaneErrorCode | string,
    headers?: RefusalHeaders,
    body?: string,
  ): void {
    if (this.state === 'done') return;
    writeRefusal(this.socket, status, code, headers, body);
    this.finish();
  }

  /**
   * Refuses because `error` was thrown before the handshake (by auth code or middleware): an
   * {@link UpgradeRefusedError} gives its own status, headers and body; anything else is a 500.
   */
  refuseFor(error: unknown): void {
    if (error instanceof UpgradeRefusedError) {
      this.refuse(error.status, error.code, error.headers, error.body);
    } else {
      this.refuseWith('WSLANE_HANDLER_FAILED');
    }
  }

  /**
   * A Node `ServerResponse` writing to this upgrade's socket, for frameworks whose middleware
   * answers through one: a 401 written there is a real HTTP response, with its headers.
   * Accepting the upgrade later detaches it; ending it ends the upgrade.
   */
  createResponse(): ServerResponse {
    if (this.#response !== undefined) return this.#response;
    const response = new ServerResponse(this.req);
    response.assignSocket(this.socket as Socket);
    response.shouldKeepAlive = false;
    response.once('finish', this.#onResponseFinish);
    this.#response = response;
    return response;
  }

  /** The framework answered instead of upgrading: the refusal is written, the socket ends. */
  readonly #onResponseFinish = (): void => {
    this.socket.end(() => this.socket.destroy());
    this.finish();
  };

  /**
   * Reads the socket while middleware decides, so a client that leaves (FIN) is noticed at once
   * instead of getting a 101 it will never read. Bytes it sent early are kept for the handshake.
   */
  watch(): void {
    if (this.#early !== undefined || this.state !== 'waiting') return;
    this.#early = [];
    this.socket.on('data', this.#onEarlyData);
    this.socket.on('end', this.#onPeerEnd);
    this.socket.resume();
  }

  /** @internal Stops reading; early bytes go into `head` (or back into the socket). */
  unwatch(unshift: boolean): void {
    const early = this.#early;
    if (early === undefined) return;
    this.#early = undefined;
    this.socket.off('data', this.#onEarlyData);
    this.socket.off('end', this.#onPeerEnd);
    // Handed back paused, as the 'upgrade' event gave it; ws attaches its own reader at once, and
    // a paused stream would not start for it.
    if (unshift) this.socket.pause();
    if (early.length === 0) return;
    const bytes = Buffer.concat(early);
    if (unshift) this.socket.unshift(bytes);
    else this.head = Buffer.concat([this.head, bytes]);
  }

  /** @internal Gives the socket back from the response; false when the response was sent. */
  detachResponse(): boolean {
    const response = this.#response;
    if (response === undefined) return true;
    if (response.headersSent) return false;
    response.off('finish', this.#onResponseFinish);
    response.detachSocket(this.socket as Socket);
    this.#response = undefined;
    // The HTTP exchange is over: whoever waits for this response to finish (Koa's and Express's
    // on-finished listeners sit on the socket) lets go now, instead of keeping the request,
    // the response and the framework's context alive for the WebSocket's whole life.
    response.emit('finish');
    return true;
  }

  /** Lets go of the socket without answering it: another 'upgrade' listener may claim it. */
  release(): void {
    this.unwatch(true);
    this.detachResponse();
    this.finish();
  }

  /** Refuses with the HTTP status mapped to a wslane error code. */
  refuseWith(code: WslaneErrorCode, headers?: RefusalHeaders): void {
    this.refuse(ERROR_OUTCOMES[code].status ?? 500, code, headers);
  }

  checkDeadlines(now: number): void {
    if (now - this.startedAt < this.#host.handshakeTimeoutMs || this.state === 'done') return;
    // Nothing written yet: a 408 tells an honest client why; otherwise just drop it.
    if (this.socket.writable && (this.socket as { bytesWritten?: number }).bytesWritten === 0) {
      this.refuseWith('WSLANE_HANDSHAKE_TIMEOUT');
    } else {
      this.socket.destroy();
      this.finish();
    }
  }

  /** The handshake completed: the channel owns the socket from here. */
  opened(): void {
    this.state = 'done';
    this.socket.off('close', this.#onSocketClose);
    // ws has its own error listener on the socket from here.
    this.socket.off('error', this.#onSocketError);
    this.#host.settled(this, true);
  }

  /** Ends the upgrade without a channel. Idempotent. */
  finish(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    // The error guard stays: the refused socket may still reset while its response drains.
    this.socket.off('close', this.#onSocketClose);
    this.#host.settled(this, false);
    this.onAbandon?.();
  }

  readonly #onEarlyData = (chunk: Buffer): void => {
    this.#early?.push(chunk);
    this.#earlyBytes += chunk.length;
    // A client has no reason to send much before the 101: cap what waits here.
    if (this.#earlyBytes > MAX_EARLY_BYTES) this.socket.destroy();
  };

  // The client half-closed before its upgrade was decided: it is gone.
  readonly #onPeerEnd = (): void => {
    this.socket.destroy();
  };

  readonly #onSocketClose = (): void => {
    this.finish();
  };

  // A reset during the handshake must not become an uncaught 'error' event.
  readonly #onSocketError = (): void => {
    this.socket.destroy();
  };
}
