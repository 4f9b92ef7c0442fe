// Socket reads go into one reused 128 KiB buffer per connection, and each read's bytes are
// copied out into a buffer of exactly their size. Node's default is a fresh 64 KiB buffer
// per read, copied down to the bytes received: the same one copy, but up to twice the
// reads, 'data' events and stream hops for a blob. Handing out views of shared slabs would
// save the copy, but a view pins its whole slab: a copy then held up to 9 MiB of mostly
// consumed slabs, and larger reads held more bytes in flight (test/replicate/streaming.test.ts
// measures both; 128 KiB keeps a monolithic copy under 3 MiB there).

const READ_BYTES = 128 * 1024;

export class ReadBuffer {
  private readonly buffer = Buffer.allocUnsafeSlow(READ_BYTES);

  /** Where the next read goes: always the same buffer. */
  next(): Buffer {
    return this.buffer;
  }

  /** The read put `bytes` bytes at the start of `region` (the last `next()`): a copy of them. */
  take(bytes: number, region: Uint8Array): Buffer {
    const out = Buffer.allocUnsafeSlow(bytes);
    out.set(region.subarray(0, bytes));
    return out;
  }
}
