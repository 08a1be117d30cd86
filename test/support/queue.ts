/**
 * The embedded queue for tests: the local stack's own fauxqs setup (FIFO
 * queue plus FIFO DLQ with redrive), listening on 127.0.0.1 only.
 */
export {
  startEmbeddedQueue,
  type EmbeddedQueue,
  type EmbeddedQueueOptions,
} from '../../local/queue.js';
