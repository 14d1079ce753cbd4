'use strict';
/**
 * Audio and video of a live room, over the room's own socket.
 *
 * One RTCPeerConnection per person, to the SFU (sessions/media). The browser always
 * makes the first offer (its camera and microphone if it may publish, else only a data
 * channel); the server answers, then sends its own offers whenever the streams this
 * person receives change (media.offer), which we answer. Every negotiation step (our
 * offers, the server's offers) runs one at a time in `serial`, so a screen share or a
 * floor grant never calls createOffer while the server's offer is being applied. Subscriptions are ours to
 * choose: everything, or audio only (the low-bandwidth switch). Video comes as the
 * original or as the server's shared low-resolution copy: the server picks from our
 * browser's bandwidth estimate (`media.quality` "auto", the default), unless the person
 * chooses "low quality video"; the server says which one we get (`media.quality` back).
 * When the host takes the floor back or mutes us, the server stops forwarding what we
 * send and says so (`media.unpublished`); we stop sending it. Protocol: see
 * sessions/media/signalling.py and docs/media.md.
 *
 * Nothing starts by itself: a person checks camera and microphone first, then joins.
 */

/** @typedef {{send: (message: object) => void}} Transport */
/** @typedef {{publisher: string, track: string, kind: string, source: string, mid?: string}} TrackInfo */

const QUALITY_INTERVAL_MS = 2000;
const GATHER_TIMEOUT_MS = 4000;
const REQUEST_TIMEOUT_MS = 20000;

/**
 * What to tell the person about the video they receive (server's `media.quality`).
 * @param {{video?: string, mode?: string}} message
 * @returns {{key: string, fallback: string}} a data-t-* key and its English text
 */
export function videoQualityLabel(message) {
  if (message.video === 'off') return { key: 'videoOff', fallback: 'Video: off (audio only)' };
  if (message.video === 'low' && message.mode === 'low') {
    return { key: 'videoLowChosen', fallback: 'Video: low quality, as you chose' };
  }
  if (message.video === 'low') {
    return { key: 'videoLowAuto', fallback: 'Video: low quality, because your connection is slow' };
  }
  return { key: 'videoHigh', fallback: 'Video: full quality' };
}

/** Why the server stopped forwarding what we send (`media.unpublished` reasons). */
const UNPUBLISHED_TEXT = {
  floor_revoked: ['floorRevoked', 'The host took the floor back: your camera and microphone are off.'],
  role_changed: ['roleChanged', 'You are no longer a presenter: your camera and microphone are off.'],
  muted: ['mutedByHost', 'The host muted you: your microphone is off.'],
};

/**
 * What a person is told for a media refusal (`media.error` code): a data-t-* key and
 * its English text. Codes a person can do nothing about get the general text; the
 * technical detail goes to the console, not the page.
 */
const ERROR_TEXT = {
  consent_required: ['consent', 'Audio and video start once the patient has consented.'],
  not_allowed_to_publish: ['notAllowed', 'You may watch and listen; the host can give you the floor to speak.'],
  muted: ['mutedByHost', 'The host muted you: your microphone is off.'],
  too_many_tracks: ['tooManyTracks', 'You are already sending a camera, a microphone and a screen.'],
  timeout: ['timeout', 'The media server did not answer; try again.'],
  media_unavailable: ['unavailable', 'Audio and video are not available right now; try again in a moment.'],
  room_closed: ['closed', 'Audio and video ended'],
  recording_not_allowed: ['recordingNotAllowed', 'This session may not be recorded.'],
  media_moved: ['reconnecting', 'Reconnecting audio and video…'],
};
const PROBLEM = ['problem', 'Audio and video ran into a problem. Leave and join again; if it happens again, reload the page.'];

/** Translated text from the page (data-t-* attributes), falling back to English. */
function text(root, key, fallback) {
  return root.dataset['t' + key.charAt(0).toUpperCase() + key.slice(1)] || fallback;
}

