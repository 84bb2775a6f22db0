// moodtune web page: camera -> /api/analyze -> mood -> /api/playlist -> audio.
// Plain JavaScript, no build step. `window.moodtune` exposes the page's state so tests
// (and curious users) can see what it is doing.
'use strict';

const $ = (id) => document.getElementById(id);
const FRAME_MS = 250; // 4 frames a second
const FRAME_WIDTH = 480; // downscaled before upload: enough for face detection, small to send

const state = (window.moodtune = {
  camera: 'starting', // starting | on | off | unavailable
  framesSent: 0,
  framesAnswered: 0,
  photoBytesSent: 0, // size of the last photo as sent (scaled down from the file)
  faces: 0,
  mood: null, // smoothed emotion key from the server
  playlistEmotion: null,
  playlist: 0, // songs queued
  playing: null, // id of the song in the player
  errors: 0,
  lastError: null,
});

// One id per tab: the server keeps this tab's smoothed mood and the songs it has heard.
const session =
  'tab-' +
  Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');

let emotions = []; // [{key, name}]
let queue = []; // recommendations not played yet
let current = null; // recommendation in the player
let stream = null;
let frameTimer = null;
let inFlight = false;
let audioFailures = 0;
let frameLimit = 2 << 20; // bytes per frame or photo; the server's figure from /api/info
let photoUrl = null; // object URL of the photo shown, revoked when the next one comes

async function api(path, options = {}) {
  const res = await fetch(path, options);
  let body = null;
  try {
    body = await res.json();
  } catch (_) {
    body = null;
  }
  if (!res.ok) {
    const msg = (body && body.error) || `${res.status} ${res.statusText}`;
    throw new Error(msg);
  }
  return body;
}

function note(id, text) {
  const el = $(id);
  el.textContent = text || '';
  el.hidden = !text;
}

function fail(where, err) {
  state.errors += 1;
  state.lastError = `${where}: ${err.message || err}`;
  console.warn(state.lastError);
}

function emotionName(key) {
  const e = emotions.find((x) => x.key === key);
  return e ? e.name : key;
}

function el(tag, props = {}, children = []) {
  const e = document.createElement(tag);
  Object.assign(e, props);
  for (const c of [].concat(children)) e.append(c);
  return e;
}

// ---------- camera and analysis ----------

async function startCamera() {
  state.camera = 'starting';
  note('camera-note', 'Starting the camera…');
  $('photo').hidden = true;
  $('video').hidden = false;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    cameraUnavailable('This page has no camera access (open it as http://127.0.0.1 or localhost). Analyse a photo instead.');
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
  } catch (err) {
    const declined = err && (err.name === 'NotAllowedError' || err.name === 'SecurityError');
    cameraUnavailable(
      declined
        ? 'Camera access was declined. You can analyse a photo instead, or pick a mood below.'
        : 'No camera was found. You can analyse a photo instead, or pick a mood below.'
    );
    return;
  }
  const video = $('video');
  video.srcObject = stream;
  try {
    await video.play();
  } catch (_) {
    /* muted autoplay normally works; frames are still readable */
  }
  state.camera = 'on';
  note('camera-note', '');
  $('camera-toggle').textContent = 'Stop camera';
  frameTimer = setInterval(sendFrame, FRAME_MS);
}

function stopCamera(reason) {
  clearInterval(frameTimer);
  frameTimer = null;
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  $('video').srcObject = null;
  state.camera = 'off';
  $('camera-toggle').textContent = 'Start camera';
  clearOverlay();
  note('camera-note', reason || 'Camera stopped.');
}

function cameraUnavailable(msg) {
  state.camera = 'unavailable';
  $('camera-toggle').textContent = 'Try the camera again';
  note('camera-note', msg);
}

const grab = document.createElement('canvas');

function sendFrame() {
  const video = $('video');
  // One frame in flight at a time: a slow server gets fewer frames, never a backlog.
  if (inFlight || video.readyState < 2 || !video.videoWidth) return;
  const scale = Math.min(1, FRAME_WIDTH / video.videoWidth);
  grab.width = Math.round(video.videoWidth * scale);
  grab.height = Math.round(video.videoHeight * scale);
  grab.getContext('2d').drawImage(video, 0, 0, grab.width, grab.height);
  inFlight = true;
  grab.toBlob(
    async (blob) => {
      try {
        if (!blob) return;
        state.framesSent += 1;
        const r = await api(`/api/analyze?session=${session}`, { method: 'POST', body: blob });
        state.framesAnswered += 1;
        if (state.camera === 'on') showAnalysis(r, video, true);
      } catch (err) {
        fail('analyze', err);
        note('camera-note', `Could not analyse the camera frame: ${err.message}`);
      } finally {
        inFlight = false;
      }
    },
    'image/jpeg',
    0.8
  );
}

