/** Size of the writes a blob store makes as it streams (in the file store, each a frame of the sealed file). */
const writeBytes = 64 * 1024;

/**
 * Joins small chunks (often a line each: items files, reports, manifests) into writes of about
 * 64 KB, so a file of 1,000 lines costs a few system calls (or an S3 upload a few buffers) rather
 * than a thousand.
 */
export async function* inLargeWrites(source: AsyncIterable<string | Uint8Array>): AsyncIterable<Buffer> {
  let parts: Buffer[] = [];
  // Consecutive string chunks are joined as text and made a Buffer once.
  let text = '';
  let size = 0;
  const keepText = () => {
    if (text) parts.push(Buffer.from(text));
    text = '';
  };
  const take = () => {
    keepText();
    const joined = Buffer.concat(parts);
    parts = [];
    size = 0;
    return joined;
  };
  for await (const chunk of source) {
    if (typeof chunk === 'string') {
      text += chunk;
    } else {
      keepText();
      parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
    size += chunk.length;
    if (size >= writeBytes) yield take();
  }
  if (size > 0) yield take();
}