/**
 * Wait until ICE gathering is complete (or a few seconds passed), so the SDP we send
 * already carries our candidates and no trickling is needed.
 * @param {RTCPeerConnection} pc
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
 * @returns {'good'|'fair'|'poor'}
 */
export function qualityOf(lossRatio, jitterSeconds) {
  if (lossRatio > 0.08 || jitterSeconds > 0.1) return 'poor';
  if (lossRatio > 0.02 || jitterSeconds > 0.03) return 'fair';
  return 'good';
}

export class MediaSession {
  /**
   * @param {HTMLElement} root the media section of the room page
   * @param {Transport} transport sends a JSON message on the room socket
   */
  constructor(root, transport) {
    this.root = root;
    this.transport = transport;
    /** @type {RTCPeerConnection|null} */
    this.pc = null;
    this.me = root.dataset.participant || '';
    this.mayPublish = false;
    this.allowed = true;
    this.mayRecord = false;
    this.recording = false;
    this.lowBandwidth = root.dataset.dataSaver === '1';
    const connection = /** @type {any} */ (navigator).connection;
    /** The person's choice: the shared low-resolution copy of every video (else "auto"). */
    this.lowVideo = Boolean(connection && connection.saveData);
    /** @type {string|null} the last media.quality sent */
    this.sentQuality = null;
    this.relayOnly = root.dataset.relayOnly === '1';
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
    /** @type {Map<string, (message: object) => void>} */
    this.waiting = new Map();
    this.qualityTimer = 0;
    this.el = {
      check: root.querySelector('[data-media-check]'),
      preview: /** @type {HTMLVideoElement} */ (root.querySelector('[data-media-preview]')),
      meter: root.querySelector('[data-media-meter]'),
      joinSend: root.querySelector('[data-media-join-send]'),
      joinWatch: root.querySelector('[data-media-join-watch]'),
      checkButton: root.querySelector('[data-media-check-devices]'),
      stage: root.querySelector('[data-media-stage]'),
      tiles: root.querySelector('[data-media-tiles]'),
      controls: root.querySelector('[data-media-controls]'),
      mute: root.querySelector('[data-media-mute]'),
      camera: root.querySelector('[data-media-camera]'),
      screen: root.querySelector('[data-media-screen]'),
      low: /** @type {HTMLInputElement} */ (root.querySelector('[data-media-low]')),
      lowVideo: /** @type {HTMLInputElement} */ (root.querySelector('[data-media-low-video]')),
      view: root.querySelector('[data-media-view]'),
      record: root.querySelector('[data-media-record]'),
      leave: root.querySelector('[data-media-leave]'),
      // The room header's notice if the page has one (seen even without joining media).
      notice: document.getElementById('room-recording') || root.querySelector('[data-media-recording]'),
      status: root.querySelector('[data-media-status]'),
      myQuality: root.querySelector('[data-media-my-quality]'),
      videoQuality: root.querySelector('[data-media-video-quality]'),
    };
    if (this.el.low) this.el.low.checked = this.lowBandwidth;
    if (this.el.lowVideo) this.el.lowVideo.checked = this.lowVideo;
    this.bind();
  }

  bind() {
    const on = (element, handler) => element && element.addEventListener('click', (event) => {
      event.preventDefault();
      handler().catch((error) => this.problem(error));
    });
    on(this.el.checkButton, () => this.checkDevices());
    on(this.el.joinSend, () => this.join(true));
    on(this.el.joinWatch, () => this.join(false));
    on(this.el.mute, async () => this.toggleMute());
    on(this.el.camera, async () => this.toggleCamera());
    on(this.el.screen, () => this.toggleScreen());
    on(this.el.view, async () => this.toggleView());
    on(this.el.record, async () => this.toggleRecording());
    on(this.el.leave, async () => this.leave());
    if (this.el.low) {
      this.el.low.addEventListener('change', () => {
        this.setLowBandwidth(this.el.low.checked).catch((error) => this.problem(error));
      });
    }
    if (this.el.lowVideo) {
      this.el.lowVideo.addEventListener('change', () => this.setLowVideo(this.el.lowVideo.checked));
    }
    window.addEventListener('pagehide', () => { if (this.joined) this.send('media.leave', {}); });
  }

