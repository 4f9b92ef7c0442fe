// A response body: a Readable fed by the connection, with backpressure reaching the socket.
import { Readable } from 'node:stream';

export interface BodySource {
  /** The reader wants more: resume the socket. */
  pull(): void;
  /** The reader gave up before the end: the connection cannot be reused. */
  abandon(err: Error | null): void;
}

/** Bodies left unread beyond this are cut (the connection closed) instead of read to the end. */
const DUMP_LIMIT = 128 * 1024;

export class ResponseBody extends Readable {
  private source: BodySource | undefined;

  constructor(source: BodySource | undefined) {
    // 1 MiB of read-ahead keeps a blob stream moving while its consumer hashes and writes.
    super({ highWaterMark: 1024 * 1024 });
    this.source = source;
  }

  /** The body is complete: the socket it came from is no longer this body's business. */
  detach(): void {
    this.source = undefined;
  }

  override _read(): void {
    this.source?.pull();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    const source = this.source;
    this.source = undefined;
    source?.abandon(err);
    callback(err);
  }

  /** Reads and discards the rest (small bodies keep their connection; long ones close it). */
  dump(): Promise<void> {
    if (this.readableEnded || this.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      let seen = 0;
      this.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > DUMP_LIMIT) this.destroy();
      });
      this.once('end', resolve);
      this.once('close', resolve);
      this.once('error', () => resolve());
      this.resume();
    });
  }
}
