/** The one kafkajs internal src/events/kafkajs-request-queue.ts patches (kafkajs ships no types for it). */
declare module "kafkajs/src/network/requestQueue/index.js" {
  interface RequestQueue {
    readonly pending: ReadonlyArray<unknown>
    scheduleCheckPendingRequests(): void
  }
  const RequestQueue: { readonly prototype: RequestQueue }
  export default RequestQueue
}
