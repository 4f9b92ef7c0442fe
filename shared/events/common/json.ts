// Body bytes -> JSON value. Invalid JSON is something no real sender produces: 400.
import { PayloadError } from '../types.js';

const BOM = 0xfeff;

export function decodeJson(body: Buffer, format: string): unknown {
  let text = body.toString('utf8');
  if (text.charCodeAt(0) === BOM) text = text.slice(1);
  if (text.trim() === '') throw new PayloadError(`${format} payload: body is empty`);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new PayloadError(`${format} payload: body is not valid JSON`, (error as Error).message);
  }
}

/** Every format ferry reads is a JSON object at the top. */
export function decodeJsonObject(body: Buffer, format: string): Record<string, unknown> {
  const value = decodeJson(body, format);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    throw new PayloadError(`${format} payload: (body): expected a JSON object, got ${got}`);
  }
  return value as Record<string, unknown>;
}