// Phone photos are often larger than the server's frame limit. The photo is sent as
// drawn on the page instead: at most this many pixels on its long side (faces stay far
// above the model's 48 px), turned as the page shows it so boxes line up, and smaller
// again in the rare case the JPEG is still over the limit.
const PHOTO_SIDES = [1600, 1200, 800];

async function photoForUpload(img, file) {
  const w = img.naturalWidth;
  const h = img.naturalHeight;
  if (!w || !h) return file; // not decodable here: the server says why
  let blob = file;
  for (const side of PHOTO_SIDES) {
    const scale = Math.min(1, side / Math.max(w, h));
    const c = document.createElement('canvas');
    c.width = Math.max(1, Math.round(w * scale));
    c.height = Math.max(1, Math.round(h * scale));
    const ctx = c.getContext('2d');
    ctx.fillStyle = '#fff'; // a transparent background would turn black in JPEG
    ctx.fillRect(0, 0, c.width, c.height);
    ctx.drawImage(img, 0, 0, c.width, c.height);
    blob = (await new Promise((resolve) => c.toBlob(resolve, 'image/jpeg', 0.92))) || file;
    if (blob.size <= frameLimit) break;
  }
  return blob;
}

async function analysePhoto(file) {
  if (state.camera === 'on' || state.camera === 'starting') stopCamera('Showing your photo.');
  const img = $('photo');
  if (photoUrl) URL.revokeObjectURL(photoUrl);
  photoUrl = URL.createObjectURL(file);
  img.src = photoUrl;
  img.hidden = false;
  $('video').hidden = true;
  await img.decode().catch(() => {});
  try {
    const body = await photoForUpload(img, file);
    state.photoBytesSent = body.size;
    const r = await api('/api/analyze', { method: 'POST', body });
    showAnalysis(r, img, false);
    note('camera-note', r.faces.length ? '' : `No face found in ${file.name}.`);
  } catch (err) {
    fail('photo', err);
    clearOverlay();
    note('camera-note', `Could not analyse ${file.name}: ${err.message}`);
  }
}

function clearOverlay() {
  const c = $('overlay');
  c.getContext('2d').clearRect(0, 0, c.width, c.height);
}

// Draws face boxes over the shown video or photo and updates bars and mood.
function showAnalysis(r, media, mirrored) {
  state.faces = r.faces.length;
  const c = $('overlay');
  c.width = media.clientWidth;
  c.height = media.clientHeight;
  const ctx = c.getContext('2d');
  ctx.clearRect(0, 0, c.width, c.height);
  const s = c.width / r.width;
  ctx.lineWidth = 3;
  ctx.font = 'bold 15px system-ui, sans-serif';
  for (const f of r.faces) {
    const w = f.box.width * s;
    const h = f.box.height * s;
    const x = mirrored ? c.width - (f.box.x * s + w) : f.box.x * s;
    const y = f.box.y * s;
    // The face that sets the mood is solid yellow; others, and flagged faces, are dimmer.
    ctx.strokeStyle = f.main ? '#ffd400' : 'rgba(255,255,255,0.6)';
    ctx.setLineDash(f.flags && f.flags.length ? [6, 4] : []);
    ctx.strokeRect(x, y, w, h);
    ctx.setLineDash([]);
    const flags = f.flags && f.flags.length ? ` (${f.flags.join(', ')})` : '';
    const label = `${emotionName(f.emotion)} ${Math.round(f.probabilities[f.emotion] * 100)}%${flags}`;
    const tw = ctx.measureText(label).width + 8;
    ctx.fillStyle = 'rgba(0,0,0,0.7)';
    ctx.fillRect(x, Math.max(0, y - 22), tw, 22);
    ctx.fillStyle = '#fff';
    ctx.fillText(label, x + 4, Math.max(16, y - 6));
  }
  if (r.mood) {
    renderBars(r.mood.probabilities);
    state.mood = r.mood.emotion;
    $('mood-name').textContent = emotionName(r.mood.emotion);
    $('mood-conf').textContent = `${Math.round(r.mood.confidence * 100)}%`;
    if ($('mood-source').value === 'auto') followMood(r.mood.emotion);
  }
}