  // --------------------------------------------------------------- state from the room

  /**
   * The room snapshot's `media` part and its participant cards.
   * @param {{media?: object, participants?: Array<{user_id: number, name: string}>}} snapshot
   */
  applySnapshot(snapshot) {
    const media = snapshot.media || {};
    if (this.joined) {
      // The room socket reconnected: tell the worker where we are now (it then repeats
      // an offer we may have missed) and keep our subscriptions as they were.
      this.sentQuality = null;
      this.sendQuality();
      this.send('media.subscribe', { publisher: '*', kinds: this.lowBandwidth ? ['audio'] : ['audio', 'video'] });
    }
    this.mayPublish = Boolean(media.may_publish);
    this.allowed = media.allowed !== false;
    this.mayRecord = Boolean(media.may_record);
    this.me = media.participant || this.me;
    for (const card of snapshot.participants || []) this.names.set(String(card.user_id), card.name);
    this.setRecording(Boolean(media.recording));
    this.root.classList.toggle('may-publish', this.mayPublish);
    if (this.el.record) this.el.record.hidden = !this.mayRecord;
    if (this.el.joinSend) this.el.joinSend.hidden = !this.mayPublish;
    if (!this.allowed) this.say(text(this.root, 'consent', 'Audio and video start once the patient has consented.'));
  }

  /** Every message of the room socket passes here; media ones are handled. */
  receive(message) {
    if (!message || typeof message.type !== 'string') return;
    const type = message.type;
    if (message.reply_to && this.waiting.has(message.reply_to)) {
      const resolve = this.waiting.get(message.reply_to);
      this.waiting.delete(message.reply_to);
      resolve(message);
      if (type === 'media.answer' || type === 'media.error') return; // the waiting step handles it
    }
    if (type === 'snapshot') this.applySnapshot(message);
    else if (type === 'media.offer') this.onServerOffer(message).catch((error) => this.problem(error));
    else if (type === 'media.publications') this.onPublications(message.publications || []);
    else if (type === 'media.speaker') this.onSpeaker(message.participant);
    else if (type === 'media.closed') this.onClosed(message.reason);
    else if (type === 'media.quality') this.onQuality(message);
    else if (type === 'media.unpublished') this.onUnpublished(message);
    else if (type === 'participant.unmuted' && String((message.data || {}).user_id) === this.me) this.onUnmuted().catch(() => {});
    else if (type === 'media.error') this.refused(message);
    else if (type === 'media.recording') this.setRecording(Boolean((message.data || {}).active));
    else if (type === 'media.moved') this.onMoved(message.data || {}).catch((error) => this.problem(error));
    else if (type === 'floor.granted' || type === 'floor.revoked') this.onFloor(type, message.data || {});
    else if (type === 'presence') {
      for (const card of (message.data || {}).joined || []) this.names.set(String(card.user_id), card.name);
    }
  }

  /** Send on the room socket; returns the message id the server's reply will name. */
  send(type, fields) {
    this.counter += 1;
    const proposed = `m${Date.now().toString(36)}${this.counter}`;
    const id = this.transport.send({ type, id: proposed, ...fields });
    return typeof id === 'string' ? id : proposed;
  }

