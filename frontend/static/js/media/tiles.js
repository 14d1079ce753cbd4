'use strict';
/**
 * The media section of the room page (templates/media/room_media.html): the device
 * check, the video tiles, the buttons and the status line. It drives a MediaConnection
 * (./connection.js, no DOM) and shows what that connection tells as events; the
 * connection never imports this module.
 *
 * Texts come from the page (data-t-* attributes on the section, translated by the
 * template), falling back to the English below.
 */

import { MediaConnection } from './connection.js';

/** The English of each text key (the page's data-t-* attribute wins). */
const TEXT = {
  consent: 'Audio and video start once the patient has consented.',
  notAllowed: 'You may watch and listen; the host can give you the floor to speak.',
  mutedByHost: 'The host muted you: your microphone is off.',
  tooManyTracks: 'You are already sending a camera, a microphone and a screen.',
  timeout: 'The media server did not answer; try again.',
  unavailable: 'Audio and video are not available right now; try again in a moment.',
  full: 'The room’s audio and video are full.',
  closed: 'Audio and video ended',
  recordingNotAllowed: 'This session may not be recorded.',
  reconnecting: 'Reconnecting audio and video…',
  reconnected: 'Audio and video are back.',
  problem: 'Audio and video ran into a problem. Leave and join again; if it happens again, reload the page.',
  floorRevoked: 'The host took the floor back: your camera and microphone are off.',
  roleChanged: 'You are no longer a presenter: your camera and microphone are off.',
  unpublished: 'The server stopped forwarding your camera and microphone.',
  floor: 'You have the floor: you may turn on your camera and microphone.',
  noDevices: 'No camera or microphone could be opened; you can still join to watch and listen.',
  devicesOk: 'Camera and microphone work.',
  failed: 'The media connection failed. Leave and join again.',
  participant: 'Participant',
  screenLabel: 'screen',
  startRecording: 'Record',
  stopRecording: 'Stop recording',
  qualityTitle: 'Connection quality',
};

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

/**
 * Translated text from the page (data-t-* attributes), falling back to English.
 * @param {HTMLElement} root
 * @param {string} key
 * @param {string} [fallback] (else the English of TEXT)
 */
function text(root, key, fallback) {
  return root.dataset['t' + key.charAt(0).toUpperCase() + key.slice(1)] || fallback || TEXT[key] || key;
}

export class MediaTiles {
  /**
   * @param {HTMLElement} root the media section of the room page
   * @param {MediaConnection} connection
   */
  constructor(root, connection) {
    this.root = root;
    this.connection = connection;
    /** @param {string} name the element's data-media-<name> attribute */
    const find = (name) => /** @type {HTMLElement|null} */ (root.querySelector(`[data-media-${name}]`));
    this.el = {
      check: find('check'), checkButton: find('check-devices'), joinSend: find('join-send'), joinWatch: find('join-watch'),
      stage: find('stage'), tiles: find('tiles'), controls: find('controls'), status: find('status'),
      mute: find('mute'), camera: find('camera'), screen: find('screen'), view: find('view'), record: find('record'), leave: find('leave'),
      myQuality: find('my-quality'), videoQuality: find('video-quality'),
      preview: /** @type {HTMLVideoElement|null} */ (find('preview')),
      meter: /** @type {HTMLMeterElement|null} */ (find('meter')),
      low: /** @type {HTMLInputElement|null} */ (find('low')),
      lowVideo: /** @type {HTMLInputElement|null} */ (find('low-video')),
      // The room header's notice if the page has one (seen even without joining media).
      notice: document.getElementById('room-recording') || find('recording'),
    };
    if (this.el.low) this.el.low.checked = connection.lowBandwidth;
    if (this.el.lowVideo) this.el.lowVideo.checked = connection.lowVideo;
    this.bind();
    this.listen();
  }

  bind() {
    const media = this.connection;
    /** @param {HTMLElement|null} element @param {() => Promise<unknown>} handler */
    const on = (element, handler) => element && element.addEventListener('click', (event) => {
      event.preventDefault();
      handler().catch((error) => media.problem(error));
    });
    on(this.el.checkButton, () => media.checkDevices());
    on(this.el.joinSend, () => this.join(true));
    on(this.el.joinWatch, () => this.join(false));
    on(this.el.mute, async () => media.toggleMute());
    on(this.el.camera, async () => media.toggleCamera());
    on(this.el.screen, () => media.toggleScreen());
    on(this.el.view, async () => this.toggleView());
    on(this.el.record, async () => media.toggleRecording());
    on(this.el.leave, async () => media.leave());
    const low = this.el.low;
    if (low) {
      low.addEventListener('change', () => {
        this.root.classList.toggle('low-bandwidth', low.checked);
        media.setLowBandwidth(low.checked).catch((error) => media.problem(error));
      });
    }
    const lowVideo = this.el.lowVideo;
    if (lowVideo) lowVideo.addEventListener('change', () => media.setLowVideo(lowVideo.checked));
    window.addEventListener('pagehide', () => { if (media.joined) media.send('media.leave', {}); });
  }

