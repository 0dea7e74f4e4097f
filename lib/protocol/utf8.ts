/**
 * UTF-8 checked as it streams by, a byte at a time or in chunks cut anywhere: what the WebSocket
 * decoder needs for text frames (RFC 6455 closes a connection that sends text that is not UTF-8),
 * without holding a message whole. Pure.
 */

/** Checks UTF-8 as it streams by: no overlongs, no surrogates, nothing past U+10FFFF. */
export class Utf8Validator {
  #need = 0;
  #lower = 0x80;
  #upper = 0xbf;

  /** Whether `bytes` continue valid UTF-8. */
  push(bytes: Uint8Array): boolean {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (this.#need === 0) {
        if (b < 0x80) continue;
        if (b >= 0xc2 && b <= 0xdf) this.#need = 1;
        else if (b >= 0xe0 && b <= 0xef) {
          this.#need = 2;
          if (b === 0xe0) this.#lower = 0xa0;
          if (b === 0xed) this.#upper = 0x9f;
        } else if (b >= 0xf0 && b <= 0xf4) {
          this.#need = 3;
          if (b === 0xf0) this.#lower = 0x90;
          if (b === 0xf4) this.#upper = 0x8f;
        } else return false;
      } else {
        if (b < this.#lower || b > this.#upper) return false;
        this.#lower = 0x80;
        this.#upper = 0xbf;
        this.#need--;
      }
    }
    return true;
  }

  /** Whether the text so far ends on a whole character; starts over for the next message. */
  end(): boolean {
    const whole = this.#need === 0;
    this.#need = 0;
    this.#lower = 0x80;
    this.#upper = 0xbf;
    return whole;
  }
}