  /** Send and wait for the worker's reply (media.answer or media.error) to this message. */
  request(type, fields) {
    const id = this.send(type, fields);
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      setTimeout(() => {
        if (this.waiting.delete(id)) {
          resolve({ type: 'media.error', code: 'timeout', message: text(this.root, 'timeout', 'The media server did not answer; try again.') });
        }
      }, REQUEST_TIMEOUT_MS);
    });
  }

  say(message) {
    if (this.el.status) this.el.status.textContent = message;
  }

  /** A refusal from the server, in words the person can act on. */
  refused(message) {
    if (message.code === 'negotiation_in_progress') return; // handled by offer()
    console.warn('media refused', message.code, message.message);
    const [key, fallback] = ERROR_TEXT[message.code] || PROBLEM;
    this.say(text(this.root, key, fallback));
  }

  /** Something failed in the browser or the connection: a plain message, details in the console. */
  problem(error) {
    console.warn('media problem', error);
    this.root.dataset.problem = '1';
    this.say(text(this.root, PROBLEM[0], PROBLEM[1]));
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

  // ------------------------------------------------------------------ device check

  async checkDevices() {
    this.stopLocal();
    try {
      this.local = await navigator.mediaDevices.getUserMedia({
        audio: true, video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15 } },
      });
    } catch (error) {
      this.say(text(this.root, 'noDevices', 'No camera or microphone could be opened; you can still join to watch and listen.'));
      return;
    }
    if (this.el.preview) {
      this.el.preview.srcObject = this.local;
      this.el.preview.hidden = false;
    }
    this.meter(this.local);
    this.say(text(this.root, 'devicesOk', 'Camera and microphone work.'));
  }

  /** A microphone level bar, so a person sees the microphone hears them. */
  meter(stream) {
    const bar = this.el.meter;
    const AudioContextClass = window.AudioContext || window.webkitAudioContext;
    if (!bar || !AudioContextClass || !stream.getAudioTracks().length) return;
    const context = new AudioContextClass();
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(stream).connect(analyser);
    const data = new Uint8Array(analyser.fftSize);
    const draw = () => {
      if (!this.local) { context.close(); return; }
      analyser.getByteTimeDomainData(data);
      let peak = 0;
      for (const value of data) peak = Math.max(peak, Math.abs(value - 128));
      bar.value = Math.min(1, peak / 64);
      requestAnimationFrame(draw);
    };
    draw();
  }

  stopLocal() {
    if (this.local) for (const track of this.local.getTracks()) track.stop();
    this.local = null;
  }

  // ------------------------------------------------------------------------ joining

  async iceServers() {
    const url = this.root.dataset.iceUrl;
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

  /** @param {boolean} sending publish camera and microphone (if allowed) */
  async join(sending) {
    if (this.joined) return;
    this.sending = sending;
    if (!this.allowed) {
      this.say(text(this.root, 'consent', 'Audio and video start once the patient has consented.'));
      return;
    }
    const pc = new RTCPeerConnection({
      iceServers: await this.iceServers(),
      // Relay only: for networks that allow nothing but TURN (and for the TURN test).
      iceTransportPolicy: this.relayOnly || this.root.dataset.relayOnly === '1' ? 'relay' : 'all',
      bundlePolicy: 'max-bundle',
    });
    this.pc = pc;
    pc.addEventListener('track', (event) => this.onTrack(event));
    pc.addEventListener('connectionstatechange', () => {
      this.root.dataset.connection = pc.connectionState;
      if (pc.connectionState === 'failed') this.say(text(this.root, 'failed', 'The media connection failed. Leave and join again.'));
    });
    if (sending && this.mayPublish) {
      if (!this.local) await this.checkDevices();
      if (this.local) {
        for (const track of this.local.getTracks()) {
          const transceiver = pc.addTransceiver(track, { direction: 'sendonly', streams: [this.local] });
          this.localTransceivers.set(track.kind, transceiver);
        }
        if (this.lowBandwidth) this.pauseCamera(true);
      }
    } else {
      this.stopLocal();
    }
    pc.createDataChannel('control');
    this.joined = true;
    const answer = await this.offer();
    if (!answer || answer.type !== 'media.answer') {
      await this.leave();
      return;
    }
    this.root.classList.add('joined');
    if (this.el.check) this.el.check.hidden = true;
    if (this.el.stage) this.el.stage.hidden = false;
    if (this.el.controls) this.el.controls.hidden = false;
    this.updateButtons();
    this.sentQuality = null;
    this.sendQuality();
    this.send('media.subscribe', { publisher: '*', kinds: this.lowBandwidth ? ['audio'] : ['audio', 'video'] });
    this.qualityTimer = window.setInterval(() => this.measure().catch(() => {}), QUALITY_INTERVAL_MS);
  }

  /**
   * Our offer (after any negotiation step in progress); waits for the server's answer.
   * Returns the server's reply, or null if there is no connection any more.
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

  /** The server offers what we receive now: answer it (after any step in progress). */
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
      delete this.root.dataset.problem;
      this.renderTiles();
      if (this.pendingOffer) {
        this.pendingOffer = false;
        this.offer().catch((error) => this.problem(error));
      }
    });
  }

  onTrack(event) {
    const mid = event.transceiver && event.transceiver.mid;
    if (mid == null) return;
    this.renderTiles();
  }

  // -------------------------------------------------------------------------- tiles

  tileFor(publisher, source) {
    const key = `${publisher}:${source === 'screen' ? 'screen' : 'camera'}`;
    let tile = this.el.tiles.querySelector(`[data-tile="${CSS.escape(key)}"]`);
    if (!tile) {
      tile = document.createElement('figure');
      tile.className = 'media-tile';
      tile.dataset.tile = key;
      tile.dataset.publisher = publisher;
      tile.dataset.source = source === 'screen' ? 'screen' : 'camera';
      const video = document.createElement('video');
      video.autoplay = true;
      video.playsInline = true;
      video.muted = true; // sound plays through the audio element
      const audio = document.createElement('audio');
      audio.autoplay = true;
      const caption = document.createElement('figcaption');
      const name = document.createElement('span');
      name.className = 'media-name';
      const quality = document.createElement('span');
      quality.className = 'media-quality';
      quality.dataset.quality = 'unknown';
      caption.append(name, quality);
      tile.append(video, audio, caption);
      this.el.tiles.append(tile);
    }
    const name = this.names.get(publisher) || text(this.root, 'participant', 'Participant');
    tile.querySelector('.media-name').textContent = source === 'screen'
      ? `${name} · ${text(this.root, 'screenLabel', 'screen')}` : name;
    return tile;
  }

  /** Tiles follow what the server forwards to us (mid -> publisher, source). */
  renderTiles() {
    const pc = this.pc;
    if (!pc || !this.el.tiles) return;
    const wanted = new Set();
    for (const transceiver of pc.getTransceivers()) {
      const mid = transceiver.mid;
      if (mid == null || !this.incoming.has(String(mid))) continue;
      const info = this.incoming.get(String(mid));
      const source = info.kind === 'audio' ? 'camera' : info.source;
      const tile = this.tileFor(info.publisher, source);
      wanted.add(tile.dataset.tile);
      const track = transceiver.receiver.track;
      const element = info.kind === 'audio' ? tile.querySelector('audio') : tile.querySelector('video');
      if (!element.srcObject || element.srcObject.getTracks()[0] !== track) {
        element.srcObject = new MediaStream([track]);
        element.play().catch(() => {});
      }
      tile.classList.toggle('has-video', info.kind === 'video' || tile.classList.contains('has-video'));
    }
    for (const tile of [...this.el.tiles.querySelectorAll('.media-tile')]) {
      if (!wanted.has(tile.dataset.tile)) tile.remove();
    }
    this.onSpeaker(this.speaker);
  }

  onPublications(publications) {
    this.root.dataset.publications = String(publications.length);
    const sharing = publications.some((p) => p.source === 'screen');
    this.root.classList.toggle('screen-shared', sharing);
  }

  onSpeaker(participant) {
    this.speaker = participant || null;
    if (!this.el.tiles) return;
    for (const tile of this.el.tiles.querySelectorAll('.media-tile')) {
      tile.classList.toggle('speaking', Boolean(participant) && tile.dataset.publisher === participant && tile.dataset.source === 'camera');
    }
    const label = this.root.querySelector('[data-media-speaker]');
    if (label) label.textContent = participant ? (this.names.get(participant) || '') : '';
  }

  async toggleView() {
    const speakerView = this.root.classList.toggle('speaker-view');
    this.el.view.setAttribute('aria-pressed', String(speakerView));
  }

  // ----------------------------------------------------------------------- controls

  updateButtons() {
    const audio = this.localTransceivers.get('audio');
    const video = this.localTransceivers.get('video');
    const sending = Boolean(audio || video);
    for (const button of [this.el.mute, this.el.camera, this.el.screen]) if (button) button.hidden = !sending;
    if (this.el.mute && audio) this.el.mute.setAttribute('aria-pressed', String(!audio.sender.track || !audio.sender.track.enabled));
    if (this.el.camera && video) this.el.camera.setAttribute('aria-pressed', String(!video.sender.track));
    if (this.el.screen) this.el.screen.setAttribute('aria-pressed', String(Boolean(this.screenTrack)));
  }

  toggleMute() {
    const audio = this.localTransceivers.get('audio');
    if (audio && audio.sender.track) audio.sender.track.enabled = !audio.sender.track.enabled;
    this.updateButtons();
  }

  /** Stop or resume sending the camera without renegotiating (replaceTrack). */
  pauseCamera(paused) {
    const video = this.localTransceivers.get('video');
    const camera = this.local && this.local.getVideoTracks()[0];
    if (!video || !camera) return;
    video.sender.replaceTrack(paused ? null : camera);
  }

  toggleCamera() {
    const video = this.localTransceivers.get('video');
    if (video) this.pauseCamera(Boolean(video.sender.track));
    this.updateButtons();
  }

  async toggleScreen() {
    if (!this.pc) return;
    if (this.screenTrack) {
      this.screenTrack.stop();
      this.screenTrack = null;
      if (this.screenTransceiver) {
        await this.screenTransceiver.sender.replaceTrack(null);
        this.screenTransceiver.direction = 'inactive';
      }
      this.updateButtons();
      await this.offer();
      return;
    }
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 5 } }, audio: false });
    const track = stream.getVideoTracks()[0];
    track.contentHint = 'detail';
    track.addEventListener('ended', () => { if (this.screenTrack === track) this.toggleScreen(); });
    this.screenTrack = track;
    if (this.screenTransceiver) {
      await this.screenTransceiver.sender.replaceTrack(track);
      this.screenTransceiver.direction = 'sendonly';
    } else {
      this.screenTransceiver = this.pc.addTransceiver(track, { direction: 'sendonly' });
    }
    this.updateButtons();
    await this.offer();
  }

  /** Audio only: receive no video, send no camera. */
  async setLowBandwidth(on) {
    this.lowBandwidth = on;
    this.root.classList.toggle('low-bandwidth', on);
    if (!this.joined) return;
    this.pauseCamera(on);
    if (on) this.send('media.unsubscribe', { publisher: '*', kinds: ['video'] });
    else this.send('media.subscribe', { publisher: '*', kinds: ['audio', 'video'] });
    this.updateButtons();
  }

  /** What we ask the server for: the shared low copy when chosen, else its own choice. */
  videoQuality() {
    return this.lowVideo ? 'low' : 'auto';
  }

  /** Tell the server (only when it changed): media.quality {video: auto|low}. */
  sendQuality() {
    if (!this.joined) return;
    const quality = this.videoQuality();
    if (quality === this.sentQuality) return;
    this.sentQuality = quality;
    this.send('media.quality', { video: quality });
  }

  /** The server says which video we get now (and whether it chose it). */
  onQuality(message) {
    this.root.dataset.videoQuality = message.video || '';
    this.root.dataset.videoMode = message.mode || '';
    let label = this.el.videoQuality;
    if (!label && this.el.controls) {
      label = document.createElement('span');
      label.className = 'media-video-quality';
      label.dataset.mediaVideoQuality = '';
      label.setAttribute('role', 'status');
      this.el.controls.append(label);
      this.el.videoQuality = label;
    }
    if (label) {
      const { key, fallback } = videoQualityLabel(message);
      label.textContent = text(this.root, key, fallback);
      label.dataset.quality = message.video || '';
    }
  }

  /** The manual "low quality video" choice. */
  setLowVideo(on) {
    this.lowVideo = on;
    this.sendQuality();
  }

  async toggleRecording() {
    this.send('media.record', { action: this.recording ? 'stop' : 'start' });
  }

  setRecording(active) {
    this.recording = active;
    if (this.el.notice) this.el.notice.hidden = !active;
    this.root.classList.toggle('recording', active);
    if (this.el.record) {
      this.el.record.setAttribute('aria-pressed', String(active));
      this.el.record.textContent = active
        ? text(this.root, 'stopRecording', 'Stop recording') : text(this.root, 'startRecording', 'Record');
    }
  }

  onFloor(type, data) {
    if (String(data.user_id) !== this.me) return;
    this.mayPublish = type === 'floor.granted';
    if (this.mayPublish) delete this.root.dataset.publishing;
    this.root.classList.toggle('may-publish', this.mayPublish);
    if (this.el.joinSend) this.el.joinSend.hidden = !this.mayPublish;
    if (this.mayPublish) {
      this.say(text(this.root, 'floor', 'You have the floor: you may turn on your camera and microphone.'));
      if (this.joined && !this.localTransceivers.size) this.startSending().catch((error) => this.problem(error));
    } else if (this.localTransceivers.size) {
      for (const transceiver of this.localTransceivers.values()) {
        transceiver.sender.replaceTrack(null);
        transceiver.direction = 'inactive';
      }
      this.localTransceivers.clear();
      this.stopLocal();
      this.updateButtons();
      this.offer().catch(() => {});
    }
  }

  /**
   * The server stopped forwarding some of what we send (the host took the floor back,
   * demoted or muted us): stop sending it, offer again without it, and say why.
   * @param {{reason?: string, sources?: string[]}} message
   */
  onUnpublished(message) {
    const reason = message.reason || '';
    const [key, fallback] = UNPUBLISHED_TEXT[reason] || ['unpublished', 'The server stopped forwarding your camera and microphone.'];
    this.say(text(this.root, key, fallback));
    this.root.dataset.publishing = reason || 'stopped';
    const sources = new Set(message.sources || []);
    let changed = false;
    for (const [kind, transceiver] of [...this.localTransceivers]) {
      if (!sources.has(kind === 'audio' ? 'audio' : 'camera')) continue;
      const track = transceiver.sender.track;
      if (track) {
        track.stop();
        if (this.local) this.local.removeTrack(track);
      }
      transceiver.sender.replaceTrack(null);
      transceiver.direction = 'inactive';
      this.localTransceivers.delete(kind);
      changed = true;
    }
    if (sources.has('screen') && this.screenTrack) {
      this.screenTrack.stop();
      this.screenTrack = null;
      if (this.screenTransceiver) {
        this.screenTransceiver.sender.replaceTrack(null);
        this.screenTransceiver.direction = 'inactive';
      }
      changed = true;
    }
    if (reason !== 'muted' && reason !== '') {
      this.mayPublish = false;
      this.root.classList.remove('may-publish');
      if (this.el.joinSend) this.el.joinSend.hidden = true;
    }
    if (!this.localTransceivers.size) this.stopLocal();
    this.updateButtons();
    if (changed) this.offer().catch(() => {});
  }

  /** The host unmuted us: send the microphone again (if we were sending at all). */
  async onUnmuted() {
    if (this.root.dataset.publishing === 'muted') delete this.root.dataset.publishing;
    if (!this.pc || !this.mayPublish || this.localTransceivers.has('audio') || !this.localTransceivers.size) return;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      return;
    }
    const track = stream.getAudioTracks()[0];
    if (!track || !this.pc) return;
    if (this.local) this.local.addTrack(track);
    this.localTransceivers.set('audio', this.pc.addTransceiver(track, { direction: 'sendonly', streams: this.local ? [this.local] : [] }));
    this.updateButtons();
    await this.offer();
  }

  /** Given the floor while watching: add camera and microphone and offer again. */
  async startSending() {
    if (!this.pc) return;
    await this.checkDevices();
    if (!this.local) return;
    for (const track of this.local.getTracks()) {
      this.localTransceivers.set(track.kind, this.pc.addTransceiver(track, { direction: 'sendonly', streams: [this.local] }));
    }
    this.updateButtons();
    await this.offer();
  }

  /**
   * The media server carrying us is gone or being replaced (room event `media.moved`):
   * join again, the same way, on the worker the server places us on now. The room
   * socket stays; only audio and video reconnect. A replayed old move names another
   * worker and changes nothing.
   * @param {{worker?: string, reason?: string}} data
   */
  async onMoved(data) {
    if (!this.joined || !data.worker || String(data.worker) !== this.worker) return;
    const sending = this.sending && this.localTransceivers.size > 0;
    this.root.dataset.reconnecting = '1';
    this.say(text(this.root, 'reconnecting', 'Reconnecting audio and video…'));
    this.teardown();
    await this.join(sending);
    delete this.root.dataset.reconnecting;
    if (this.joined) this.say(text(this.root, 'reconnected', 'Audio and video are back.'));
  }

  onClosed(reason) {
    this.say(`${text(this.root, 'closed', 'Audio and video ended')} (${reason})`);
    this.teardown();
  }

  async leave() {
    if (this.joined) this.send('media.leave', {});
    this.teardown();
  }

  teardown() {
    window.clearInterval(this.qualityTimer);
    this.negotiation = Promise.resolve(); // a step of the old connection must not hold up a new one
    if (this.pc) this.pc.close();
    this.pc = null;
    this.joined = false;
    this.stopLocal();
    if (this.screenTrack) this.screenTrack.stop();
    this.screenTrack = null;
    this.screenTransceiver = null;
    this.localTransceivers.clear();
    this.incoming.clear();
    if (this.el.tiles) this.el.tiles.replaceChildren();
    if (this.el.check) this.el.check.hidden = false;
    if (this.el.controls) this.el.controls.hidden = true;
    this.root.classList.remove('joined');
  }

  // ------------------------------------------------------------------------ quality

  /** Per participant: loss and jitter of what we receive from them; ours from RTCP. */
  async measure() {
    if (!this.pc) return;
    const report = await this.pc.getStats();
    /** @type {Map<string, 'good'|'fair'|'poor'>} */
    const perPublisher = new Map();
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
      if (stat.type === 'remote-inbound-rtp' && this.el.myQuality) {
        const quality = qualityOf(stat.fractionLost || 0, stat.jitter || 0);
        this.el.myQuality.dataset.quality = quality;
        this.el.myQuality.textContent = text(this.root, `q${quality}`, quality);
      }
    });
    for (const tile of this.el.tiles.querySelectorAll('.media-tile')) {
      const quality = perPublisher.get(tile.dataset.publisher);
      const badge = tile.querySelector('.media-quality');
      if (quality && badge) {
        badge.dataset.quality = quality;
        badge.textContent = text(this.root, `q${quality}`, quality);
        badge.title = text(this.root, 'qualityTitle', 'Connection quality');
      }
    }
  }
}
