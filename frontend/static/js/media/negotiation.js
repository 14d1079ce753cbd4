'use strict';
/**
 * The negotiation of the page's media connection, without DOM (the lower half of
 * ./connection.js, which extends it; like Galène's protocol.js): one RTCPeerConnection
 * to the SFU, the messages on the room socket and the replies they wait for, and the
 * serial queue that runs every negotiation step (our offers, the server's offers) one at
 * a time, so a screen share or a floor grant never calls createOffer while the server's
 * offer is being applied. It also measures what we receive. It tells what happened as
 * events (MediaEvents); nothing here knows the page.
 */

/** @typedef {{send: (message: {type: string, id: string, [field: string]: any}) => string|void}} Transport */
/** @typedef {{publisher: string, track: string, kind: string, source: string, mid?: string}} TrackInfo */
/** @typedef {'good'|'fair'|'poor'} Quality */
/**
 * The events a MediaConnection dispatches (CustomEvent, `detail` as below):
 * @typedef {{
 *   say: {key: string, reason?: string},
 *   problem: {},
 *   rights: {},
 *   recording: {},
 *   buttons: {},
 *   tracks: {},
 *   answered: {},
 *   speaker: {},
 *   publications: {publications: Array<{source?: string}>},
 *   quality: {video?: string, mode?: string},
 *   stats: {perPublisher: Map<string, Quality>, mine: Quality|null},
 *   local: {stream: MediaStream},
 *   joined: {},
 *   left: {},
 *   connectionstate: {state: RTCPeerConnectionState},
 *   reconnecting: {active: boolean},
 * }} MediaEvents
 */

const GATHER_TIMEOUT_MS = 4000;
const REQUEST_TIMEOUT_MS = 20000;

/**
 * What a person is told for a media refusal (`media.error` code): a text key (./tiles.js
 * has the texts). Codes a person can do nothing about get the general text; the
 * technical detail goes to the console, not the page.
 */
const ERROR_KEY = {
  consent_required: 'consent',
  not_allowed_to_publish: 'notAllowed',
  muted: 'mutedByHost',
  too_many_tracks: 'tooManyTracks',
  timeout: 'timeout',
  media_unavailable: 'unavailable',
  media_full: 'full',
  room_closed: 'closed',
  recording_not_allowed: 'recordingNotAllowed',
  media_moved: 'reconnecting',
};

/**
 * Wait until ICE gathering is complete (or a few seconds passed), so the SDP we send
 * already carries our candidates and no trickling is needed.
 * @param {RTCPeerConnection} pc
 * @returns {Promise<void>}
 */
function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === 'complete') {
        pc.removeEventListener('icegatheringstatechange', done);
        resolve();
      }
    };
    pc.addEventListener('icegatheringstatechange', done);
    setTimeout(resolve, GATHER_TIMEOUT_MS);
  });
}

/**
 * Quality label from loss and jitter (the same scale for every participant).
 * @param {number} lossRatio 0..1 over the last interval
 * @param {number} jitterSeconds
 * @returns {Quality}
 */
export function qualityOf(lossRatio, jitterSeconds) {
  if (lossRatio > 0.08 || jitterSeconds > 0.1) return 'poor';
  if (lossRatio > 0.02 || jitterSeconds > 0.03) return 'fair';
  return 'good';
}

