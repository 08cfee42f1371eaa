import { z } from "zod";
import { SiteId } from "./ids.ts";

/**
 * API keys: who may read what. A key is shown once when created; the KV bucket ff_keys keeps
 * only its sha256 (keys are 144 random bits, so a fast hash suffices) under the key's id.
 *
 * Key text: "ffk_{id}_{secret}". The id is also the MQTT username of an integrator reading
 * footfall/v1/{site}/out/#, with the whole key as password.
 */
export const KEY_ID_RE = /^[a-f0-9]{12}$/;
export const KeyId = z.string().regex(KEY_ID_RE, "key id must be 12 hex characters");

export const KeyRole = z.enum(["viewer", "admin"]);
export type KeyRole = z.infer<typeof KeyRole>;

/** "*" = every site, present and future. */
export const KeySites = z.union([z.literal("*"), z.array(SiteId).min(1).max(1000)]);
export type KeySites = z.infer<typeof KeySites>;

/** A display name: printable text only (no control or bidi-override characters). */
export const DisplayName = z.string().min(1).max(200)
  // C0/C1 controls, and the bidi embeddings/overrides/isolates and marks that reorder what is shown
  .regex(/^[^\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*$/u, "must not contain control or bidi formatting characters");

/** POST /api/v1/keys */
export const CreateKeyRequest = z.strictObject({
  role: KeyRole,
  sites: KeySites,
  name: DisplayName,
});
export type CreateKeyRequest = z.infer<typeof CreateKeyRequest>;

/** What GET /api/v1/keys lists: everything but the secret. */
export const KeyView = z.strictObject({
  id: KeyId,
  name: z.string(),
  role: KeyRole,
  sites: KeySites,
  /** epoch ms */
  created: z.number().int(),
});
export type KeyView = z.infer<typeof KeyView>;

/** The value stored in KV ff_keys under the key's id. */
export const KeyRecord = KeyView.extend({
  /** "sha256$<hex>" of the whole key text */
  hash: z.string().regex(/^sha256\$[a-f0-9]{64}$/),
});
export type KeyRecord = z.infer<typeof KeyRecord>;

/** POST /api/v1/keys answers this once; the key is not kept anywhere. */
export const CreatedKey = z.strictObject({ id: KeyId, key: z.string() });
export type CreatedKey = z.infer<typeof CreatedKey>;