  /** What the connection tells, shown. */
  listen() {
    const media = this.connection;
    media.on('say', ({ key, reason }) => {
      this.say(reason === undefined ? text(this.root, key) : `${text(this.root, key)} (${reason})`);
    });
    media.on('problem', () => { this.root.dataset.problem = '1'; });
    media.on('answered', () => { delete this.root.dataset.problem; this.renderTiles(); });
    media.on('tracks', () => this.renderTiles());
    media.on('rights', () => this.showRights());
    media.on('recording', () => this.showRecording());
    media.on('buttons', () => this.updateButtons());
    media.on('speaker', () => this.showSpeaker());
    media.on('publications', ({ publications }) => {
      this.root.dataset.publications = String(publications.length);
      this.root.classList.toggle('screen-shared', publications.some((p) => p.source === 'screen'));
    });
    media.on('quality', (message) => this.showVideoQuality(message));
    media.on('stats', ({ perPublisher, mine }) => this.showStats(perPublisher, mine));
    media.on('local', ({ stream }) => {
      if (this.el.preview) {
        this.el.preview.srcObject = stream;
        this.el.preview.hidden = false;
      }
      this.meter(stream);
    });
    media.on('connectionstate', ({ state }) => { this.root.dataset.connection = state; });
    media.on('reconnecting', ({ active }) => {
      if (active) this.root.dataset.reconnecting = '1';
      else delete this.root.dataset.reconnecting;
    });
    media.on('joined', () => {
      this.root.classList.add('joined');
      if (this.el.check) this.el.check.hidden = true;
      if (this.el.stage) this.el.stage.hidden = false;
      if (this.el.controls) this.el.controls.hidden = false;
    });
    media.on('left', () => {
      if (this.el.tiles) this.el.tiles.replaceChildren();
      if (this.el.check) this.el.check.hidden = false;
      if (this.el.controls) this.el.controls.hidden = true;
      this.root.classList.remove('joined');
    });
  }

  /** @param {boolean} sending */
  join(sending) {
    // Relay only: for networks that allow nothing but TURN (and for the TURN test).
    if (this.root.dataset.relayOnly === '1') this.connection.relayOnly = true;
    return this.connection.join(sending);
  }

  /** @param {string} message */
  say(message) {
    if (this.el.status) this.el.status.textContent = message;
  }

  /**
   * A microphone level bar, so a person sees the microphone hears them.
   * @param {MediaStream} stream
   */
  meter(stream) {
    const bar = this.el.meter;
    const AudioContextClass = window.AudioContext || /** @type {any} */ (window).webkitAudioContext;
    if (!bar || !AudioContextClass || !stream.getAudioTracks().length) return;
    const context = new AudioContextClass();
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(stream).connect(analyser);
    const data = new Uint8Array(analyser.fftSize);
    const draw = () => {
      if (!this.connection.local) { context.close(); return; }
      analyser.getByteTimeDomainData(data);
      let peak = 0;
      for (const value of data) peak = Math.max(peak, Math.abs(value - 128));
      bar.value = Math.min(1, peak / 64);
      requestAnimationFrame(draw);
    };
    draw();
  }

  /** Whether this person may send and record, and why the server stopped what they sent. */
  showRights() {
    const media = this.connection;
    if (media.publishing) this.root.dataset.publishing = media.publishing;
    else delete this.root.dataset.publishing;
    this.root.classList.toggle('may-publish', media.mayPublish);
    if (this.el.record) this.el.record.hidden = !media.mayRecord;
    if (this.el.joinSend) this.el.joinSend.hidden = !media.mayPublish;
  }

  showRecording() {
    const active = this.connection.recording;
    if (this.el.notice) this.el.notice.hidden = !active;
    this.root.classList.toggle('recording', active);
    if (this.el.record) {
      this.el.record.setAttribute('aria-pressed', String(active));
      this.el.record.textContent = active ? text(this.root, 'stopRecording') : text(this.root, 'startRecording');
    }
  }

