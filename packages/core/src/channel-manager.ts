import type { Channel, ChannelStats } from './channel.js';
import type { AnyOpenChannel, ChannelHost } from './channel-host.js';
import type { EncodedFrame } from './codec.js';
import type { SharedClock, TimedSubject } from './internal/shared-clock.js';
import { type SharedFrame, toSharedFrame } from './lane-socket.js';
import type { Logger } from './logger.js';
import type { Route } from './route.js';

/** What a broadcast did: each member either got the message queued, dropped it, or was closed. */
export interface BroadcastResult {
  /** Members whose lane took the message. */
  delivered: number;
  /** Members whose overflow policy dropped or refused it. */
  dropped: number;
  /** Members that were closing, closed, or closed by the overflow policy. */
  closed: number;
}

/** Options of a broadcast. */
export interface BroadcastOptions {
  /** Skip this channel (or these), typically the sender. */
  readonly except?: Channel | readonly Channel[];
  /** Deliver only to channels it accepts. */
  readonly filter?: (channel: Channel) => boolean;
}

/** A named group of channels. Rooms exist while they have members. */
export interface Room {
  readonly name: string;
  readonly size: number;
  members(): IterableIterator<Channel>;
  /** Encodes once per codec and hands the same bytes to every member's lane. */
  broadcast(message: unknown, options?: BroadcastOptions): BroadcastResult;
}

/** Lifecycle totals of a hub, as plain JSON. */
export interface ManagerStats {
  created: number;
  released: number;
  active: number;
  peak: number;
  /** Upgrades admitted and not yet open or refused. */
  pending: number;
  rooms: Record<string, number>;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  dropped: number;
}

/** Why an upgrade cannot be admitted. */
export type AdmissionRefusal =
  | 'WSLANE_CONNECTION_LIMIT'
  | 'WSLANE_IP_LIMIT'
  | 'WSLANE_KEY_CONFLICT';

/** The connection caps an upgrade is admitted under. */
export interface AdmissionLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
}

/**
 * The registry of a hub's channels: by id, by session key (scoped per route), by room; the
 * connection caps; broadcast; lifecycle stats. After a channel's release nothing of it is left here.
 */
export class ChannelManager implements ChannelHost, TimedSubject {
  readonly logger: Logger;
  readonly #clock: SharedClock;
  readonly #channels = new Map<string, AnyOpenChannel>();
  readonly #keys = new Map<string, AnyOpenChannel>();
  readonly #reservedKeys = new Set<string>();
  readonly #rooms = new Map<string, Set<AnyOpenChannel>>();
  readonly #perIp = new Map<string, number>();
  #pending = 0;
  #created = 0;
  #released = 0;
  #peak = 0;
  #emptyWaiters: (() => void)[] = [];
  readonly #releasedTotals = { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, dropped: 0 };

  constructor(clock: SharedClock, logger: Logger) {
    this.#clock = clock;
    this.logger = logger;
  }

  /** Open channels (closing ones included until their socket is gone). */
  get size(): number {
    return this.#channels.size;
  }

  get pending(): number {
    return this.#pending;
  }

  get(id: string): Channel | undefined {
    return this.#channels.get(id);
  }

  /** The open channel holding `key` on `route`. */
  getByKey(route: Route<never, never, never> | string, key: string): Channel | undefined {
    return this.#keys.get(scopedKey(typeof route === 'string' ? route : route.name, key));
  }

  [Symbol.iterator](): IterableIterator<Channel> {
    return this.#channels.values();
  }

  room(name: string): Room {
    return new RoomView(this, name);
  }

