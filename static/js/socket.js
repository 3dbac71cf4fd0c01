/**
 * The page's one WebSocket (docs/protocol.md): reconnects with full-jitter backoff, catches up by
 * seq after every (re)connect, and keeps an outbox of sends that stay pending until their ack.
 *
 * Events it dispatches (CustomEvent, data in `detail`):
 *   state          {state: 'connecting'|'open'|'offline'|'forbidden'|'closed'}
 *   welcome        the welcome frame
 *   event          a network event frame, once, in seq order
 *   subscribed     the subscribed frame
 *   notification   the notification object of a new notification frame, once, in user_seq order
 *   ack            the ack frame, plus the `body` that was sent
 *   send-failed    {clientId, networkId, body, code, message}: the server refused it for good
 *   send-delayed   {clientId, networkId, code}: it will be retried
 *   server-error   an error frame that answers no pending send
 */

import { redirectToLogin } from './api.js';
import { SeqStream } from './seq-stream.js';

const PING_INTERVAL_MS = 25_000;
const PONG_TIMEOUT_MS = 10_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const FLOOD_PAUSE_MS = 10_000;
const SEND_RETRY_MS = 3_000;
const RETRYABLE_SEND_ERRORS = new Set(['rate_limited', 'internal_error']);

const CLOSE_TOO_BIG = 1009;
const CLOSE_UNAUTHENTICATED = 4401;
const CLOSE_FORBIDDEN_ORIGIN = 4403;
const CLOSE_FLOOD = 4429;

/** A fresh client_id: 32 hex characters, inside the protocol's 8–64 of [A-Za-z0-9_-]. */
export function newClientId() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID().replaceAll('-', '');
  // randomUUID needs a secure context; getRandomValues does not.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** ws:// or wss:// URL of `path` on this page's host. */
