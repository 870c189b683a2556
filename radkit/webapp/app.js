// RadKit browser app: runs an exported Keras model on this device with TensorFlow.js.
// The image is read (EXIF orientation applied, transparency on black, 16-bit PNG as value // 256),
// turned grey, cropped, resized and scaled exactly as radkit.deploy.preprocess does in Python
// (through radkit.data.decode_image, the decoding training uses), so both give the same numbers.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const state = { model: null, meta: null, app: null, backend: null, stream: null };
  // What the tests and the benchmark read: every result, in order.
  const hooks = { results: [], ready: null, predict: null, time: null };
  window.radkitApp = hooks;

  function say(message, isError = false) {
    const status = $('status');
    status.textContent = message;
    status.classList.toggle('error', isError);
  }

  async function fetchJSON(path) {
    const response = await fetch(path);
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  }

  // WASM is fast and gives the same numbers as Python; fall back quietly if it cannot start.
  async function chooseBackend() {
    const asked = new URLSearchParams(location.search).get('backend');
    if (tf.wasm) tf.wasm.setWasmPaths(new URL('vendor/', location.href).href);
    for (const name of [asked, 'wasm', 'webgl', 'cpu']) {
      if (!name) continue;
      try {
        if (await tf.setBackend(name)) { await tf.ready(); return name; }
      } catch (error) { console.warn(`Backend ${name} unavailable:`, error); }
    }
    throw new Error('no TensorFlow.js backend could start');
  }

  // ---------------------------------------------------------------- preprocessing

  // Pillow's bilinear resampling: a triangle filter, widened when shrinking.
  function resizeWeights(inSize, outSize) {
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1);
    const support = filterScale;
    const rows = [];
    for (let i = 0; i < outSize; i++) {
      const center = (i + 0.5) * scale;
      const lo = Math.max(Math.trunc(center - support + 0.5), 0);
      const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
      const w = [];
      let sum = 0;
      for (let j = lo; j < hi; j++) {
        const x = (j - center + 0.5) / filterScale;
        const v = Math.max(1 - Math.abs(x), 0);
        w.push(v); sum += v;
      }
      rows.push({ lo, w: sum !== 0 ? w.map((v) => v / sum) : w });
    }
    return rows;
  }

  function cropSize(rows, cols, height, width) {
    if (cols * height > rows * width) return [rows, Math.max(1, Math.floor(rows * width / height + 0.5))];
    return [Math.max(1, Math.floor(cols * height / width + 0.5)), cols];
  }

  // RGBA pixels (Uint8ClampedArray, rows x cols) -> Float32Array (height x width x channels).
  function preprocess(rgba, rows, cols) {
    const { height, width, channels, pixel_divisor: divisor, pixel_offset: offset } = state.meta.input;
    const [cropH, cropW] = cropSize(rows, cols, height, width);
    const top = Math.floor((rows - cropH) / 2);
    const left = Math.floor((cols - cropW) / 2);
    const planes = new Float32Array(cropH * cropW * channels);
    for (let y = 0; y < cropH; y++) {
      for (let x = 0; x < cropW; x++) {
        const p = ((y + top) * cols + (x + left)) * 4;
        const q = (y * cropW + x) * channels;
        if (channels === 1) planes[q] = rgba[p] * 0.299 + rgba[p + 1] * 0.587 + rgba[p + 2] * 0.114;
        else for (let c = 0; c < 3; c++) planes[q + c] = rgba[p + c];
      }
    }
    const across = resizeWeights(cropW, width);
    const down = resizeWeights(cropH, height);
    const wide = new Float32Array(cropH * width * channels);   // horizontal pass, float32 in between
    for (let y = 0; y < cropH; y++) {
      for (let o = 0; o < width; o++) {
        const { lo, w } = across[o];
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          for (let k = 0; k < w.length; k++) sum += w[k] * planes[(y * cropW + lo + k) * channels + c];
          wide[(y * width + o) * channels + c] = sum;
        }
      }
    }
    const out = new Float32Array(height * width * channels);     // vertical pass, then scaling
    const d = Math.fround(divisor);
    const b = Math.fround(offset);
    for (let o = 0; o < height; o++) {
      const { lo, w } = down[o];
      for (let x = 0; x < width * channels; x++) {
        let sum = 0;
        for (let k = 0; k < w.length; k++) sum += w[k] * wide[(lo + k) * width * channels + x];
        out[o * width * channels + x] = Math.fround(Math.fround(sum) / d) + b;
      }
    }
    return out;
  }

  function pixelsOf(source, cols, rows) {
    const canvas = document.createElement('canvas');
    canvas.width = cols; canvas.height = rows;
    const context = canvas.getContext('2d', { willReadFrequently: true });
    // Transparent parts are drawn on black, as radkit.data.decode_image does (reading a transparent
    // canvas back would give black only where fully transparent, and rounded colours elsewhere).
    context.fillStyle = '#000';
    context.fillRect(0, 0, cols, rows);
    context.drawImage(source, 0, 0);
    return context.getImageData(0, 0, cols, rows).data;
  }

  // ---------------------------------------------------------------- the model

  async function predict(input) {
    const { height, width, channels } = state.meta.input;
    const start = performance.now();
    const output = tf.tidy(() => state.model.predict(tf.tensor4d(input, [1, height, width, channels])));
    const values = await output.data();
    const ms = performance.now() - start;
    const shape = output.shape;
    output.dispose();
    return { values: Array.from(values), shape, ms };
  }

  // Label probabilities from the model's output, highest first.
  function probabilities(values) {
    const { labels } = state.meta;
    const pairs = values.length === 1 && labels.length === 2
      ? [[labels[0], 1 - values[0]], [labels[1], values[0]]]
      : labels.map((label, i) => [label, values[i]]);
    return pairs.map(([label, p]) => ({ label, p })).sort((a, b) => b.p - a.p);
  }

  function showInput(input) {
    const { height, width, channels, pixel_divisor: divisor, pixel_offset: offset } = state.meta.input;
    const canvas = $('preview');
    canvas.width = width; canvas.height = height;
    const context = canvas.getContext('2d');
    const image = context.createImageData(width, height);
    for (let i = 0; i < width * height; i++) {
      for (let c = 0; c < 3; c++) {
        const v = channels === 1 ? input[i] : input[i * 3 + c];
        image.data[i * 4 + c] = (v - offset) * divisor;
      }
      image.data[i * 4 + 3] = 255;
    }
    context.putImageData(image, 0, 0);
    return { context, image };
  }

  function showClassification(result) {
    const ranked = probabilities(result.values);
    const multiLabel = state.meta.output === 'sigmoid' && result.values.length > 1;
    $('answer-title').textContent = multiLabel ? 'Probability of each finding' : 'Most likely: ' + ranked[0].label;
    const bars = $('bars');
    bars.replaceChildren();
    ranked.forEach((item, i) => {
      const li = document.createElement('li');
      if (i === 0) li.className = 'top';
      const row = document.createElement('div');
      row.className = 'row';
      const name = document.createElement('span');
      name.textContent = item.label;
      const value = document.createElement('span');
      value.textContent = `${(100 * item.p).toFixed(1)} %`;
      row.append(name, value);
      const track = document.createElement('div');
      track.className = 'track';
      const fill = document.createElement('div');
      fill.className = 'fill';
      fill.style.width = `${Math.max(0, Math.min(100, 100 * item.p))}%`;
      track.append(fill);
      li.append(row, track);
      bars.append(li);
    });
    learnMore(ranked[0].label);
    return ranked;
  }

  function showSegmentation(result, drawn) {
    const { height, width } = state.meta.input;
    const classes = result.shape[3];
    let outlined = 0;
    for (let i = 0; i < height * width; i++) {
      const p = classes === 1 ? result.values[i] : 1 - result.values[i * classes];
      if (p > 0.5) {
        outlined++;
        const d = drawn.image.data;
        d[i * 4] = Math.min(255, 0.5 * d[i * 4] + 128);
        d[i * 4 + 1] *= 0.5; d[i * 4 + 2] *= 0.5;
      }
    }
    drawn.context.putImageData(drawn.image, 0, 0);
    const label = state.meta.labels[state.meta.labels.length - 1];
    $('answer-title').textContent = `Outlined: ${label}`;
    $('bars').replaceChildren();
    const li = document.createElement('li');
    li.textContent = `${(100 * outlined / (height * width)).toFixed(1)} % of the image is outlined in red.`;
    $('bars').append(li);
    $('preview-caption').textContent = 'The model\'s outline, in red';
    learnMore(label);
  }

  function learnMore(label) {
    const url = (state.app.learn_more || {})[label];
    const place = $('learn-more');
    place.replaceChildren();
    if (!url) return;
    const link = document.createElement('a');
    link.href = url; link.target = '_blank'; link.rel = 'noopener noreferrer';
    link.textContent = `Learn more about ${label}`;
    place.append(link, document.createTextNode(' (opens another site; your image stays here)'));
  }

  async function analyse(source, cols, rows, name) {
    const input = preprocess(pixelsOf(source, cols, rows), rows, cols);
    const result = await predict(input);
    $('result').hidden = false;
    $('preview-caption').textContent = 'What the model sees';
    const drawn = showInput(input);
    const ranked = state.meta.task === 'segmentation' ? showSegmentation(result, drawn) : showClassification(result);
    $('timing').textContent = `Analysed in ${result.ms.toFixed(0)} ms on this device (${state.backend}).`;
    say(`Done: ${name}. ${spokenResult()}`);
    hooks.results.push({ ok: true, name, ranked, values: result.values, shape: result.shape, input: Array.from(input) });
  }

  // The answer in one sentence for the status line, which screen readers announce (it is an aria-live region).
  function spokenResult() {
    const first = $('bars').querySelector('li');
    const parts = first ? Array.from(first.querySelectorAll('span'), (span) => span.textContent) : [];
    const detail = parts.length ? parts.join(' ') : (first ? first.textContent : '');
    return `${$('answer-title').textContent}${detail ? ` (${detail})` : ''}.`;
  }

  function refuse(name, message) {
    say(message, true);
    $('result').hidden = true;
    hooks.results.push({ ok: false, name, message });
  }

  async function openFile(file) {
    if (!state.model) return;
    if (file.size > 60e6) return refuse(file.name, `“${file.name}” is too large (over 60 MB). Please choose a smaller image.`);
    let bitmap;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
    } catch (error) {
      return refuse(file.name, `Sorry, “${file.name}” could not be opened as a picture. Please choose a PNG or JPEG image `
        + '(a DICOM file needs to be saved as PNG first, for example in your PACS viewer).');
    }
    try {
      say(`Analysing ${file.name}...`);
      await analyse(bitmap, bitmap.width, bitmap.height, file.name);
    } catch (error) {
      console.error(error);
      refuse(file.name, `Something went wrong while analysing “${file.name}”: ${error.message}`);
    } finally {
      bitmap.close();
    }
  }

  // ---------------------------------------------------------------- camera

  // What went wrong with the camera, in words a person can act on (the browser's error names are not).
  function cameraProblem(error) {
    const name = error && error.name;
    if (name === 'NotAllowedError' || name === 'SecurityError') {
      return 'The camera is blocked for this page. To use it, allow the camera in the browser\'s settings for this site '
        + '(often the icon beside the address), then press “Use the camera” again. You can still choose an image file.';
    }
    if (name === 'NotFoundError' || name === 'OverconstrainedError') {
      return 'No camera was found on this device. You can still choose an image file.';
    }
    if (name === 'NotReadableError' || name === 'AbortError') {
      return 'The camera is busy or could not start (another app may be using it). Close that app and try again, '
        + 'or choose an image file.';
    }
    return 'The camera could not be opened. You can still choose an image file.';
  }

  async function startCamera() {
    try {
      state.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    } catch (error) {
      return say(cameraProblem(error), true);
    }
    const video = $('video');
    video.srcObject = state.stream;
    try {
      await video.play();
    } catch (error) {
      stopCamera();
      return say(cameraProblem(error), true);
    }
    $('camera').hidden = false;
    say('Point the camera at the image, fill the frame, avoid glare, then press “Take picture”.');
  }

  function stopCamera() {
    if (state.stream) state.stream.getTracks().forEach((track) => track.stop());
    state.stream = null;
    $('camera').hidden = true;
  }

  // ---------------------------------------------------------------- start

  async function start() {
    const started = performance.now();
    if (location.protocol === 'file:') {
      throw new Error('This app must be opened through a web address (for example from GitHub Pages, or '
        + '“python -m http.server” in this folder, then open 127.0.0.1:8000), not by double-clicking the file.');
    }
    [state.meta, state.app] = await Promise.all([fetchJSON('model/radkit.json'), fetchJSON('app.json')]);
    $('notice-text').textContent = state.app.notice.replace(/^Not for diagnosis[.:]?\s*/i, '');
    $('about').textContent = state.app.about || '';
    state.backend = await chooseBackend();
    state.model = await tf.loadLayersModel('model/model.json');
    const { height, width, channels } = state.meta.input;
    tf.tidy(() => state.model.predict(tf.zeros([1, height, width, channels])).dataSync()); // warm up
    const loadMs = performance.now() - started;
    $('tech').textContent = `TensorFlow.js ${tf.version.tfjs}, backend ${state.backend}; model input ${width} × ${height} × ${channels}; `
      + `${state.meta.parameters.toLocaleString()} parameters (${state.meta.weights}).`;
    say(`Ready. Choose an image${navigator.mediaDevices ? ' or use the camera' : ''}.`);
    if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) $('camera-button').hidden = false;
    return { backend: state.backend, loadMs, task: state.meta.task, labels: state.meta.labels };
  }

  hooks.predict = async (data) => predict(Float32Array.from(data));
  hooks.time = async (data, repeat) => {   // median milliseconds per image
    const input = Float32Array.from(data);
    const times = [];
    for (let i = 0; i < repeat; i++) times.push((await predict(input)).ms);
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)];
  };

  $('file-input').addEventListener('change', (event) => {
    const file = event.target.files[0];
    event.target.value = '';
    if (file) openFile(file);
  });
  document.addEventListener('dragover', (event) => { event.preventDefault(); document.body.classList.add('dragging'); });
  document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
  document.addEventListener('drop', (event) => {
    event.preventDefault();
    document.body.classList.remove('dragging');
    if (event.dataTransfer.files[0]) openFile(event.dataTransfer.files[0]);
  });
  $('camera-button').addEventListener('click', startCamera);
  $('stop-button').addEventListener('click', stopCamera);
  $('snap-button').addEventListener('click', async () => {
    const video = $('video');
    await analyse(video, video.videoWidth, video.videoHeight, 'camera picture');
    stopCamera();
  });

  hooks.ready = start().catch((error) => {
    console.error(error);
    say(`The app could not start: ${error.message}`, true);
    return { error: error.message };
  });
})();
