// Incremental decoder of `Transfer-Encoding: chunked` bodies: bytes arrive split anywhere,
// data comes out as views of the input (no copies), trailers are read and dropped.
import { HttpClientError } from './errors.js';

const CR = 13;
const LF = 10;
const MAX_LINE = 4096;

type State = 'size' | 'data' | 'data-end' | 'trailer' | 'done';

export class ChunkedDecoder {
  private state: State = 'size';
  private line = '';
  private left = 0;

  get done(): boolean {
    return this.state === 'done';
  }

  /**
   * Feeds bytes; `onData` gets each piece of body data. Returns how many bytes of `input`
   * were consumed: fewer than its length only once the body is complete.
   */
  feed(input: Buffer, onData: (data: Buffer) => void): number {
    let i = 0;
    while (i < input.length && this.state !== 'done') {
      if (this.state === 'data') {
        const take = Math.min(this.left, input.length - i);
        onData(input.subarray(i, i + take));
        i += take;
        this.left -= take;
        if (this.left === 0) this.state = 'data-end';
        continue;
      }
      const byte = input[i++]!;
      if (byte === CR) continue;
      if (byte !== LF) {
        if (this.line.length >= MAX_LINE) throw new HttpClientError('chunked body: line too long', 'HTTP_PROTOCOL');
        this.line += String.fromCharCode(byte);
        continue;
      }
      const line = this.line;
      this.line = '';
      this.endLine(line);
    }
    return i;
  }

  private endLine(line: string): void {
    switch (this.state) {
      case 'size': {
        const size = /^([0-9a-fA-F]{1,12})(?:\s*;.*)?$/.exec(line.trim());
        if (!size) throw new HttpClientError(`chunked body: bad chunk size line ${JSON.stringify(line.slice(0, 40))}`, 'HTTP_PROTOCOL');
        this.left = parseInt(size[1]!, 16);
        this.state = this.left === 0 ? 'trailer' : 'data';
        return;
      }
      case 'data-end':
        if (line !== '') throw new HttpClientError('chunked body: chunk longer than its size', 'HTTP_PROTOCOL');
        this.state = 'size';
        return;
      case 'trailer':
        if (line === '') this.state = 'done';
        return;
      default:
        return;
    }
  }
}