function renderBars(probs) {
  const ul = $('bars');
  for (const e of emotions) {
    const li = ul.querySelector(`[data-emotion="${e.key}"]`);
    const p = Math.round((probs ? probs[e.key] : 0) * 100);
    li.querySelector('.fill').style.width = `${p}%`;
    li.querySelector('.value').textContent = `${p}%`;
    li.querySelector('[role=meter]').setAttribute('aria-valuenow', String(p));
  }
}

// ---------- playlist and player ----------

function followMood(emotion) {
  if (emotion === state.playlistEmotion) return;
  loadPlaylist(emotion);
}

async function loadPlaylist(emotion) {
  state.playlistEmotion = emotion;
  const strategy = $('strategy').value;
  try {
    const r = await api(
      `/api/playlist?emotion=${emotion}&strategy=${strategy}&session=${session}&limit=10`
    );
    if (state.playlistEmotion !== emotion) return; // the mood moved on meanwhile
    // The song playing keeps playing; the new mood's songs queue up behind it.
    queue = r.songs.filter((s) => !current || s.id !== current.id);
    renderPlaylist();
    $('playlist-emotion').textContent = `for ${emotionName(emotion)} (${strategy === 'lift' ? 'lift' : 'match'})`;
    // The same mood's playlist for the user's own player (paths of this machine).
    const download = $('download-playlist');
    download.href = `/api/playlist/export?format=m3u8&emotion=${emotion}&strategy=${strategy}`;
    download.hidden = false;
    const filled = r.songs.filter((s) => s.filled).length;
    if (!queue.length) note('player-note', `No songs for ${emotionName(emotion)} in the library yet.`);
    else {
      if (filled) {
        note('player-note', `Few ${emotionName(emotion)} songs in the library: ${filled} come from nearby moods (marked ≈).`);
      }
      if (!current) playNext();
    }
  } catch (err) {
    fail('playlist', err);
    note('player-note', `Could not load the playlist: ${err.message}`);
  }
}

function renderPlaylist() {
  state.playlist = queue.length;
  const ol = $('playlist');
  ol.replaceChildren(
    ...queue.map((s) =>
      el('li', {}, [
        el('span', { className: 'title', textContent: (s.filled ? '≈ ' : '') + s.title }),
        el('span', { className: 'muted', textContent: ` — ${s.artist}` }),
        el('span', { className: 'score', textContent: ` ${s.score.toFixed(2)}` }),
        el('div', { className: 'reason small muted', textContent: s.reason }),
      ])
    )
  );
}

function playNext() {
  const next = queue.shift();
  renderPlaylist();
  if (!next) {
    current = null;
    state.playing = null;
    if (state.playlistEmotion) loadPlaylist(state.playlistEmotion);
    return;
  }
  play(next);
}

function play(song) {
  current = song;
  state.playing = song.id;
  $('like').setAttribute('aria-pressed', 'false');
  $('now-playing').replaceChildren(
    el('span', { className: 'muted', textContent: 'Now playing: ' }),
    el('strong', { textContent: song.title }),
    ` — ${song.artist}`
  );
  const audio = $('audio');
  if (!song.has_audio) {
    // Silence the song before it: the page must not show one song and play another.
    audio.pause();
    audio.removeAttribute('src');
    audio.load();
    note('player-note', `${song.title} has no audio file in the library.`);
    // Move on as its end would have, but not through a whole list of silent songs.
    audioFailures += 1;
    if (audioFailures < 3) setTimeout(() => current === song && playNext(), 3000);
    return;
  }
  audio.src = `/api/audio/${song.id}`;
  audio.play().then(
    () => note('player-note', ''),
    (err) => {
      if (err && err.name === 'NotAllowedError') note('player-note', 'Press play to start the music.');
    }
  );
}

async function sendFeedback(action) {
  if (!current) return;
  const emotion = state.playlistEmotion || current.emotion || 'neutral';
  try {
    await api('/api/feedback', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ session, song_id: current.id, emotion, action }),
    });
  } catch (err) {
    fail('feedback', err);
    note('player-note', `Could not save your ${action}: ${err.message}`);
  }
}

// ---------- typical songs ----------

