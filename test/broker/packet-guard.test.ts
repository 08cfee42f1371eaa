import { describe, expect, it } from "vitest";
import { PacketSizes } from "../../broker/packet-guard.ts";

/** MQTT variable byte integer. */
const varint = (n: number) => {
  const out: number[] = [];
  do { let b = n % 128; n = Math.floor(n / 128); if (n > 0) b |= 0x80; out.push(b); } while (n > 0);
  return out;
};
const packet = (type: number, body: number) => Buffer.from([type << 4, ...varint(body), ...new Array<number>(body).fill(0)]);

describe("PacketSizes: remaining lengths read from the fixed headers as bytes arrive", () => {
  it("passes packets within the limit, whatever the chunking", () => {
    const stream = Buffer.concat([packet(1, 300), packet(3, 0), packet(3, 1000), packet(12, 0), packet(3, 1999), packet(3, 2000)]);
    for (const size of [1, 2, 3, 7, 64, stream.length]) {
      const sizes = new PacketSizes(() => 2000);
      for (let i = 0; i < stream.length; i += size) expect(sizes.check(stream.subarray(i, i + size))).toBeUndefined();
    }
  });

  it("reports the first header above the limit before any of its body", () => {
    const sizes = new PacketSizes(() => 1000);
    expect(sizes.check(packet(1, 100))).toBeUndefined();
    const header = Buffer.from([0x30, ...varint(50 * 1024 * 1024)]);
    expect(sizes.check(header.subarray(0, 2))).toBeUndefined(); // length not complete yet
    expect(sizes.check(header.subarray(2))).toEqual({ reason: "too_large", type: 3, announced: 50 * 1024 * 1024, limit: 1000 });
  });

  it("asks the limit at each header (a small CONNECT, then the larger limit)", () => {
    let limit = 100;
    const sizes = new PacketSizes(() => limit);
    expect(sizes.check(packet(1, 90))).toBeUndefined();
    limit = 5000;
    expect(sizes.check(packet(3, 4000))).toBeUndefined();
    expect(sizes.check(packet(3, 5001).subarray(0, 3))).toMatchObject({ reason: "too_large", announced: 5001 });
  });

  it("reports a remaining length longer than four bytes as malformed", () => {
    expect(new PacketSizes(() => 1e9).check(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toMatchObject({ reason: "malformed" });
  });
});
