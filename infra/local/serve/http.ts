// Small HTTP helpers for the local host: bounded body reading and JSON answers.
// Every error leaves as JSON {error, detail}, never as a stack trace.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ByteBudget } from './body-budget.js';

export const MAX_BODY_BYTES = 1024 * 1024;

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
  }
}

/** Reads the whole body, refusing (without buffering further) once it passes `limit`. */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES, onChunk?: (bytes: number) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(new BodyTooLargeError(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        // Keep draining so the client gets our 413 instead of a reset connection.
        req.resume();
        reject(new BodyTooLargeError(limit));
        return;
      }
      if (onChunk) {
        try {
          onChunk(chunk.length);
        } catch (err) {
          done = true;
          req.resume();
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks));
      }
    });
    req.on('error', (err) => {
      if (!done) {
        done = true;
        reject(err);
      }
    });
    // A client that goes away mid-body (or a request timeout) ends here, not at 'end'.
    req.on('close', () => {
      if (!done) {
        done = true;
        reject(new Error('request closed before its body was complete'));
      }
    });
  });
}

export class BodyBudgetError extends Error {
  override readonly name = 'BodyBudgetError';
  constructor() {
    super('too many unverified webhook bodies are being received at once');
  }
}

export interface HeldBody {
  body: Buffer;
  /** Gives the body's bytes back to the budget once the request is handled. */
  release(): void;
}

/**
 * readBody for a sender not yet proved: every byte held counts against `budget` until
 * release() (a declared Content-Length is taken up front, so an over-budget post is
 * refused before its body arrives). Failures give everything back themselves.
 */
export async function readBodyWithin(req: IncomingMessage, limit: number, budget: ByteBudget): Promise<HeldBody> {
  let taken = 0;
  const giveBack = () => {
    budget.give(taken);
    taken = 0;
  };
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared <= limit) {
    if (!budget.take(declared)) {
      req.resume();
      throw new BodyBudgetError();
    }
    taken = declared;
  }
  const counting = Number.isFinite(declared) ? undefined : (n: number) => {
    if (!budget.take(n)) throw new BodyBudgetError();
    taken += n;
  };
  try {
    const body = await readBody(req, limit, counting);
    return { body, release: giveBack };
  } catch (err) {
    giveBack();
    throw err;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, error: string, detail: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error, detail }, headers);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Header names lower-cased, repeated headers joined the way Node joins them. */
export function lowerHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export function queryOf(url: URL): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of url.searchParams) out[k] = v;
  return out;
}

/** Parses a JSON request body; an empty body is an empty object. */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return {};
  return JSON.parse(body.toString('utf8')) as unknown;
}
