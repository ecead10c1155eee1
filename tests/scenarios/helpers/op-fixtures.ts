import { createProbe } from '../../helpers/channel-probe.js';
import { encodeFrame } from './frame-encoder.js';
import type { WireClient } from './wire-client.js';
import { OP } from './wire-frames.js';

/** Text frames in one buffer, to send right behind the upgrade request. */
export function textFrames(...payloads: string[]): Buffer {
  return Buffer.concat(payloads.map((payload) => encodeFrame({ opcode: OP.text, payload })));
}

/** Text messages the wire client received, in order. */
export function texts(client: WireClient): string[] {
  return client.messages().map((m) => m.payload.toString());
}

/** An echo route that records what reached its handlers, in order. */
export function echoProbe() {
  const events: string[] = [];
  const probe = createProbe({
    onOpen: () => {
      events.push('open');
    },
    onMessage: (message, channel) => {
      events.push(`message:${String(message)}`);
      return channel.send(message);
    },
  });
  return { probe, events };
}
