import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNats } from "../../infra/nats.ts";
import { provisionNats } from "../../infra/provision.ts";
import { KeyStore } from "../../access/key-store.ts";
import { Readers, isAdmin, mayRead } from "../../access/reader.ts";
import { generateKey, hashKey, keyIdOf, keyMatches } from "../../access/api-key.ts";
import { CreateKeyRequest } from "../../contracts/api-keys.ts";
import { startTestServices, type TestServices } from "../support/services.ts";
import { eventually } from "../support/retry.ts";

describe("API key text and hash", () => {
  it("names its id, matches only itself, and stores no secret", () => {
    const { id, key } = generateKey();
    expect(keyIdOf(key)).toBe(id);
    const stored = hashKey(key);
    expect(stored).not.toContain(key.slice(17));
    expect(keyMatches(key, stored)).toBe(true);
    expect(keyMatches(`${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`, stored)).toBe(false);
    expect(keyMatches(key, "sha256$00")).toBe(false);
    expect(keyIdOf("ffk_nothex000000_abcdefghijklmnopqrstuvwx")).toBeUndefined();
    expect(keyIdOf(`${key} `)).toBeUndefined();
  });

  it("refuses control and bidi characters in a key's name", () => {
    const ok = CreateKeyRequest.safeParse({ role: "viewer", sites: ["s1"], name: "Lobby wall — Été" });
    expect(ok.success).toBe(true);
    for (const name of ["wall\u202Eevil", "wall\nnext", "a\u0000b", "x\u2066y"]) {
      expect(CreateKeyRequest.safeParse({ role: "viewer", sites: ["s1"], name }).success).toBe(false);
    }
  });
});

describe("key store (real NATS KV ff_keys)", () => {
  let s: TestServices;
  beforeAll(async () => { s = await startTestServices({ influx: false }); });
  afterAll(async () => { await s?.stop(); });

  it("creates, verifies in another process's mirror, lists without secrets, revokes everywhere", async () => {
    const nc1 = await connectNats(s.natsUrl, "keys-a");
    const nc2 = await connectNats(s.natsUrl, "keys-b");
    await provisionNats(nc1, { leaseTtlMs: 10_000 });
    const a = await KeyStore.open(nc1);
    const b = await KeyStore.open(nc2);
    try {
      const viewer = await a.create({ role: "viewer", sites: ["mall"], name: "lobby wall" });
      const admin = await a.create({ role: "admin", sites: "*", name: "ops" });
      await eventually("the other mirror sees both keys", () => b.verify(viewer.key)?.id === viewer.id && b.verify(admin.key)?.id === admin.id);
      const readers = new Readers("the-admin-token", b);
      const pv = readers.authenticate(viewer.key)!;
      expect(mayRead(pv, "mall")).toBe(true);
      expect(mayRead(pv, "office")).toBe(false);
      expect(isAdmin(pv)).toBe(false);
      const pa = readers.authenticate(admin.key)!;
      expect(mayRead(pa, "office")).toBe(true);
      expect(isAdmin(pa)).toBe(true);
      expect(readers.authenticate("the-admin-token")).toEqual({ kind: "admin-token" });
      expect(readers.authenticate("the-admin-token ")).toBeUndefined();
      expect(readers.authenticate(viewer.key.replace(viewer.id, admin.id))).toBeUndefined();
      expect(b.verify(viewer.key, admin.id)).toBeUndefined();

      const listed = b.list();
      expect(listed.map((k) => k.id).sort()).toEqual([viewer.id, admin.id].sort());
      expect(JSON.stringify(listed)).not.toContain("sha256");
      expect(JSON.stringify(listed)).not.toContain(viewer.key);

      const revoked: string[] = [];
      b.onRevoked((id) => revoked.push(id));
      expect(await a.revoke(viewer.id)).toBe(true);
      expect(await a.revoke("000000000000")).toBe(false);
      await eventually("the other mirror drops the key", () => b.verify(viewer.key) === undefined);
      expect(revoked).toEqual([viewer.id]);
    } finally {
      a.close(); b.close();
      await nc1.close(); await nc2.close();
    }
  });
});

describe("presented secret", () => {
  it("reads a Bearer header first, else the ff_key cookie", async () => {
    const { presentedSecret } = await import("../../access/credential.ts");
    expect(presentedSecret({ authorization: "Bearer abc" })).toBe("abc");
    expect(presentedSecret({ authorization: "Basic abc", cookie: "ff_key=zzz" })).toBeUndefined();
    expect(presentedSecret({ cookie: "a=1; ff_key=ffk_x%5F; b=2" })).toBe("ffk_x_");
    expect(presentedSecret({ cookie: "ff_keyx=1" })).toBeUndefined();
    expect(presentedSecret({})).toBeUndefined();
  });
});