async function loadPicks() {
  const e = $('picks-emotion').value;
  try {
    const picks = await api(`/api/picks/${e}`);
    $('picks').replaceChildren(
      ...picks.map((s) =>
        el('li', {}, [
          el('span', { textContent: `${s.title} — ${s.artist} ` }),
          el('button', {
            type: 'button',
            textContent: 'Remove',
            ariaLabel: `Remove ${s.title}`,
            onclick: () => savePicks(picks.filter((p) => p.id !== s.id).map((p) => p.id)),
          }),
        ])
      )
    );
    if (!picks.length) $('picks').append(el('li', { className: 'muted', textContent: 'None picked yet.' }));
    $('picks').dataset.ids = picks.map((p) => p.id).join(',');
  } catch (err) {
    fail('picks', err);
    note('picks-note', `Could not load the typical songs: ${err.message}`);
  }
  searchCandidates();
}

async function searchCandidates() {
  const e = $('picks-emotion').value;
  const q = encodeURIComponent($('picks-search').value);
  try {
    const r = await api(`/api/songs?emotion=${e}&q=${q}&limit=8`);
    const ids = ($('picks').dataset.ids || '').split(',').filter(Boolean).map(Number);
    $('picks-candidates').replaceChildren(
      ...r.songs
        .filter((s) => !ids.includes(s.id))
        .map((s) =>
          el('li', {}, [
            el('button', {
              type: 'button',
              textContent: 'Add',
              ariaLabel: `Add ${s.title}`,
              onclick: () => savePicks(ids.concat([s.id])),
            }),
            el('span', { textContent: ` ${s.title} — ${s.artist}` }),
            el('span', { className: 'muted small', textContent: ` ${s.tags.join(', ')}` }),
          ])
        )
    );
  } catch (err) {
    fail('songs', err);
  }
}

