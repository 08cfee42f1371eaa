const decoder = new TextDecoder();

/** The JSON value of `input` (text, or UTF-8 bytes), or undefined when it is not JSON. */
export function safeJson(input: string | Uint8Array): unknown {
  try {
    return JSON.parse(typeof input === "string" ? input : decoder.decode(input));
  } catch {
    return undefined;
  }
}