export function socketUrl(path = '/ws') {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

/** Full jitter: a random delay between 0 and the capped exponential ceiling. */
export function backoffDelay(attempt) {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.random() * ceiling;
}

export class ChatSocket extends EventTarget {
  constructor({ url, userSeq = null }) {
    super();
    this.url = url;
    this.ws = null;
    this.state = 'idle';
    this.welcomed = false;
    this.stopped = false;
    this.attempt = 0;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.lastSentClientId = null;
    /** network_id → SeqStream of the networks this page follows */
    this.networks = new Map();
    /** client_id → {networkId, body}: sends that have no ack yet */
    this.outbox = new Map();
    // Without a known user_seq the welcome frame's is taken: old notifications are not news.
    this.notifications = new SeqStream(Number.isInteger(userSeq) ? userSeq : null, {
      apply: (frame) => this.emit('notification', frame.notification),
      resync: (lastSeq) => this.sendFrame({ type: 'sync_notifications', since_user_seq: lastSeq ?? 0 }),
    });
  }

  get connected() {
    return this.welcomed;
  }

  start() {
    window.addEventListener('online', () => this.reconnectNow());
    window.addEventListener('offline', () => this.dropConnection('browser went offline'));
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState !== 'visible') return;
      if (this.ws) this.ping();
      else this.reconnectNow();
    });
    // Close before the page is left, so that the browser can keep the page in its back/forward
    // cache and the status does not flash "offline" during navigation.
    window.addEventListener('pagehide', () => this.pause());
    window.addEventListener('pageshow', (event) => {
      if (event.persisted) this.resume();
    });
    this.connect();
  }

  /** Follow a network's events from `sinceSeq` on (null: only new events). */
  follow(networkId, sinceSeq) {
    const stream = new SeqStream(sinceSeq, {
      apply: (frame) => this.emit('event', frame),
      resync: (lastSeq) => {
        const frame = { type: 'subscribe', network_id: networkId };
        if (lastSeq !== null) frame.since_seq = lastSeq;
        this.sendFrame(frame);
      },
    });
    this.networks.set(networkId, stream);
    if (this.welcomed) stream.requestResync();
    return stream;
  }

  unfollow(networkId) {
    if (this.networks.delete(networkId) && this.welcomed) {
      this.sendFrame({ type: 'unsubscribe', network_id: networkId });
    }
  }

  /** Queue a message; it is (re)sent until acknowledged. Returns its client_id. */
  send(networkId, body) {
    const clientId = newClientId();
    const entry = { networkId, body };
    this.outbox.set(clientId, entry);
    if (this.welcomed) this.transmit(clientId, entry);
    return clientId;
  }

  /** Give up a pending send (the user removed it). A send already on the wire may still land. */
  discard(clientId) {
    this.outbox.delete(clientId);
  }

  /** Retry a send the server refused, with the same client_id. */
  retry(clientId, networkId, body) {
    const entry = { networkId, body };
    this.outbox.set(clientId, entry);
    if (this.welcomed) this.transmit(clientId, entry);
  }

  pendingFor(networkId) {
    return [...this.outbox].filter(([, entry]) => entry.networkId === networkId);
  }

  // ---- connection ----

  connect() {
    if (this.stopped) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.ws) return;
    this.setState('connecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (error) {
      console.error('Cannot open the WebSocket', error);
      this.setState('offline');
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.welcomed = false;
    ws.addEventListener('message', (event) => {
      if (this.ws !== ws) return;
      // A burst of frames arrives as one message, one frame per line (docs/protocol.md).
      for (const line of event.data.split('\n')) this.handleFrame(line);
    });
    ws.addEventListener('close', (event) => {
      if (this.ws === ws) this.handleClose(event.code, event.reason);
    });
  }

  reconnectNow() {
    if (this.stopped || this.ws) return;
    this.connect();
  }

  /** Leave the current socket for dead and reconnect (the browser may wait long to notice). */
  dropConnection(reason) {
    const ws = this.ws;
    if (!ws) return;
    console.info(`Dropping the WebSocket: ${reason}`);
    this.ws = null;
    try {
      ws.close(4000, reason.slice(0, 100));
    } catch (error) {
      console.warn('Closing the WebSocket failed', error);
    }
    this.handleClose(1006, reason);
  }

  pause() {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const ws = this.ws;
    this.ws = null;
    this.welcomed = false;
    this.stopHeartbeat();
    if (ws) ws.close(1000, 'page hidden');
  }

  resume() {
    this.stopped = false;
    this.attempt = 0;
    this.connect();
  }

  handleClose(code, reason) {
    this.ws = null;
    this.welcomed = false;
    this.stopHeartbeat();
    this.notifications.disconnected();
    for (const stream of this.networks.values()) stream.disconnected();
    if (this.stopped) return;

    if (code === CLOSE_UNAUTHENTICATED) {
      this.stopped = true;
      this.setState('closed');
      redirectToLogin();
      return;
    }
    if (code === CLOSE_FORBIDDEN_ORIGIN) {
      this.stopped = true;
      this.setState('forbidden');
      return;
    }
    if (code === CLOSE_TOO_BIG && this.lastSentClientId && this.outbox.has(this.lastSentClientId)) {
      // The protocol says not to resend the frame that was too large.
      this.fail(this.lastSentClientId, 'frame_too_large', reason || 'Frame too large');
    }
    this.setState('offline');
    this.scheduleReconnect(code === CLOSE_FLOOD ? FLOOD_PAUSE_MS : 0);
  }

  scheduleReconnect(minimumMs = 0) {
    if (this.stopped || this.reconnectTimer) return;
    const delay = Math.max(minimumMs, backoffDelay(this.attempt));
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  // ---- heartbeat ----

  startHeartbeat() {
    this.stopHeartbeat();
    this.pingTimer = setInterval(() => this.ping(), PING_INTERVAL_MS);
  }

  stopHeartbeat() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = null;
    this.pongTimer = null;
  }

  ping() {
    if (!this.sendFrame({ type: 'ping' }) || this.pongTimer) return;
    this.pongTimer = setTimeout(() => {
      this.pongTimer = null;
      this.dropConnection('no pong');
    }, PONG_TIMEOUT_MS);
  }

  // ---- frames ----

  sendFrame(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  transmit(clientId, entry) {
    this.lastSentClientId = clientId;
    this.sendFrame({ type: 'send', network_id: entry.networkId, client_id: clientId, body: entry.body });
  }

  handleFrame(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch (error) {
      console.error('Unreadable frame from the server', text, error);
      return;
    }
    // Any frame shows that the connection is alive.
    clearTimeout(this.pongTimer);
    this.pongTimer = null;
    switch (frame.type) {
      case 'welcome':
        this.onWelcome(frame);
        break;
      case 'event':
        this.networks.get(frame.network_id)?.offer(frame.seq, frame);
        break;
      case 'subscribed':
        this.networks.get(frame.network_id)?.synced();
        this.emit('subscribed', frame);
        break;
      case 'notification':
        this.notifications.offer(frame.user_seq, frame);
        break;
      case 'notifications_synced':
        this.notifications.synced();
        break;
      case 'ack':
        this.onAck(frame);
        break;
      case 'error':
        this.onError(frame);
        break;
      case 'pong':
      case 'unsubscribed':
      // The user logged out: the 4401 close that follows takes this page to the login.
      case 'session_ended':
        break;
      default:
        console.warn('Unknown frame type from the server', frame);
    }
  }

  onWelcome(frame) {
    this.welcomed = true;
    this.attempt = 0;
    this.setState('open');
    this.emit('welcome', frame);
    if (this.notifications.lastSeq === null && Number.isInteger(frame.user_seq)) {
      this.notifications.lastSeq = frame.user_seq;
    }
    this.notifications.requestResync();
    for (const stream of this.networks.values()) stream.requestResync();
    // Same client_id as before: the server stores each send once, however often it arrives.
    for (const [clientId, entry] of this.outbox) this.transmit(clientId, entry);
    this.startHeartbeat();
  }

  onAck(frame) {
    const entry = this.outbox.get(frame.client_id);
    this.outbox.delete(frame.client_id);
    this.emit('ack', { ...frame, body: entry?.body });
  }

  onError(frame) {
    const clientId = frame.ref;
    if (clientId && this.outbox.has(clientId)) {
      const entry = this.outbox.get(clientId);
      if (RETRYABLE_SEND_ERRORS.has(frame.code)) {
        this.emit('send-delayed', { clientId, networkId: entry.networkId, code: frame.code });
        setTimeout(() => {
          if (this.welcomed && this.outbox.get(clientId) === entry) this.transmit(clientId, entry);
        }, SEND_RETRY_MS);
        return;
      }
      this.fail(clientId, frame.code, frame.message);
      return;
    }
    console.warn('Error from the server', frame);
    this.emit('server-error', frame);
  }

  fail(clientId, code, message) {
    const entry = this.outbox.get(clientId);
    this.outbox.delete(clientId);
    this.emit('send-failed', { clientId, networkId: entry?.networkId, body: entry?.body, code, message });
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', { state });
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
