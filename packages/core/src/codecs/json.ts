import type { Buffer } from 'node:buffer';
import type { z } from 'zod';
import type { Codec, EncodedFrame, FrameDecoder } from '../codec.js';
import { DecodeError, WslaneError } from '../errors.js';

/** Options of the {@link json} codec. */
export interface JsonOptions<TOutbound extends z.ZodType | undefined = undefined> {
  /**
   * Schema of outgoing messages: `send` is typed by its input type and, unless
   * `validateOutbound` is `false`, each message is parsed by it before encoding, so what goes on
   * the wire is the schema's output (unknown object keys stripped, transforms applied).
   *
   * @default undefined (outgoing messages are any JSON-serialisable value)
   */
  readonly outbound?: TOutbound;
  /**
   * Parse outgoing messages with `outbound` before encoding; `false` only types them.
   *
   * @default true
   */
  readonly validateOutbound?: boolean;
}

/** The message type the {@link json} codec decodes to: the schema's output, or `unknown`. */
export type JsonInbound<TSchema> = TSchema extends z.ZodType ? z.output<TSchema> : unknown;
/** The message type the {@link json} codec encodes from: the schema's input, or `unknown`. */
export type JsonOutbound<TSchema> = TSchema extends z.ZodType ? z.input<TSchema> : unknown;

const MAX_REASON_CHARS = 100;

/**
 * JSON in text frames, one value per frame, optionally validated by zod schemas both ways.
 * Schemas must be synchronous (no async refinements or transforms).
 *
 * Decoding throws {@link DecodeError} `WSLANE_CODEC_FRAME_TYPE` (close 1003) for a binary frame and
 * `WSLANE_CODEC_DECODE` (close 1007) for invalid JSON or a schema failure; the message names the
 * problem and the first issue's path, never the payload, and `cause` keeps the original error.
 *
 * @throws {WslaneError} `WSLANE_CODEC_ENCODE` from `encode` when the outbound schema refuses the
 * message or it has no JSON form (`undefined`, a function, a `bigint`, a cycle).
 *
 * @example
 * ```ts
 * const Chat = z.object({ text: z.string().max(2000) });
 * const codec = json(Chat, { outbound: z.object({ from: z.string(), text: z.string() }) });
 * ```
 */
export function json<
  TInSchema extends z.ZodType | undefined = undefined,
  TOutSchema extends z.ZodType | undefined = undefined,
>(
  schema?: TInSchema,
  options: JsonOptions<TOutSchema> = {},
): Codec<JsonInbound<TInSchema>, JsonOutbound<TOutSchema>> {
  const { outbound, validateOutbound = true } = options;
  const outboundSchema = validateOutbound ? outbound : undefined;
  // The decoder keeps no state, so every channel of this codec shares one (no object per channel).
  const decoder: FrameDecoder<JsonInbound<TInSchema>> = Object.freeze({
    decode: (frame: Buffer, isBinary: boolean, emit: (message: JsonInbound<TInSchema>) => void) => {
      emit(decodeJson(frame, isBinary, schema) as JsonInbound<TInSchema>);
    },
  });
  return {
    name: 'json',
    encode: (message: JsonOutbound<TOutSchema>): EncodedFrame =>
      encodeJson(message, outboundSchema),
    createDecoder: (): FrameDecoder<JsonInbound<TInSchema>> => decoder,
  };
}

function decodeJson(frame: Buffer, isBinary: boolean, schema: z.ZodType | undefined): unknown {
  if (isBinary) {
    throw new DecodeError('WSLANE_CODEC_FRAME_TYPE', 'json codec accepts text frames only');
  }
  let value: unknown;
  try {
    value = JSON.parse(frame.toString('utf8'));
  } catch (error) {
    // The SyntaxError's own message quotes the payload, so it only travels as the cause.
    throw new DecodeError('WSLANE_CODEC_DECODE', 'invalid JSON', { cause: error });
  }
  if (schema === undefined) return value;
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new DecodeError('WSLANE_CODEC_DECODE', describeSchemaError(result.error, schema), {
      cause: result.error,
    });
  }
  return result.data;
}

function encodeJson(message: unknown, schema: z.ZodType | undefined): EncodedFrame {
  let value = message;
  if (schema !== undefined) {
    const result = schema.safeParse(message);
    if (!result.success) {
      throw new WslaneError(
        'WSLANE_CODEC_ENCODE',
        `json ${describeSchemaError(result.error, schema)}`,
        {
          cause: result.error,
        },
      );
    }
    value = result.data;
  }
  let data: string | undefined;
  try {
    data = JSON.stringify(value);
  } catch (error) {
    throw new WslaneError('WSLANE_CODEC_ENCODE', 'json: value is not JSON-serialisable', {
      cause: error,
    });
  }
  if (data === undefined) {
    throw new WslaneError('WSLANE_CODEC_ENCODE', `json: a ${typeof value} has no JSON form`);
  }
  return { data, binary: false };
}

/** `schema: <path>: <message>` of the first issue, short enough for a close reason. */
function describeSchemaError(error: z.ZodError, schema: z.ZodType): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'schema: invalid';
  // Zod lists unrecognized keys by name, and those names come from the payload.
  const message =
    issue.code === 'unrecognized_keys' ? `unrecognized keys (${issue.keys.length})` : issue.message;
  const path = declaredPath(schema, issue.path);
  const text = path === '' ? `schema: ${message}` : `schema: ${path}: ${message}`;
  return text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS - 3)}...` : text;
}

interface SchemaDef {
  readonly type?: string;
  readonly shape?: Readonly<Record<string, unknown>>;
  readonly element?: unknown;
  readonly items?: readonly unknown[];
  readonly innerType?: unknown;
  readonly in?: unknown;
}

const WRAPPERS: ReadonlySet<string> = new Set([
  'optional',
  'nullable',
  'default',
  'prefault',
  'readonly',
  'catch',
  'nonoptional',
  'pipe',
]);

/**
 * The issue's path with every segment the schema does not declare replaced by `*`: record keys,
 * catch-all keys and anything below them come from the payload and must not be echoed.
 */
function declaredPath(schema: unknown, path: readonly PropertyKey[]): string {
  const parts: string[] = [];
  let node = schema;
  for (const segment of path) {
    const def = unwrap(node);
    if (
      def?.type === 'object' &&
      typeof segment === 'string' &&
      def.shape &&
      Object.hasOwn(def.shape, segment)
    ) {
      parts.push(segment);
      node = def.shape[segment];
    } else if (def?.type === 'array' && typeof segment === 'number') {
      parts.push(String(segment));
      node = def.element;
    } else if (def?.type === 'tuple' && typeof segment === 'number') {
      parts.push(String(segment));
      node = def.items?.[segment];
    } else {
      parts.push('*');
      node = undefined;
    }
  }
  return parts.join('.');
}

function unwrap(node: unknown): SchemaDef | undefined {
  let def = defOf(node);
  while (def?.type !== undefined && WRAPPERS.has(def.type)) def = defOf(def.innerType ?? def.in);
  return def;
}

function defOf(node: unknown): SchemaDef | undefined {
  return (node as { _zod?: { def?: SchemaDef } } | undefined)?._zod?.def;
}