async function savePicks(ids) {
  const e = $('picks-emotion').value;
  try {
    await api(`/api/picks/${e}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ song_ids: ids }),
    });
    note('picks-note', `Saved the typical songs for ${emotionName(e)}.`);
    if (state.playlistEmotion === e) loadPlaylist(e);
  } catch (err) {
    fail('picks', err);
    note('picks-note', `Could not save: ${err.message}`);
  }
  loadPicks();
}

// ---------- library and import ----------

let libOffset = 0;
const LIB_PAGE = 25;

async function loadLibrary() {
  const q = encodeURIComponent($('lib-search').value);
  const e = $('lib-emotion').value;
  try {
    const r = await api(`/api/songs?q=${q}&emotion=${e}&offset=${libOffset}&limit=${LIB_PAGE}`);
    $('lib-rows').replaceChildren(
      ...r.songs.map((s) =>
        el('tr', {}, [
          el('td', { textContent: s.title }),
          el('td', { textContent: s.artist }),
          el('td', { textContent: s.emotion ? emotionName(s.emotion) : '—' }),
          el('td', { className: 'small', textContent: s.tags.join(', ') }),
          el('td', {}, [
            el('button', {
              type: 'button',
              textContent: 'Play',
              disabled: !s.has_audio,
              ariaLabel: `Play ${s.title}`,
              onclick: () => {
                audioFailures = 0;
                play({ ...s, score: 0, reason: 'picked from the library' });
              },
            }),
          ]),
        ])
      )
    );
    const last = Math.min(r.total, libOffset + r.songs.length);
    $('lib-count').textContent = r.total
      ? `Songs ${libOffset + 1}–${last} of ${r.total}`
      : 'No songs match.';
    $('lib-prev').disabled = libOffset === 0;
    $('lib-next').disabled = last >= r.total;
  } catch (err) {
    fail('library', err);
    $('lib-count').textContent = `Could not load the library: ${err.message}`;
  }
}

// While an upload runs, the server says where it is: reading, classifying, analysing
// audio files (n of m, times real time).
function importProgressText(name, p) {
  if (!p || !p.active) return `Importing ${name}…`;
  if (p.total > 0) {
    const pct = Math.round((100 * p.done) / p.total);
    const speed = p.x_real_time > 0 ? `, ${Math.round(p.x_real_time)}x real time` : '';
    return `Importing ${name}: ${p.stage} ${p.done}/${p.total} (${pct}%${speed})…`;
  }
  return `Importing ${name}: ${p.stage}…`;
}

async function importFile(file) {
  note('import-note', `Importing ${file.name}…`);
  let polling = true;
  const poll = async () => {
    while (polling) {
      try {
        const p = await api('/api/import/progress');
        if (polling) note('import-note', importProgressText(file.name, p));
      } catch (_) {
        // Progress is a courtesy: the upload's own answer reports any failure.
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  };
  poll();
  try {
    const r = await api(`/api/import?filename=${encodeURIComponent(file.name)}`, {
      method: 'POST',
      body: file,
    }).finally(() => {
      polling = false;
    });
    const lines = [`Imported ${r.imported} songs from ${file.name}` + (r.skipped ? `, skipped ${r.skipped}.` : '.')]
      .concat(r.messages.slice(0, 10));
    libOffset = 0;
    // Refresh the song count, the table and the picks first, so the note never sits
    // beside the old library; the last two report their own failures.
    await Promise.all([loadInfo().catch((err) => fail('info', err)), loadLibrary(), loadPicks()]);
    note('import-note', lines.join('\n'));
    if (state.playlistEmotion) loadPlaylist(state.playlistEmotion);
  } catch (err) {
    fail('import', err);
    note('import-note', `Could not import ${file.name}: ${err.message}`);
  }
}

async function loadInfo() {
  const r = await api('/api/info');
  emotions = r.emotions;
  if (r.limits && r.limits.frame_bytes) frameLimit = r.limits.frame_bytes;
  $('info').textContent = `${r.songs} songs · ${r.library} · model: ${r.model}`;
  return r;
}

// ---------- wiring ----------

function debounce(fn, ms) {
  let t = null;
  return (...a) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}

async function init() {
  try {
    await loadInfo();
  } catch (err) {
    fail('info', err);
    $('info').textContent = `The moodtune server did not answer: ${err.message}`;
    return;
  }
  const bars = $('bars');
  for (const e of emotions) {
    bars.append(
      el('li', { className: `bar-row e-${e.key}` }, [
        el('span', { className: 'label', textContent: e.name }),
        el('div', { className: 'bar', role: 'meter', ariaLabel: e.name, ariaValueMin: '0', ariaValueMax: '100', ariaValueNow: '0' }, [
          el('div', { className: 'fill' }),
        ]),
        el('span', { className: 'value', textContent: '0%' }),
      ])
    );
    bars.lastChild.dataset.emotion = e.key;
    $('mood-source').append(el('option', { value: e.key, textContent: `always ${e.name}` }));
    $('picks-emotion').append(el('option', { value: e.key, textContent: e.name }));
    $('lib-emotion').append(el('option', { value: e.key, textContent: e.name }));
  }

  $('camera-toggle').onclick = () => (state.camera === 'on' ? stopCamera() : startCamera());
  $('photo-input').onchange = (ev) => ev.target.files[0] && analysePhoto(ev.target.files[0]);
  $('mood-source').onchange = (ev) => {
    const v = ev.target.value;
    if (v !== 'auto') loadPlaylist(v);
    else if (state.mood) loadPlaylist(state.mood);
  };
  $('strategy').onchange = () => state.playlistEmotion && loadPlaylist(state.playlistEmotion);

  const audio = $('audio');
  audio.addEventListener('ended', async () => {
    await sendFeedback('played');
    audioFailures = 0;
    playNext();
  });
  audio.addEventListener('error', () => {
    if (!current) return;
    audioFailures += 1;
    note('player-note', `Cannot play ${current.title}: the file is missing or in a format this browser cannot play.`);
    // Move on, but not forever if every file fails, and not past a song the user
    // picked meanwhile.
    const failed = current;
    if (audioFailures < 3) setTimeout(() => current === failed && playNext(), 1500);
  });
  audio.addEventListener('playing', () => (audioFailures = 0));
  // A user's own step restarts the count of songs skipped for lack of a playable file.
  $('next').onclick = async () => {
    audioFailures = 0;
    await sendFeedback('played');
    playNext();
  };
  $('skip').onclick = async () => {
    audioFailures = 0;
    await sendFeedback('skip');
    playNext();
  };
  $('like').onclick = async () => {
    await sendFeedback('like');
    $('like').setAttribute('aria-pressed', 'true');
    note('player-note', current ? `Liked ${current.title}.` : '');
  };

  $('picks-emotion').onchange = loadPicks;
  $('picks-search').oninput = debounce(searchCandidates, 250);
  $('lib-search').oninput = debounce(() => ((libOffset = 0), loadLibrary()), 250);
  $('lib-emotion').onchange = () => ((libOffset = 0), loadLibrary());
  $('lib-prev').onclick = () => ((libOffset = Math.max(0, libOffset - LIB_PAGE)), loadLibrary());
  $('lib-next').onclick = () => ((libOffset += LIB_PAGE), loadLibrary());
  $('import-input').onchange = (ev) => ev.target.files[0] && importFile(ev.target.files[0]);

  $('picks-emotion').value = 'happy';
  loadPicks();
  loadLibrary();
  startCamera();
}

init();
