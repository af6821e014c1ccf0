/**
 * The Redis pub/sub channels the user service announces changes on, so caches elsewhere (the gateway's
 * sessions and addresses) drop what they remembered at once instead of waiting for it to expire. The
 * message is the id of what changed.
 */

/** A session ended (logout) or its roles changed; the message is the session's id. */
export const sessionsChangedChannel = "user:sessions:changed"

/** A user's saved addresses changed (added, removed, a new default); the message is the user's id. */
export const addressesChangedChannel = "user:addresses:changed"
