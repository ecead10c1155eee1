import {
  DecodeError,
  json,
  lengthPrefixed,
  lines,
  type RouteDefinition,
  upgradeRefusal,
} from '@wslane/core';
import { connect, type TestClient } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { type RequestOptions, upgradeRequest } from '../scenarios/helpers/http-upgrade.js';
import { WireClient } from '../scenarios/helpers/wire-client.js';

/**
 * Close reasons and HTTP error responses go to whoever sent the request: they must never carry
 * the peer's payload back (reflected content, log injection downstream) nor server internals
 * (error messages, stack traces). Every error path gets a payload holding MARKER; MARKER must
 * appear in no close reason and nowhere in any HTTP response.
 */
const MARKER = 'S3CR3T-7f3a-MARKER';

const startHubServer = useHubServers();

type Definition = RouteDefinition<unknown, unknown, unknown>;

interface CloseCase {
  readonly route: Definition;
  readonly options?: Parameters<typeof startHubServer>[1];
  /** Sends the poisoned input; nothing for paths that fail on open. */
  readonly send?: (client: TestClient) => void;
  readonly code: number;
}

function text(payload: string): (client: TestClient) => void {
  return (client) => client.ws.send(payload);
}

function binary(payload: Buffer): (client: TestClient) => void {
  return (client) => client.ws.send(payload);
}

const CLOSE_CASES: Record<string, CloseCase> = {
  'invalid JSON': { route: { codec: json() }, send: text(`{"a": "${MARKER}`), code: 1007 },
  'a schema failure on a value': {
    route: { codec: json(z.object({ text: z.string().max(3) })) },
    send: text(JSON.stringify({ text: MARKER })),
    code: 1007,
  },
  'a schema failure on a literal': {
    route: { codec: json(z.object({ type: z.literal('chat') })) },
    send: text(JSON.stringify({ type: MARKER })),
    code: 1007,
  },
  'a schema failure in a record value (the key is the payload)': {
    route: { codec: json(z.record(z.string(), z.number())) },
    send: text(JSON.stringify({ [MARKER]: 'not a number' })),
    code: 1007,
  },
  'a schema failure on a record key': {
    route: { codec: json(z.record(z.string().regex(/^[a-z]+$/), z.number())) },
    send: text(JSON.stringify({ [MARKER]: 1 })),
    code: 1007,
  },
  'a schema failure in a catchall value': {
    route: { codec: json(z.object({ a: z.string() }).catchall(z.number())) },
    send: text(JSON.stringify({ a: 'x', [MARKER]: 'not a number' })),
    code: 1007,
  },
  'an unknown key in a strict object': {
    route: { codec: json(z.strictObject({ a: z.string() })) },
    send: text(JSON.stringify({ a: 'x', [MARKER]: 1 })),
    code: 1007,
  },
  'a schema transform that throws': {
    route: {
      codec: json(
        z.object({ a: z.string() }).transform((value) => {
          throw new Error(`${MARKER} ${value.a}`);
        }),
      ),
    },
    send: text(JSON.stringify({ a: MARKER })),
    code: 1007,
  },
  'a binary frame to json()': {
    route: { codec: json() },
    send: binary(Buffer.from(MARKER)),
    code: 1003,
  },
  'an oversized line': {
    route: { codec: lines({ maxLineBytes: 16 }) },
    send: text(MARKER.repeat(4)),
    code: 1009,
  },
  'a line that is not UTF-8': {
    route: { codec: lines() },
    send: binary(Buffer.concat([Buffer.from(MARKER), Buffer.from([0xff, 0x0d, 0x0a])])),
    code: 1007,
  },
  'an oversized length-prefixed record': {
    route: { codec: lengthPrefixed({ maxFrameBytes: 8 }) },
    send: binary(Buffer.concat([Buffer.from([0, 0, 0, MARKER.length]), Buffer.from(MARKER)])),
    code: 1009,
  },
  'a text frame to lengthPrefixed()': {
    route: { codec: lengthPrefixed() },
    send: text(MARKER),
    code: 1003,
  },
  'a message over maxPayload': {
    route: {},
    options: { limits: { maxPayload: 64 } },
    send: text(MARKER.repeat(10)),
    code: 1009,
  },
  'a message over the rate limit': {
    route: {},
    options: { limits: { rateLimit: { messages: 1, interval: '1m' } } },
    send: (client) => {
      client.ws.send(MARKER);
      client.ws.send(MARKER);
    },
    code: 1008,
  },
  'onMessage throwing an error that quotes the payload': {
    route: {
      onMessage: (message) => {
        throw new Error(`cannot handle ${String(message)}`);
      },
    },
    send: text(MARKER),
    code: 1011,
  },
  'onMessage rejecting with a wslane error that quotes the payload': {
    route: {
      onMessage: async (message) => {
        throw new DecodeError('WSLANE_CODEC_DECODE', `bad ${String(message)}`);
      },
    },
    send: text(MARKER),
    code: 1011,
  },
  'onOpen throwing': {
    route: {
      onOpen: () => {
        throw new Error(MARKER);
      },
    },
    code: 1011,
  },
  'onInvalidMessage throwing the decode error text': {
    route: {
      codec: json(z.record(z.string(), z.number())),
      onInvalidMessage: (error) => {
        throw new Error(`${error.message} ${MARKER}`);
      },
    },
    send: text(JSON.stringify({ [MARKER]: 'x' })),
    code: 1011,
  },
};