  // -------------------------------------------------------------------------- tiles

  /**
   * @param {string} publisher
   * @param {string} source
   * @returns {HTMLElement}
   */
  tileFor(publisher, source) {
    const key = `${publisher}:${source === 'screen' ? 'screen' : 'camera'}`;
    let tile = /** @type {HTMLElement|null} */ (this.el.tiles.querySelector(`[data-tile="${CSS.escape(key)}"]`));
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
    const name = this.connection.names.get(publisher) || text(this.root, 'participant');
    tile.querySelector('.media-name').textContent = source === 'screen'
      ? `${name} · ${text(this.root, 'screenLabel')}` : name;
    return tile;
  }

  /** @returns {HTMLElement[]} */
  tiles() {
    return this.el.tiles ? /** @type {HTMLElement[]} */ ([...this.el.tiles.querySelectorAll('.media-tile')]) : [];
  }

  /** Tiles follow what the server forwards to us (mid -> publisher, source). */
  renderTiles() {
    const { pc, incoming } = this.connection;
    if (!pc || !this.el.tiles) return;
    const wanted = new Set();
    for (const transceiver of pc.getTransceivers()) {
      const mid = transceiver.mid;
      if (mid == null || !incoming.has(String(mid))) continue;
      const info = incoming.get(String(mid));
      const source = info.kind === 'audio' ? 'camera' : info.source;
      const tile = this.tileFor(info.publisher, source);
      wanted.add(tile.dataset.tile);
      const track = transceiver.receiver.track;
      const element = /** @type {HTMLMediaElement} */ (tile.querySelector(info.kind === 'audio' ? 'audio' : 'video'));
      const shown = /** @type {MediaStream|null} */ (element.srcObject);
      if (!shown || shown.getTracks()[0] !== track) {
        element.srcObject = new MediaStream([track]);
        element.play().catch(() => {});
      }
      tile.classList.toggle('has-video', info.kind === 'video' || tile.classList.contains('has-video'));
    }
    for (const tile of this.tiles()) {
      if (!wanted.has(tile.dataset.tile)) tile.remove();
    }
    this.showSpeaker();
  }

  showSpeaker() {
    const participant = this.connection.speaker;
    if (!this.el.tiles) return;
    for (const tile of this.tiles()) {
      tile.classList.toggle('speaking', Boolean(participant) && tile.dataset.publisher === participant && tile.dataset.source === 'camera');
    }
    const label = this.root.querySelector('[data-media-speaker]');
    if (label) label.textContent = participant ? (this.connection.names.get(participant) || '') : '';
  }

  async toggleView() {
    const speakerView = this.root.classList.toggle('speaker-view');
    this.el.view.setAttribute('aria-pressed', String(speakerView));
  }

  // ----------------------------------------------------------------------- controls

  updateButtons() {
    const { localTransceivers, screenTrack } = this.connection;
    const audio = localTransceivers.get('audio');
    const video = localTransceivers.get('video');
    const sending = Boolean(audio || video);
    for (const button of [this.el.mute, this.el.camera, this.el.screen]) if (button) button.hidden = !sending;
    if (this.el.mute && audio) this.el.mute.setAttribute('aria-pressed', String(!audio.sender.track || !audio.sender.track.enabled));
    if (this.el.camera && video) this.el.camera.setAttribute('aria-pressed', String(!video.sender.track));
    if (this.el.screen) this.el.screen.setAttribute('aria-pressed', String(Boolean(screenTrack)));
  }

  /**
   * The server says which video we get now (and whether it chose it).
   * @param {{video?: string, mode?: string}} message
   */
  showVideoQuality(message) {
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

  /**
   * Quality badges: ours beside the controls, each publisher's on their tiles.
   * @param {Map<string, import('./connection.js').Quality>} perPublisher
   * @param {import('./connection.js').Quality|null} mine
   */
  showStats(perPublisher, mine) {
    if (mine && this.el.myQuality) {
      this.el.myQuality.dataset.quality = mine;
      this.el.myQuality.textContent = text(this.root, `q${mine}`, mine);
    }
    for (const tile of this.tiles()) {
      const quality = perPublisher.get(tile.dataset.publisher);
      const badge = /** @type {HTMLElement|null} */ (tile.querySelector('.media-quality'));
      if (quality && badge) {
        badge.dataset.quality = quality;
        badge.textContent = text(this.root, `q${quality}`, quality);
        badge.title = text(this.root, 'qualityTitle');
      }
    }
  }
}