  /** Names of the rooms that have members. */
  roomNames(): string[] {
    return [...this.#rooms.keys()];
  }

  /** Sends to every open channel the filter accepts. */
  broadcast(message: unknown, options: BroadcastOptions = {}): BroadcastResult {
    return this.deliver(this.#channels.values(), message, options);
  }

  /** @internal Members of a room, for {@link Room}. */
  roomMembers(name: string): Set<AnyOpenChannel> | undefined {
    return this.#rooms.get(name);
  }

  /** @internal Fan-out shared by hub-wide and room broadcasts. */
  deliver(
    members: Iterable<AnyOpenChannel>,
    message: unknown,
    options: BroadcastOptions,
  ): BroadcastResult {
    const result: BroadcastResult = { delivered: 0, dropped: 0, closed: 0 };
    const except = options.except;
    const framed = new Map<unknown, SharedFrame>();
    let lastCodec: unknown;
    let lastFrame: SharedFrame | undefined;
    for (const channel of members) {
      if (
        except !== undefined &&
        (except === channel || (Array.isArray(except) && except.includes(channel)))
      )
        continue;
      if (options.filter !== undefined && !options.filter(channel)) continue;
      const codec = channel.route.codec;
      let frame = codec === lastCodec ? lastFrame : framed.get(codec);
      if (frame === undefined) {
        // Once per codec, not per member: encoded and framed once, every lane writes these bytes.
        const encoded = toShareable(codec.encode(message));
        frame = toSharedFrame(encoded.data as Buffer, encoded.binary);
        framed.set(codec, frame);
      }
      lastCodec = codec;
      lastFrame = frame;
      const outcome = channel.offerFrame(frame);
      if (outcome === 'written' || outcome === 'queued') result.delivered++;
      else if (outcome === 'closed') result.closed++;
      else result.dropped++;
    }
    return result;
  }

  /**
   * Checks the connection caps for a new upgrade request (before any middleware runs) and, when
   * it fits, counts it as pending until it opens or is abandoned.
   */
  admit(ip: string, limits: AdmissionLimits): AdmissionRefusal | undefined {
    const total = this.#channels.size + this.#pending;
    if (limits.maxConnections > 0 && total >= limits.maxConnections) {
      return 'WSLANE_CONNECTION_LIMIT';
    }
    const fromIp = this.#perIp.get(ip) ?? 0;
    if (limits.maxConnectionsPerIp > 0 && fromIp >= limits.maxConnectionsPerIp) {
      return 'WSLANE_IP_LIMIT';
    }
    this.#pending++;
    this.#perIp.set(ip, fromIp + 1);
    return undefined;
  }

  /** Open and pending connections from `ip` (an admitted upgrade counts itself). */
  connectionsFrom(ip: string): number {
    return this.#perIp.get(ip) ?? 0;
  }

  /**
   * Reserves a session key for an upgrade under policy `refuse`; false when an open channel or
   * another upgrade in progress holds it.
   */
  reserveKey(scope: string, key: string): boolean {
    const scoped = scopedKey(scope, key);
    if (this.#keys.has(scoped) || this.#reservedKeys.has(scoped)) return false;
    this.#reservedKeys.add(scoped);
    return true;
  }

  /** Undoes {@link admit} (and a key reservation) for an upgrade that did not open. */
  abandon(ip: string, scope?: string, key?: string): void {
    this.#pending--;
    this.#decrementIp(ip);
    if (scope !== undefined && key !== undefined) this.#reservedKeys.delete(scopedKey(scope, key));
    this.#notifyIfEmpty();
  }

  /**
   * Turns an admitted upgrade into a registered channel. A channel already holding the same key on
   * the same route is returned so the caller can close it (replace policy).
   */
  register(channel: AnyOpenChannel): AnyOpenChannel | undefined {
    this.#pending--;
    this.#created++;
    this.#channels.set(channel.id, channel);
    this.#peak = Math.max(this.#peak, this.#channels.size);
    // One clock subject for every channel: the manager sweeps its own map, so a channel costs no
    // entry in the clock's set as well.
    if (this.#channels.size === 1) this.#clock.add(this);
    if (channel.key === undefined) return undefined;
    const scoped = scopedKey(channel.route.name, channel.key);
    this.#reservedKeys.delete(scoped);
    const previous = this.#keys.get(scoped);
    this.#keys.set(scoped, channel);
    return previous;
  }

  /** @internal Shared-clock tick: every channel acts on whichever of its deadlines passed. */
  checkDeadlines(now: number): void {
    for (const channel of this.#channels.values()) channel.checkDeadlines(now);
  }

  release(channel: AnyOpenChannel): void {
    if (this.#channels.get(channel.id) !== channel) return;
    this.#channels.delete(channel.id);
    if (this.#channels.size === 0) this.#clock.delete(this);
    this.#released++;
    this.#decrementIp(channel.remoteAddress);
    if (channel.key !== undefined) {
      const scoped = scopedKey(channel.route.name, channel.key);
      // A newer channel may already hold the key: only the holder frees it.
      if (this.#keys.get(scoped) === channel) this.#keys.delete(scoped);
    }
    for (const room of channel.roomSet) this.#removeFromRoom(channel, room);
    channel.roomSet.clear();
    this.#addReleasedTotals(channel.stats);
    this.#notifyIfEmpty();
  }

  join(channel: AnyOpenChannel, room: string): void {
    if (this.#channels.get(channel.id) !== channel) return;
    let members = this.#rooms.get(room);
    if (members === undefined) {
      members = new Set();
      this.#rooms.set(room, members);
    }
    members.add(channel);
    channel.roomSet.add(room);
  }

  leave(channel: AnyOpenChannel, room: string): void {
    if (!channel.roomSet.delete(room)) return;
    this.#removeFromRoom(channel, room);
  }

  /** Resolves once no channel is open and no upgrade is pending. */
  whenEmpty(): Promise<void> {
    if (this.#channels.size === 0 && this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#emptyWaiters.push(resolve));
  }

  stats(): ManagerStats {
    const totals = { ...this.#releasedTotals };
    for (const channel of this.#channels.values()) addTotals(totals, channel.stats);
    const rooms: Record<string, number> = {};
    for (const [name, members] of this.#rooms) rooms[name] = members.size;
    return {
      created: this.#created,
      released: this.#released,
      active: this.#channels.size,
      peak: this.#peak,
      pending: this.#pending,
      rooms,
      ...totals,
    };
  }

  #removeFromRoom(channel: AnyOpenChannel, room: string): void {
    const members = this.#rooms.get(room);
    if (members === undefined) return;
    members.delete(channel);
    if (members.size === 0) this.#rooms.delete(room);
  }

  #decrementIp(ip: string): void {
    const count = (this.#perIp.get(ip) ?? 1) - 1;
    if (count <= 0) this.#perIp.delete(ip);
    else this.#perIp.set(ip, count);
  }

  #addReleasedTotals(stats: ChannelStats): void {
    addTotals(this.#releasedTotals, stats);
  }

  #notifyIfEmpty(): void {
    if (this.#channels.size > 0 || this.#pending > 0 || this.#emptyWaiters.length === 0) return;
    const waiters = this.#emptyWaiters;
    this.#emptyWaiters = [];
    for (const waiter of waiters) waiter();
  }
}

/** A live view of one room; cheap to create, holds no state of its own. */
class RoomView implements Room {
  readonly name: string;
  readonly #manager: ChannelManager;

  constructor(manager: ChannelManager, name: string) {
    this.#manager = manager;
    this.name = name;
  }

  get size(): number {
    return this.#manager.roomMembers(this.name)?.size ?? 0;
  }

  members(): IterableIterator<Channel> {
    return (this.#manager.roomMembers(this.name) ?? new Set<Channel>()).values();
  }

  broadcast(message: unknown, options: BroadcastOptions = {}): BroadcastResult {
    const members = this.#manager.roomMembers(this.name);
    if (members === undefined) return { delivered: 0, dropped: 0, closed: 0 };
    return this.#manager.deliver(members, message, options);
  }
}

type Totals = Pick<ManagerStats, 'messagesIn' | 'messagesOut' | 'bytesIn' | 'bytesOut' | 'dropped'>;

function addTotals(totals: Totals, stats: ChannelStats): void {
  totals.messagesIn += stats.messagesIn;
  totals.messagesOut += stats.messagesOut;
  totals.bytesIn += stats.bytesIn;
  totals.bytesOut += stats.bytesOut;
  totals.dropped += stats.dropped;
}

function scopedKey(scope: string, key: string): string {
  return `${scope}\u0000${key}`;
}

/** Text as bytes once, so no member's send converts it again. */
function toShareable(frame: EncodedFrame): EncodedFrame {
  if (typeof frame.data !== 'string') return frame;
  return { data: Buffer.from(frame.data), binary: frame.binary };
}