describe('close reasons never echo payloads or internals', () => {
  it.each(Object.entries(CLOSE_CASES))('%s', async (_name, testCase) => {
    const probe = createProbe(
      testCase.route as RouteDefinition<string | Buffer, string | Buffer, unknown>,
    );
    const server = await startHubServer({ '/x': probe.route }, testCase.options);
    const client = await connect(server.url('/x'));
    testCase.send?.(client);
    const { code, reason } = await client.waitClosed();
    expect(code).toBe(testCase.code);
    expect(reason).not.toContain(MARKER);
    expect(reason).not.toMatch(/\bat .*:\d+:\d+/); // no stack frames
    expect(probe.errors.length).toBeGreaterThan(0);
  });
});

interface HttpCase {
  readonly request: RequestOptions;
  readonly status: number;
  readonly options?: Parameters<typeof startHubServer>[1];
}

const HTTP_CASES: Record<string, HttpCase> = {
  'auth code throwing an error that quotes the request': {
    request: { path: `/auth-throws?token=${MARKER}` },
    status: 500,
  },
  'a refusal without a body of its own': {
    request: { path: `/refuses?token=${MARKER}` },
    status: 403,
  },
  'a key function throwing': { request: { path: `/key-throws?user=${MARKER}` }, status: 500 },
  'a duplicate session key': { request: { path: `/keyed?user=${MARKER}` }, status: 409 },
  'an unknown path': { request: { path: `/nowhere/${MARKER}` }, status: 404 },
  'a foreign origin': {
    request: { path: '/open', headers: { Origin: `https://${MARKER.toLowerCase()}.example` } },
    status: 403,
  },
  'a malformed key': {
    request: { path: '/open', headers: { 'Sec-WebSocket-Key': MARKER } },
    status: 400,
  },
  'a bad version': {
    request: { path: '/open', headers: { 'Sec-WebSocket-Version': MARKER } },
    status: 400,
  },
  'a POST upgrade': { request: { path: `/open?${MARKER}`, method: 'POST' }, status: 405 },
  'the per-IP cap': {
    request: { path: `/open?${MARKER}`, headers: { 'X-Forwarded-For': MARKER } },
    options: { limits: { maxConnectionsPerIp: 1 } },
    status: 429,
  },
  'the global cap': {
    request: { path: `/open?${MARKER}` },
    options: { limits: { maxConnections: 1 } },
    status: 503,
  },
  'a request head the HTTP parser rejects': {
    request: { path: '/open', headers: { [`X-${MARKER}`]: 'a\u0001b' } },
    status: 400,
  },
};

describe('HTTP refusals never echo the request or internals', () => {
  it.each(Object.entries(HTTP_CASES))('%s', async (_name, testCase) => {
    const open = createProbe();
    const route = createProbe().route;
    const keyed = createProbe({
      options: { duplicateKey: 'refuse' },
      key: (context) => (context as { user: string }).user,
    } as RouteDefinition<string | Buffer, string | Buffer, unknown>);
    const server = await startHubServer(
      {
        '/open': open.route,
        '/auth-throws': {
          route,
          context: (req) => {
            throw new Error(`bad token in ${req.url}`);
          },
        },
        '/refuses': {
          route,
          context: () => {
            throw upgradeRefusal(403);
          },
        },
        '/key-throws': {
          route: createProbe({
            key: () => {
              throw new Error(MARKER);
            },
          }).route,
        },
        '/keyed': {
          route: keyed.route,
          context: (req) => ({
            user: new URL(req.url ?? '/', 'http://x').searchParams.get('user'),
          }),
        },
      },
      testCase.options,
    );
    const port = Number(new URL(server.url('/')).port);
    // Occupy what the caps and the duplicate key need occupied.
    const holders: TestClient[] = [];
    if (testCase.status === 429 || testCase.status === 503) {
      holders.push(await connect(server.url('/open')));
    }
    if (testCase.status === 409) holders.push(await connect(server.url(`/keyed?user=${MARKER}`)));
    const client = await WireClient.tcp(port);
    await client.write(upgradeRequest(testCase.request).text);
    const response = await client.response();
    expect(response.status).toBe(testCase.status);
    expect(response.raw).not.toContain(MARKER);
    expect(response.raw.toLowerCase()).not.toContain(MARKER.toLowerCase());
    expect(response.raw).not.toMatch(/\bat .*:\d+:\d+/);
    client.destroy();
    await Promise.all(holders.map((holder) => holder.close()));
  });

  it('does not echo an offered subprotocol it does not speak in the 101', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/open': probe.route }, { protocols: ['v1'] });
    const client = await WireClient.tcp(Number(new URL(server.url('/')).port));
    await client.write(
      upgradeRequest({ path: '/open', headers: { 'Sec-WebSocket-Protocol': MARKER } }).text,
    );
    const response = await client.response();
    expect(response.status).toBe(101);
    expect(response.raw).not.toContain(MARKER);
    client.destroy();
  });

  it('answers garbage before the handshake without quoting it', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/open': probe.route });
    const client = await WireClient.tcp(Number(new URL(server.url('/')).port));
    await client.write(`${MARKER} ${MARKER}\r\n\r\n`);
    const response = await client.response();
    expect(response.status).toBe(400);
    expect(response.raw).not.toContain(MARKER);
  });
});
