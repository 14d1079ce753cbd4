'use strict';
/**
 * The room connection (docs/protocol.md, version 1): one WebSocket, reconnecting by
 * itself with `since=<last seq>`, idempotent sends (each message keeps its id until
 * acknowledged and is resent with the same id after a reconnect), events delivered once
 * and in order. No DOM here: the UI modules set the on* callbacks.
 */

/** Close codes after which reconnecting cannot help. */
const FINAL_CLOSE_CODES = new Set([1009, 4400, 4401, 4403, 4404, 4410, 4423, 4429, 4430, 4431]);
/** The server closes the socket (1009) on a larger message; such a message is never sent. */
export const MAX_MESSAGE_BYTES = 65536;
const PING_EVERY_MS = 20000;
const PONG_TIMEOUT_MS = 10000;

/**
 * @typedef {{type: string, seq?: number, at?: string, actor?: number|null, data?: any}} RoomEvent
 * @typedef {{type: string, id?: string, code?: string, message?: string, field?: string}} RoomError
 * @typedef {'connecting'|'open'|'lobby'|'reconnecting'|'closed'} ConnectionState
 */

export class RoomConnection {
  /**
   * @param {string} url ws(s)://host/ws/sessions/<id>/ (without query)
   * @param {{version?: number}} [options]
   */
  constructor(url, options = {}) {
    this.url = url;
    this.version = options.version || 1;
    /** Highest event number applied; sent as `since` when reconnecting. */
    this.lastSeq = 0;
    this.joined = false;
    /** @type {Map<string, {message: object, resolve: Function, reject: Function}>} */
    this.pending = new Map();
    this.counter = 0;
    this.attempt = 0;
    this.stopped = false;
    /** @type {WebSocket|null} */
    this.socket = null;
    this.idPrefix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    /** @type {(snapshot: any) => void} */ this.onSnapshot = () => {};
    /** @type {(event: RoomEvent) => void} */ this.onEvent = () => {};
    /** @type {(message: any) => void} */ this.onEphemeral = () => {};
    /** @type {(error: RoomError) => void} */ this.onError = () => {};
    /** @type {(state: ConnectionState, detail?: {code?: number, reason?: string}) => void} */ this.onState = () => {};
    this.pingTimer = 0;
    this.pongTimer = 0;
  }

  /** Open the socket (again). */
  connect() {
    if (this.stopped) return;
    const query = new URLSearchParams({v: String(this.version)});
    if (this.joined) query.set('since', String(this.lastSeq));
    this.onState(this.attempt ? 'reconnecting' : 'connecting');
    const socket = new WebSocket(`${this.url}?${query}`);
    this.socket = socket;
    socket.addEventListener('message', (event) => this.receive(event.data));
    socket.addEventListener('close', (event) => this.closed(socket, event));
    socket.addEventListener('open', () => this.startHeartbeat());
  }

  /** Stop for good (leaving the page). */
  stop() {
    this.stopped = true;
    this.stopHeartbeat();
    if (this.socket) this.socket.close(1000);
  }

  /**
   * Send a message; resolves with the ack (`{seq}`), rejects with the error.
   * Unacknowledged messages are resent, with the same id, after a reconnect.
   * @param {string} type
   * @param {object} [fields]
   * @returns {Promise<{type: 'ack', id: string, seq: number|null}>}
   */
  send(type, fields = {}) {
    this.counter += 1;
    const id = `${this.idPrefix}-${this.counter}`;
    const message = {type, id, ...fields};
    if (new TextEncoder().encode(JSON.stringify(message)).length > MAX_MESSAGE_BYTES) {
      // Sending it would close the socket (1009) and a resend after reconnecting would
      // close it again: refuse it here, as the server would.
      const error = {type: 'error', id, code: 'too_large', message: ''};
      this.onError(error);
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, {message, resolve, reject});
      this.transmit(message);
    });
  }

  /** @param {object} message */
  transmit(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN && this.joined) {
      this.socket.send(JSON.stringify(message));
    }
  }

  /** @param {string} text */
  receive(text) {
    let message;
    try { message = JSON.parse(text); } catch { return; }
    this.lastHeard = Date.now();
    switch (message.type) {
      case 'snapshot':
        this.joined = true;
        this.attempt = 0;
        this.lastSeq = Math.max(this.lastSeq, message.seq || 0);
        for (const event of message.events || []) this.lastSeq = Math.max(this.lastSeq, event.seq || 0);
        this.onState('open');
        this.onSnapshot(message);
        for (const {message: queued} of this.pending.values()) this.transmit(queued);
        return;
      case 'lobby.waiting':
        if (message.seq === undefined) { this.attempt = 0; this.onState('lobby'); return; }
        break;
      case 'ack':
        this.settle(message.id, true, message);
        return;
      case 'error':
        if (message.id && this.pending.has(message.id)) this.settle(message.id, false, message);
        else this.onError(message);
        return;
      case 'pong':
        clearTimeout(this.pongTimer);
        return;
      default:
        break;
    }
    if (typeof message.seq === 'number') {
      if (message.seq <= this.lastSeq) return; // already applied (replay overlap)
      this.lastSeq = message.seq;
      this.onEvent(message);
    } else {
      this.onEphemeral(message);
    }
  }

  /**
   * @param {string} id
   * @param {boolean} ok
   * @param {any} message
   */
  settle(id, ok, message) {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    if (ok) entry.resolve(message);
    else { entry.reject(message); this.onError(message); }
  }

  /**
   * @param {WebSocket} socket
   * @param {CloseEvent} event
   */
  closed(socket, event) {
    if (socket !== this.socket) return;
    this.stopHeartbeat();
    if (this.stopped) { this.onState('closed', {code: event.code}); return; }
    if (FINAL_CLOSE_CODES.has(event.code)) {
      this.stopped = true;
      for (const entry of this.pending.values()) entry.reject({type: 'error', code: 'closed', message: ''});
      this.pending.clear();
      this.onState('closed', {code: event.code, reason: event.reason});
      return;
    }
    this.attempt += 1;
    const backoff = Math.min(10000, 500 * 2 ** Math.min(this.attempt - 1, 5));
    const delay = backoff / 2 + Math.random() * backoff / 2;
    this.onState('reconnecting', {code: event.code});
    setTimeout(() => this.connect(), delay);
  }

  startHeartbeat() {
    this.stopHeartbeat();
    this.pingTimer = window.setInterval(() => {
      if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
      this.socket.send(JSON.stringify({type: 'ping'}));
      clearTimeout(this.pongTimer);
      // A silent network (a phone changing cells) is noticed here, not minutes later.
      this.pongTimer = window.setTimeout(() => { if (this.socket) this.socket.close(4000); }, PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  stopHeartbeat() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }
}

/**
 * The socket URL for a path on this site.
 * @param {string} path
 */
export function socketUrl(path) {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${window.location.host}${path}`;
}
