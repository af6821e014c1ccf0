/**
 * A card token sealed for the payment service: the gateway seals the token a checkout brings, the order
 * and its saga carry the sealed method as an opaque id, and only the payment service (which holds the
 * same key) opens it when it charges. So a checkout needs no call to the payment service before its
 * order is placed, and the order database holds no token it could read.
 *
 * `pms1.` base64url(iv ‖ AES-256-GCM(token) ‖ tag), bound to the customer (authenticated data): a sealed
 * method opens only for the customer it was sealed for. The iv is derived from the customer and the token
 * (a synthetic iv), so sealing the same token for the same customer gives the same id — a retried
 * checkout names the same method, which its idempotency check compares — and the same iv is never used
 * for two different plaintexts.
 */
import { Config, Effect, Redacted } from "effect"
import { createCipheriv, createDecipheriv, createHmac } from "node:crypto"

/**
 * `PAYMENT_METHOD_SEAL_KEY`: the secret the gateway seals card tokens with and the payment service opens
 * them with. The default only suits a laptop: set it anywhere else.
 */
export const paymentMethodSealKey = Config.redacted("PAYMENT_METHOD_SEAL_KEY").pipe(
  Config.withDefault(Redacted.make("commerce-mesh-local-payment-method-key")),
)

export const sealedPrefix = "pms1."
const ivBytes = 12
const tagBytes = 16

/** The secret's two keys: one encrypts, one derives ivs; neither is the secret itself. */
export interface SealKeys {
  readonly encryption: Buffer
  readonly iv: Buffer
}

export const sealKeys = (secret: Redacted.Redacted<string>): SealKeys => ({
  encryption: createHmac("sha256", Redacted.value(secret)).update("payment-method/encryption").digest(),
  iv: createHmac("sha256", Redacted.value(secret)).update("payment-method/iv").digest(),
})

export const isSealed = (paymentMethod: string) => paymentMethod.startsWith(sealedPrefix)

export const sealPaymentMethod = (keys: SealKeys, customer: string, token: string): string => {
  const iv = createHmac("sha256", keys.iv).update(`${customer}\u0000${token}`).digest().subarray(0, ivBytes)
  const cipher = createCipheriv("aes-256-gcm", keys.encryption, iv).setAAD(Buffer.from(customer))
  const sealed = Buffer.concat([iv, cipher.update(token, "utf8"), cipher.final(), cipher.getAuthTag()])
  return `${sealedPrefix}${sealed.toString("base64url")}`
}

/** The token inside, when `paymentMethod` was sealed with these keys for this customer; else undefined. */
export const openPaymentMethod = (keys: SealKeys, customer: string, paymentMethod: string): string | undefined => {
  if (!isSealed(paymentMethod)) return undefined
  const sealed = Buffer.from(paymentMethod.slice(sealedPrefix.length), "base64url")
  if (sealed.length <= ivBytes + tagBytes) return undefined
  try {
    const decipher = createDecipheriv("aes-256-gcm", keys.encryption, sealed.subarray(0, ivBytes))
      .setAAD(Buffer.from(customer))
      .setAuthTag(sealed.subarray(sealed.length - tagBytes))
    return Buffer.concat([
      decipher.update(sealed.subarray(ivBytes, sealed.length - tagBytes)),
      decipher.final(),
    ]).toString("utf8")
  } catch {
    // A tag that does not verify: another key, another customer, or altered bytes. Nothing to charge.
    return undefined
  }
}

/** Sealing and opening with the configured key, its keys derived once. */
export class PaymentMethodSeal extends Effect.Service<PaymentMethodSeal>()("platform/PaymentMethodSeal", {
  effect: Effect.map(paymentMethodSealKey, (secret) => {
    const keys = sealKeys(secret)
    return {
      seal: (customer: string, token: string) => sealPaymentMethod(keys, customer, token),
      open: (customer: string, paymentMethod: string) => openPaymentMethod(keys, customer, paymentMethod),
    } as const
  }),
}) {}