/** The state of the media connection and its negotiation; ./connection.js adds what the person does. */
export class Negotiation extends EventTarget {
  /**
   * @param {Transport} transport sends a JSON message on the room socket
   * @param {{participant?: string, lowBandwidth?: boolean, relayOnly?: boolean, iceUrl?: string}} [options]
   */
  constructor(transport, options = {}) {
    super();
    this.transport = transport;
    this.iceUrl = options.iceUrl || '';
    /** @type {RTCPeerConnection|null} */
    this.pc = null;
    this.me = options.participant || '';
    this.mayPublish = false;
    this.allowed = true;
    this.mayRecord = false;
    this.recording = false;
    /** Why the server stopped forwarding what we send ('' while it forwards it). */
    this.publishing = '';
    this.lowBandwidth = Boolean(options.lowBandwidth);
    const connection = /** @type {any} */ (navigator).connection;
    /** The person's choice: the shared low-resolution copy of every video (else "auto"). */
    this.lowVideo = Boolean(connection && connection.saveData);
    /** @type {string|null} the last media.quality sent */
    this.sentQuality = null;
    /** Relay only: for networks that allow nothing but TURN (and for the TURN test). */
    this.relayOnly = Boolean(options.relayOnly);
    /** @type {MediaStream|null} */
    this.local = null;
    /** @type {MediaStreamTrack|null} */
    this.screenTrack = null;
    /** @type {RTCRtpTransceiver|null} */
    this.screenTransceiver = null;
    /** @type {Map<string, RTCRtpTransceiver>} */
    this.localTransceivers = new Map();
    /** @type {Map<string, TrackInfo>} mid of a received track -> what it is */
    this.incoming = new Map();
    /** @type {Map<string, {lost: number, received: number}>} */
    this.lastCounters = new Map();
    /** @type {Map<string, string>} participant id -> name */
    this.names = new Map();
    /** @type {string|null} */
    this.speaker = null;
    this.joined = false;
    /** @type {string} the media worker carrying our connection (named in media.answer) */
    this.worker = '';
    /** Whether we joined sending (so a move to another worker joins the same way). */
    this.sending = false;
    this.pendingOffer = false;
    /** @type {Promise<unknown>} the negotiation step running now; the next waits for it */
    this.negotiation = Promise.resolve();
    this.counter = 0;
    /** @type {Map<string, (message: any) => void>} */
    this.waiting = new Map();
    this.qualityTimer = 0;
  }

