/**
 * When a request head still arriving is worth parsing again. A head can only complete where an
 * empty line ends, so between those the parser waits until the buffer has doubled since its last
 * try (a malformed head is still refused, at most at twice its bytes) or reached the size limit.
 * A client trickling a 16 KiB head one byte per read then costs a few dozen parses instead of
 * sixteen thousand (each of which rescans everything read so far). Pure.
 */
export function worthParsing(b: Buffer, lastParsedLen: number, maxHeaderBytes: number): boolean {
  if (lastParsedLen === 0 || b.length >= lastParsedLen * 2 || b.length >= maxHeaderBytes) return true;
  // The empty line may straddle the previous end: look from two bytes before it.
  const from = Math.max(0, lastParsedLen - 2);
  return b.indexOf('\n\n', from, 'latin1') >= 0 || b.indexOf('\n\r\n', from, 'latin1') >= 0;
}
