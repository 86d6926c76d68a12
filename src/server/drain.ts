/**
 * Draining before shutdown. Once draining, readiness fails (a load balancer stops routing here), requests already
 * running finish, and new HTTP requests get 503 with `Connection: close` and `Retry-After` (the client retries
 * elsewhere: mutations are safe to retry, submitOrder by its clientOrderId) instead of a connection that is reset
 * when the listener closes. `settled()` resolves once nothing is in flight and no request has come for a short quiet
 * period (clients have taken the 503 and gone), or after a maximum wait.
 */
import type { NodeMiddleware } from './graphql-http';
import { sendJson } from './http-security';

export class Drain {
  draining = false;
  private inFlight = 0;
  private lastRequestAt = 0;

  readonly middleware: NodeMiddleware = (_req, res, next) => {
    this.lastRequestAt = Date.now();
    if (this.draining) {
      res.setHeader('connection', 'close');
      res.setHeader('retry-after', '1');
      sendJson(res, 503, { errors: [{ message: 'the gateway is shutting down; retry', extensions: { code: 'SERVICE_UNAVAILABLE' } }] });
      return;
    }
    this.inFlight++;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.inFlight--;
    };
    res.once('finish', finish);
    res.once('close', finish);
    next();
  };

  begin(): void {
    this.draining = true;
  }

  async settled(quietMs = 200, maxMs = 10_000): Promise<void> {
    const deadline = Date.now() + maxMs;
    while (Date.now() < deadline && (this.inFlight > 0 || Date.now() - this.lastRequestAt < quietMs)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