  /**
   * @template {keyof MediaEvents} K
   * @param {K} type
   * @param {MediaEvents[K]} [detail]
   */
  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail: detail || {} }));
  }

  /**
   * @template {keyof MediaEvents} K
   * @param {K} type
   * @param {(detail: MediaEvents[K]) => void} handler
   */
  on(type, handler) {
    this.addEventListener(type, (event) => handler(/** @type {CustomEvent} */ (event).detail));
  }

  /** @param {string} key what to tell the person (a text key of ./tiles.js) @param {string} [reason] */
  say(key, reason) {
    this.emit('say', reason === undefined ? { key } : { key, reason });
  }

  /**
   * Send on the room socket; returns the message id the server's reply will name.
   * @param {string} type
   * @param {object} fields
   */
  send(type, fields) {
    this.counter += 1;
    const proposed = `m${Date.now().toString(36)}${this.counter}`;
    const id = this.transport.send({ type, id: proposed, ...fields });
    return typeof id === 'string' ? id : proposed;
  }

  /**
   * Send and wait for the worker's reply (media.answer or media.error) to this message.
   * @param {string} type
   * @param {object} fields
   * @returns {Promise<any>}
   */
  request(type, fields) {
    const id = this.send(type, fields);
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      setTimeout(() => {
        if (this.waiting.delete(id)) {
          resolve({ type: 'media.error', code: 'timeout', message: 'The media server did not answer.' });
        }
      }, REQUEST_TIMEOUT_MS);
    });
  }

  /**
   * A refusal from the server, in words the person can act on.
   * @param {{code?: string, message?: string}} message
   */
  refused(message) {
    if (message.code === 'negotiation_in_progress') return; // handled by offer()
    console.warn('media refused', message.code, message.message);
    this.say(ERROR_KEY[message.code] || 'problem');
  }

  /**
   * Something failed in the browser or the connection: a plain message, details in the console.
   * @param {unknown} error
   */
  problem(error) {
    console.warn('media problem', error);
    this.emit('problem');
    this.say('problem');
  }

  /**
   * Run one negotiation step after the one running now (ours or the server's), so two
   * never overlap: the browser refuses createOffer while a remote offer is applied.
   * @template T
   * @param {() => Promise<T>} step
   * @returns {Promise<T>}
   */
  serial(step) {
    const run = this.negotiation.then(step, step);
    this.negotiation = run.catch(() => {});
    return run;
  }

  stopLocal() {
    if (this.local) for (const track of this.local.getTracks()) track.stop();
    this.local = null;
  }

  async iceServers() {
    const url = this.iceUrl;
    if (!url) return [];
    try {
      const response = await fetch(url, { credentials: 'same-origin' });
      if (!response.ok) return [];
      const body = await response.json();
      return body.ice_servers || [];
    } catch (error) {
      return [];
    }
  }

  /**
   * Our offer (after any negotiation step in progress); waits for the server's answer.
   * Returns the server's reply, or null if there is no connection any more.
   * @returns {Promise<any>}
   */
  offer() {
    return this.serial(async () => {
      const pc = this.pc;
      if (!pc || pc.signalingState === 'closed') return null;
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const screenMids = this.screenTransceiver && this.screenTransceiver.mid ? [this.screenTransceiver.mid] : [];
      const reply = await this.request('media.offer', { sdp: pc.localDescription.sdp, screen_mids: screenMids });
      if (pc !== this.pc) return null; // left (or moved to another worker) meanwhile
      if (reply.type === 'media.answer') {
        await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp });
        if (reply.worker) this.worker = String(reply.worker);
        return reply;
      }
      if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
      if (reply.code === 'negotiation_in_progress') {
        // The server's own offer crossed ours and is queued behind this step: answer it,
        // then offer again (onServerOffer does).
        this.pendingOffer = true;
      } else {
        this.refused(reply);
      }
      return reply;
    });
  }

  /**
   * The server offers what we receive now: answer it (after any step in progress).
   * @param {{sdp: string, tracks?: TrackInfo[]}} message
   */
  onServerOffer(message) {
    return this.serial(async () => {
      const pc = this.pc;
      if (!pc || pc.signalingState === 'closed') return;
      for (const info of message.tracks || []) if (info.mid != null) this.incoming.set(String(info.mid), info);
      const active = new Set((message.tracks || []).map((info) => String(info.mid)));
      for (const mid of [...this.incoming.keys()]) if (!active.has(mid)) this.incoming.delete(mid);
      await pc.setRemoteDescription({ type: 'offer', sdp: message.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      this.send('media.answer', { sdp: pc.localDescription.sdp });
      this.emit('answered');
      if (this.pendingOffer) {
        this.pendingOffer = false;
        this.offer().catch((error) => this.problem(error));
      }
    });
  }

  /** @param {RTCTrackEvent} event */
  onTrack(event) {
    const mid = event.transceiver && event.transceiver.mid;
    if (mid == null) return;
    this.emit('tracks');
  }

  /** Per participant: loss and jitter of what we receive from them; ours from RTCP. */
  async measure() {
    if (!this.pc) return;
    const report = await this.pc.getStats();
    /** @type {Map<string, Quality>} */
    const perPublisher = new Map();
    /** @type {Quality|null} */
    let mine = null;
    const rank = { good: 0, fair: 1, poor: 2 };
    report.forEach((stat) => {
      if (stat.type === 'inbound-rtp' && stat.mid != null && this.incoming.has(String(stat.mid))) {
        const info = this.incoming.get(String(stat.mid));
        const last = this.lastCounters.get(stat.id) || { lost: 0, received: 0 };
        const lost = (stat.packetsLost || 0) - last.lost;
        const received = (stat.packetsReceived || 0) - last.received;
        this.lastCounters.set(stat.id, { lost: stat.packetsLost || 0, received: stat.packetsReceived || 0 });
        const quality = qualityOf(lost + received > 0 ? Math.max(0, lost) / (lost + received) : 0, stat.jitter || 0);
        const known = perPublisher.get(info.publisher);
        if (!known || rank[quality] > rank[known]) perPublisher.set(info.publisher, quality);
      }
      if (stat.type === 'remote-inbound-rtp') mine = qualityOf(stat.fractionLost || 0, stat.jitter || 0);
    });
    this.emit('stats', { perPublisher, mine });
  }
}
