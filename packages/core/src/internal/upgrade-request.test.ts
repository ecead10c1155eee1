import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { chooseProtocol, clientIpOf, isOriginAllowed, pathnameOf } from './upgrade-request.js';

interface FakeRequest {
  url?: string | undefined;
  headers?: IncomingHttpHeaders;
  remoteAddress?: string | undefined;
}

function request(fake: FakeRequest): IncomingMessage {
  const remoteAddress = 'remoteAddress' in fake ? fake.remoteAddress : '10.0.0.1';
  const message = { url: fake.url, headers: fake.headers ?? {}, socket: { remoteAddress } };
  return message as unknown as IncomingMessage;
}

describe('pathnameOf', () => {
  it.each([
    ['/ws', '/ws'],
    ['/ws/chat?token=abc', '/ws/chat'],
    ['/ws?a=1?b=2', '/ws'],
    ['/?x', '/'],
    ['/ws/%E2%82%AC', '/ws/%E2%82%AC'],
  ])('reads %j as %j', (url, expected) => {
    expect(pathnameOf(request({ url }))).toBe(expected);
  });

  it('answers / for a request without a url', () => {
    expect(pathnameOf(request({ url: undefined }))).toBe('/');
  });
});

describe('clientIpOf', () => {
  const forwarded = { 'x-forwarded-for': '203.0.113.7, 198.51.100.2' };

  it('uses the socket peer and ignores X-Forwarded-For when no proxy is trusted', () => {
    expect(clientIpOf(request({ headers: forwarded }), 0)).toBe('10.0.0.1');
  });

  it('takes the entry appended by the one trusted proxy', () => {
    expect(clientIpOf(request({ headers: forwarded }), 1)).toBe('198.51.100.2');
  });

  it('walks back one entry per trusted hop', () => {
    expect(clientIpOf(request({ headers: forwarded }), 2)).toBe('203.0.113.7');
  });

  it('ignores entries a client prepended to spoof its address', () => {
    const spoofed = { 'x-forwarded-for': '6.6.6.6, 1.2.3.4, 203.0.113.7' };
    expect(clientIpOf(request({ headers: spoofed }), 1)).toBe('203.0.113.7');
  });

  it('takes the furthest entry when fewer entries than trusted hops exist', () => {
    expect(clientIpOf(request({ headers: forwarded }), 5)).toBe('203.0.113.7');
  });

  it('tolerates blanks, empty entries and repeated headers', () => {
    const messy = { 'x-forwarded-for': [' 203.0.113.7 ,', ' , 198.51.100.2 '] };
    expect(clientIpOf(request({ headers: messy as unknown as IncomingHttpHeaders }), 1)).toBe(
      '198.51.100.2',
    );
    expect(clientIpOf(request({ headers: messy as unknown as IncomingHttpHeaders }), 2)).toBe(
      '203.0.113.7',
    );
  });

  it('falls back to the socket peer when a trusted proxy sent no X-Forwarded-For', () => {
    expect(clientIpOf(request({}), 1)).toBe('10.0.0.1');
    expect(clientIpOf(request({ headers: { 'x-forwarded-for': ' , ' } }), 1)).toBe('10.0.0.1');
  });

  it('answers "unknown" when the socket has no peer address', () => {
    expect(clientIpOf(request({ remoteAddress: undefined }), 0)).toBe('unknown');
  });
});

describe('isOriginAllowed', () => {
  const host = 'app.example.com';

  it('allows clients that send no Origin (not browsers)', () => {
    expect(isOriginAllowed(request({ headers: { host } }), [])).toBe(true);
  });

  it('allows a same-origin page', () => {
    const headers = { host, origin: 'https://app.example.com' };
    expect(isOriginAllowed(request({ headers }), [])).toBe(true);
    const local = { host: 'localhost:3000', origin: 'http://localhost:3000' };
    expect(isOriginAllowed(request({ headers: local }), [])).toBe(true);
  });

  it('compares the same-origin host case-insensitively', () => {
    const headers = { host: 'App.Example.COM', origin: 'HTTPS://APP.example.com' };
    expect(isOriginAllowed(request({ headers }), [])).toBe(true);
  });

  it('refuses a cross-site page that is not listed', () => {
    const headers = { host, origin: 'https://evil.example.net' };
    expect(isOriginAllowed(request({ headers }), ['https://partner.example.org'])).toBe(false);
  });

  it('refuses the same host on another port', () => {
    const headers = { host: 'localhost:3000', origin: 'http://localhost:3001' };
    expect(isOriginAllowed(request({ headers }), [])).toBe(false);
  });

  it('allows a listed origin, ignoring case and trailing slashes', () => {
    const headers = { host, origin: 'https://Partner.Example.org' };
    expect(isOriginAllowed(request({ headers }), ['https://partner.example.org/'])).toBe(true);
  });

  it('does not treat a listed origin as a prefix', () => {
    const headers = { host, origin: 'https://partner.example.org.evil.net' };
    expect(isOriginAllowed(request({ headers }), ['https://partner.example.org'])).toBe(false);
  });

  it('allows every origin when "*" is listed', () => {
    const headers = { host, origin: 'https://anything.example' };
    expect(isOriginAllowed(request({ headers }), ['*'])).toBe(true);
  });

  it('refuses an opaque "null" origin unless it is listed', () => {
    const headers = { host, origin: 'null' };
    expect(isOriginAllowed(request({ headers }), [])).toBe(false);
    expect(isOriginAllowed(request({ headers }), ['null'])).toBe(true);
  });

  it('refuses a malformed origin and an origin when the Host header is missing', () => {
    expect(isOriginAllowed(request({ headers: { host, origin: 'not a url' } }), [])).toBe(false);
    expect(isOriginAllowed(request({ headers: { origin: 'https://app.example.com' } }), [])).toBe(
      false,
    );
  });
});

describe('chooseProtocol', () => {
  it('picks the first of our protocols the client offered, in our order', () => {
    expect(chooseProtocol(new Set(['chat.v1', 'chat.v2']), ['chat.v2', 'chat.v1'])).toBe('chat.v2');
    expect(chooseProtocol(new Set(['chat.v1']), ['chat.v2', 'chat.v1'])).toBe('chat.v1');
  });

  it('answers false when nothing matches or nothing is supported', () => {
    expect(chooseProtocol(new Set(['mqtt']), ['chat.v2'])).toBe(false);
    expect(chooseProtocol(new Set(['chat.v2']), [])).toBe(false);
    expect(chooseProtocol(new Set(), ['chat.v2'])).toBe(false);
  });
});
