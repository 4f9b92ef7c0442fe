// Socket reads land in slabs: each read gets the free rest of the current slab and hands out
// a view of the bytes it got, so a busy blob stream takes a few large reads instead of one
// fresh 64 KiB buffer per read (Node's default, which also copies and frees it). Views keep
// their slab alive; memory is never reused while anybody holds it. A connection starts with
// small slabs and moves to large ones once it has received a bulk body's worth of bytes, so
// the many connections that only carry small answers never hold large slabs.

const SMALL_SLAB_BYTES = 64 * 1024;
const LARGE_SLAB_BYTES = 256 * 1024;
/** Bytes received before a connection counts as carrying bulk data. */
const BULK_AFTER_BYTES = 256 * 1024;

export class ReadSlabs {
  private slab: Buffer | undefined;
  private offset = 0;
  private received = 0;

  /** Where the next read goes. */
  next(): Buffer {
    const size = this.received >= BULK_AFTER_BYTES ? LARGE_SLAB_BYTES : SMALL_SLAB_BYTES;
    // A read is never offered less than a quarter of a slab: the tail is left unused instead.
    if (this.slab === undefined || this.slab.length < size || this.slab.length - this.offset < size / 4) {
      this.slab = Buffer.allocUnsafeSlow(size);
      this.offset = 0;
    }
    return this.slab.subarray(this.offset);
  }

  /** The read put `bytes` bytes at the start of `region` (the last `next()`): keep them. */
  take(bytes: number, region: Uint8Array): Buffer {
    this.offset += bytes;
    this.received += bytes;
    return Buffer.from(region.buffer, region.byteOffset, bytes);
  }
}
