/**
 * A repeating timer for a service's periodic work (expiry, escalation, incident-card flushes):
 * it never keeps the process alive on its own, and a failing round is reported, not thrown, so the
 * next round still comes.
 */
export function every(ms: number, round: () => void, onError: (err: unknown) => void): () => void {
  const timer = setInterval(() => {
    try {
      round();
    } catch (err) {
      onError(err);
    }
  }, ms);
  timer.unref();
  return () => clearInterval(timer);
}
