// RadKit browser app: runs an exported Keras model on this device with TensorFlow.js.
// The image is read (EXIF orientation applied, transparency on black, 16-bit PNG as value // 256),
// turned grey, cropped, resized and scaled exactly as radkit.deploy.preprocess does in Python
// (through radkit.data.decode_image, the decoding training uses), so both give the same numbers.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const state = { model: null, meta: null, app: null, backend: null, stream: null, camModel: null, camKernel: null,
    scope: null };
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
  // `grey` (one value per pixel, e.g. from a DICOM file) is used instead of RGBA when given: the same numbers.
  function preprocess(rgba, rows, cols, grey = null) {
    const { height, width, channels, pixel_divisor: divisor, pixel_offset: offset } = state.meta.input;
    const [cropH, cropW] = cropSize(rows, cols, height, width);
    const top = Math.floor((rows - cropH) / 2);
    const left = Math.floor((cols - cropW) / 2);
    const planes = new Float32Array(cropH * cropW * channels);
    let greyValue = null;   // a grey value's float32 "grey" (the same sum as for R = G = B), looked up, not recomputed
    if (grey) {
      greyValue = new Float32Array(256);
      for (let v = 0; v < 256; v++) greyValue[v] = channels === 1 ? v * 0.299 + v * 0.587 + v * 0.114 : v;
    }
    for (let y = 0; y < cropH; y++) {
      for (let x = 0; x < cropW; x++) {
        const q = (y * cropW + x) * channels;
        if (grey) {
          const v = greyValue[grey[(y + top) * cols + (x + left)]];
          if (channels === 1) planes[q] = v;
          else planes[q] = planes[q + 1] = planes[q + 2] = v;
          continue;
        }
        const p = ((y + top) * cols + (x + left)) * 4;
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

  // withFeatures: also return the last feature maps (for the heatmap), from the same single run of the model.
  async function predict(input, withFeatures = false) {
    const { height, width, channels } = state.meta.input;
    const start = performance.now();
    let output; let features = null;
    if (withFeatures) {
      [features, output] = tf.tidy(() => state.camModel.predict(tf.tensor4d(input, [1, height, width, channels])));
    } else {
      output = tf.tidy(() => state.model.predict(tf.tensor4d(input, [1, height, width, channels])));
    }
    const values = await output.data();
    const ms = performance.now() - start;
    const shape = output.shape;
    output.dispose();
    return { values: Array.from(values), shape, ms, features };
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

  // The picture itself at display resolution (not the model's small input grid), at most DISPLAY pixels on its
  // longest side: RGBA pixels, or a DICOM's grey values. Returns the canvas and where the model's crop lies on it.
  const DISPLAY = 512;
  function showFilm(rgba, grey, cols, rows, geometry) {
    const full = document.createElement('canvas');
    full.width = cols; full.height = rows;
    const fullContext = full.getContext('2d');
    const image = fullContext.createImageData(cols, rows);
    if (grey) {
      for (let i = 0; i < cols * rows; i++) {
        image.data[i * 4] = image.data[i * 4 + 1] = image.data[i * 4 + 2] = grey[i];
        image.data[i * 4 + 3] = 255;
      }
    } else image.data.set(rgba);
    fullContext.putImageData(image, 0, 0);
    const scale = Math.min(1, DISPLAY / Math.max(cols, rows));
    const canvas = $('preview');
    canvas.width = Math.max(1, Math.round(cols * scale));
    canvas.height = Math.max(1, Math.round(rows * scale));
    canvas.classList.add('film');
    const context = canvas.getContext('2d');
    context.imageSmoothingEnabled = true;
    context.imageSmoothingQuality = 'high';
    context.drawImage(full, 0, 0, canvas.width, canvas.height);
    const crop = { x: geometry.left * scale, y: geometry.top * scale, w: geometry.cropW * scale, h: geometry.cropH * scale };
    return { context, crop };
  }

  // The heatmap (one value 0..1 per pixel of the model's input) laid over the film, resized (smoothly) onto the
  // part of the film the model looked at.
  function drawHeatmapOnFilm(film, heatmap) {
    const { height, width } = state.meta.input;
    const small = document.createElement('canvas');
    small.width = width; small.height = height;
    const smallContext = small.getContext('2d');
    const image = smallContext.createImageData(width, height);
    for (let i = 0; i < heatmap.length; i++) {
      const v = heatmap[i];
      const [r, g, b] = v < 0.5 ? [0, 510 * v, 255 * (1 - 2 * v)] : [255, 510 * (1 - v), 0];
      image.data[i * 4] = r; image.data[i * 4 + 1] = g; image.data[i * 4 + 2] = b;
      image.data[i * 4 + 3] = 255 * 0.5 * v;   // weak evidence stays see-through, as radkit.explain.overlay draws it
    }
    smallContext.putImageData(image, 0, 0);
    film.context.imageSmoothingEnabled = true;
    film.context.drawImage(small, film.crop.x, film.crop.y, film.crop.w, film.crop.h);
  }

  // ---------------------------------------------------------------- the model's scope (radkit.report.Scope)

  // What a DICOM header says that is outside the model's scope, in the words radkit.report.header_problems uses.
  function headerProblems(header) {
    const scope = state.meta.scope;
    const names = scope.modality_names || {};
    const problems = [];
    const modality = (header.modality || '').trim().toUpperCase();
    if (modality && !scope.modalities.includes(modality)) {
      problems.push(`it is ${names[modality] || `a ${modality}`} image (Modality ${modality}); this model learned from `
        + `${scope.modalities.join(' or ')} radiographs only`);
    }
    const part = (header.bodyPart || '').trim().toUpperCase();
    if (part && !scope.body_parts.includes(part)) {
      problems.push(`the file says the body part is ${part}; this model learned from `
        + `${scope.body_parts.map((p) => p.toLowerCase()).join(' and ')} films only`);
    }
    const view = (header.view || '').trim().toUpperCase();
    if (view && !scope.views.includes(view)) {
      problems.push(`the file says the view is ${view}; this model learned from ${scope.views.join(' and ')} (frontal) views only`);
    }
    return problems;
  }

  function readHeader(bytes) {
    const ds = dicomParser.parseDicom(bytes, { untilTag: 'x7fe00010' });
    return { modality: ds.string('x00080060') || '', bodyPart: ds.string('x00180015') || '', view: ds.string('x00185101') || '' };
  }

  // How colourful the picture is: the average over its pixels of the largest minus the smallest of R, G, B.
  function colourfulness(rgba) {
    if (!rgba) return 0;
    let sum = 0;
    const n = rgba.length / 4;
    for (let p = 0; p < rgba.length; p += 4) {
      const r = rgba[p]; const g = rgba[p + 1]; const b = rgba[p + 2];
      sum += Math.max(r, g, b) - Math.min(r, g, b);
    }
    return n ? sum / n : 0;
  }

  // The three checks of radkit.report.Scope.check_input, on the model's input: colour, contrast, and the
  // Mahalanobis distance of the model's own features (each scope layer averaged over the picture).
  function checkScope(input, colour) {
    const scope = state.meta.scope;
    const { height, width, channels } = state.meta.input;
    const outputs = tf.tidy(() => {
      let maps = state.scope.model.predict(tf.tensor4d(input, [1, height, width, channels]));
      if (!Array.isArray(maps)) maps = [maps];
      return tf.concat(maps.map((m) => m.mean([1, 2])), 1);
    });
    const features = outputs.dataSync();
    outputs.dispose();
    const n = features.length;
    const { mean, whitening } = state.scope;
    const centred = new Float64Array(n);
    for (let j = 0; j < n; j++) centred[j] = features[j] - mean[j];
    let squared = 0;
    for (let i = 0; i < n; i++) {
      let z = 0;
      for (let j = 0; j < n; j++) z += whitening[i * n + j] * centred[j];
      squared += z * z;
    }
    const distance = Math.sqrt(squared);
    let average = 0;
    for (let i = 0; i < input.length; i++) average += input[i];
    average /= input.length;
    let spread = 0;
    for (let i = 0; i < input.length; i++) spread += (input[i] - average) ** 2;
    const contrast = Math.sqrt(spread / input.length);
    const reasons = [];
    if (colour > scope.colour_limit) {
      reasons.push(`it is a colour picture (colourfulness ${colour.toFixed(0)}; chest films are grey, at most ${scope.colour_limit})`);
    }
    if (contrast < scope.contrast_limit) {
      reasons.push(`it has almost no contrast (${contrast.toFixed(3)}; the chest films it learned from have at least `
        + `${scope.contrast_limit.toFixed(3)})`);
    }
    if (distance > scope.distance_limit) {
      reasons.push(`its features are far from the training films' (distance ${distance.toFixed(1)}; limit `
        + `${scope.distance_limit.toFixed(1)})`);
    }
    return { in_scope: reasons.length === 0, reasons, distance, contrast, colour };
  }

  // The answer withheld: the film stays, greyed, with what made it look unlike the training films.
  function showWithheld(check) {
    $('result').classList.add('withheld');
    $('answer-title').textContent = `No answer. ${state.meta.scope.message}`;
    const bars = $('bars');
    bars.replaceChildren();
    for (const reason of check.reasons) {
      const li = document.createElement('li');
      li.textContent = `Because ${reason}.`;
      bars.append(li);
    }
    $('learn-more').replaceChildren();
    $('preview-caption').textContent = 'The picture you chose (not analysed)';
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

  // ---------------------------------------------------------------- output renderers (chosen by radkit.json's task)

  // Segmentation: the outline drawn over the image, and the outlined area in mm² when the DICOM gives the
  // pixel spacing (else in pixels of the original image, said plainly).
  function showSegmentation(result, drawn, geometry) {
    const { height, width } = state.meta.input;
    const classes = result.shape[3];
    const mask = new Uint8Array(height * width);
    let outlined = 0;
    for (let i = 0; i < height * width; i++) {
      const p = classes === 1 ? result.values[i] : 1 - result.values[i * classes];
      if (p > 0.5) { mask[i] = 1; outlined++; }
    }
    const d = drawn.image.data;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        const edge = mask[i] && (x === 0 || y === 0 || x === width - 1 || y === height - 1
          || !mask[i - 1] || !mask[i + 1] || !mask[i - width] || !mask[i + width]);
        if (edge) { d[i * 4] = 255; d[i * 4 + 1] = 40; d[i * 4 + 2] = 40; }
      }
    }
    drawn.context.putImageData(drawn.image, 0, 0);
    const label = state.meta.labels[state.meta.labels.length - 1];
    $('answer-title').textContent = `Outlined: ${label}`;
    $('bars').replaceChildren();
    // One pixel of the model's input covers (crop / size) pixels of the original image in each direction.
    const perPixel = (geometry.cropH / height) * (geometry.cropW / width);
    const area = { pixels: outlined, original_pixels: outlined * perPixel, mm2: null };
    const line = document.createElement('li');
    if (geometry.spacing) {
      area.mm2 = area.original_pixels * geometry.spacing[0] * geometry.spacing[1];
      line.textContent = `Outlined area: ${area.mm2.toFixed(1)} mm² (from the pixel size in the DICOM file, `
        + `${geometry.spacing[0]} × ${geometry.spacing[1]} mm).`;
    } else {
      line.textContent = `Outlined area: about ${Math.round(area.original_pixels).toLocaleString('en')} pixels of the original image. `
        + 'The image does not say how large a pixel is (a PNG or JPEG, or a DICOM without Pixel Spacing), so no area in mm² can be given.';
    }
    const share = document.createElement('li');
    share.textContent = `${(100 * outlined / (height * width)).toFixed(1)} % of the image is outlined in red.`;
    $('bars').append(line, share);
    $('preview-caption').textContent = 'The model\'s outline, in red';
    learnMore(label);
    return area;
  }

  // Detection (notebook 07's box regressor): four numbers, the box's corners as fractions of the input.
  function showDetection(result, drawn, geometry) {
    const { height, width } = state.meta.input;
    const [a, b, c, e] = result.values;
    const box = [Math.min(a, c), Math.min(b, e), Math.max(a, c), Math.max(b, e)];   // never inside out
    const pixels = [box[0] * width, box[1] * height, box[2] * width, box[3] * height];
    drawn.context.putImageData(drawn.image, 0, 0);
    const context = drawn.context;
    context.strokeStyle = '#ff3030';
    context.lineWidth = Math.max(1, Math.round(width / 64));
    context.strokeRect(pixels[0], pixels[1], pixels[2] - pixels[0], pixels[3] - pixels[1]);
    const label = state.meta.labels[state.meta.labels.length - 1];
    $('answer-title').textContent = `Found: ${label}`;
    $('bars').replaceChildren();
    // In pixels of the original image: the crop's corner plus the box scaled back from the model's size.
    const sx = geometry.cropW / width;
    const sy = geometry.cropH / height;
    const original = [geometry.left + pixels[0] * sx, geometry.top + pixels[1] * sy,
      geometry.left + pixels[2] * sx, geometry.top + pixels[3] * sy];
    const boxWidth = original[2] - original[0];
    const line = document.createElement('li');
    line.textContent = `Box: ${Math.round(boxWidth)} × ${Math.round(original[3] - original[1])} pixels of the original image`
      + (geometry.spacing ? ` (${(boxWidth * geometry.spacing[1]).toFixed(1)} mm wide).` : '.');
    const ratio = document.createElement('li');
    ratio.textContent = 'Cardiothoracic ratio: not given. This model finds the heart only; the ratio also needs the '
      + 'width of the chest, which it does not measure.';
    $('bars').append(line, ratio);
    $('preview-caption').textContent = `The model's box around the ${label}, in red`;
    return { fractions: box, model_pixels: pixels, original_pixels: original };
  }

  // Where is it looking? The class activation map (Zhou et al. 2016): for a classifier that averages its last
  // feature maps and then weighs them (global average pooling, then one dense layer), the map is exact:
  // the dense weights of the class times the feature maps, resized to the input (bilinear), negative parts
  // dropped, scaled to 0..1. radkit.explain.cam computes the same in Python.
  function camOf(features, classIndex) {
    const { height, width } = state.meta.input;
    return tf.tidy(() => {
      const [, h, w, k] = features.shape;
      const weights = state.camKernel.slice([0, classIndex], [k, 1]);
      const map = features.reshape([h * w, k]).matMul(weights).reshape([1, h, w, 1]).relu();
      const big = tf.image.resizeBilinear(map, [height, width], false, true);
      const top = big.max();
      return tf.where(top.greater(0), big.div(tf.maximum(top, 1e-30)), tf.zerosLike(big)).reshape([height * width]);
    });
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
    return analysePixels(pixelsOf(source, cols, rows), cols, rows, name, null);
  }

  // One picture (RGBA, rows x cols) through the model; the renderer is chosen by the model's task.
  async function analysePixels(rgba, cols, rows, name, dicom, started = performance.now()) {
    const { height, width } = state.meta.input;
    // Where the time goes (the benchmark reports it): reading the file, the DICOM, preparing, the model, drawing.
    const parts = { ...(dicom ? dicom.ms : {}), read: performance.now() - started };
    let mark = performance.now();
    const input = preprocess(rgba, rows, cols, dicom ? dicom.grey : null);
    parts.prepare = performance.now() - mark;
    const result = await predict(input, Boolean(state.camModel));
    parts.predict = result.ms;
    mark = performance.now();
    clearResult();
    $('result').hidden = false;
    $('preview-caption').textContent = 'What the model sees';
    const [cropH, cropW] = cropSize(rows, cols, height, width);
    const geometry = { cropH, cropW, top: Math.floor((rows - cropH) / 2), left: Math.floor((cols - cropW) / 2),
      spacing: dicom ? dicom.spacing : null };
    const entry = { ok: true, name, values: result.values, shape: result.shape, input: Array.from(input) };
    if (state.scope) entry.scope = checkScope(input, dicom ? 0 : colourfulness(rgba));
    if (state.meta.task === 'segmentation') entry.area = showSegmentation(result, showInput(input), geometry);
    else if (state.meta.task === 'detection') entry.box = showDetection(result, showInput(input), geometry);
    else if (entry.scope && !entry.scope.in_scope) {
      showFilm(rgba, dicom ? dicom.grey : null, cols, rows, geometry);
      entry.display = { width: $('preview').width, height: $('preview').height };
      if (result.features) result.features.dispose();
      entry.withheld = true;
      showWithheld(entry.scope);
    } else {
      const film = showFilm(rgba, dicom ? dicom.grey : null, cols, rows, geometry);
      $('preview-caption').textContent = 'The picture you chose';
      entry.display = { width: $('preview').width, height: $('preview').height };
      entry.ranked = showClassification(result);
      if (result.features) {
        entry.cam_class = camClass(result.values);
        const map = camOf(result.features, entry.cam_class);
        const heatmap = await map.data();
        map.dispose();
        result.features.dispose();
        drawHeatmapOnFilm(film, heatmap);
        entry.heatmap = Array.from(heatmap);
        $('preview-caption').textContent = `Where the model looked for “${state.meta.labels[camLabel(entry.cam_class)]}” `
          + '(red: strongest)';
      }
    }
    showDicom(dicom);
    parts.show = performance.now() - mark;
    entry.ms_total = performance.now() - started;
    entry.ms_parts = parts;
    $('timing').textContent = `Analysed in ${entry.ms_total.toFixed(0)} ms on this device (${state.backend}); `
      + `the model itself took ${result.ms.toFixed(0)} ms.`;
    if (dicom) {   // what the tests read; the identifying values themselves are never kept
      entry.dicom = { rows, cols, frames: dicom.frames, frame: dicom.frame, window: dicom.window,
        spacing: dicom.spacing, inverted: dicom.inverted, identifying: dicom.identifying.map((t) => t.keyword) };
    }
    say(`Done: ${name}. ${spokenResult()}`);
    hooks.results.push(entry);
  }

  // Which output the heatmap explains: the most likely class (for one yes/no output, the "yes").
  function camClass(values) {
    return values.indexOf(Math.max(...values));
  }
  function camLabel(index) {
    return state.meta.labels.length === 2 && state.camKernel.shape[1] === 1 ? 1 : index;
  }

  // ---------------------------------------------------------------- DICOM

  async function openDicom(file, started) {
    let picture;
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      if (state.meta.scope) {   // a CT, an MR or a limb film is refused from its header, before anything is drawn
        let problems = [];
        try { problems = headerProblems(readHeader(bytes)); } catch (error) { problems = []; }
        if (problems.length) {
          return refuse(file.name, `Not analysed: “${file.name}” is outside what this model learned from: `
            + `${problems.join('; ')}.`);
        }
      }
      const mark = performance.now();
      await window.radkitDicom.ready;   // the decompressors load in the background when the page opens
      picture = window.radkitDicom.read(bytes, file.name, state.meta.input.window || null);
      picture.ms = { file: mark - started, dicom: performance.now() - mark };
    } catch (error) {
      if (error instanceof window.radkitDicom.DicomRefusal) return refuse(file.name, error.message);
      console.warn(error);
      return refuse(file.name, `Sorry, “${file.name}” could not be read as DICOM (${error.message || error}). `
        + 'Export it again from the source, or open it in the RadKit notebook.');
    }
    try {
      say(`Analysing ${file.name}...`);
      return await analysePixels(null, picture.cols, picture.rows, file.name, picture, started);
    } catch (error) {
      console.error(error);
      return refuse(file.name, `Something went wrong while analysing “${file.name}”: ${error.message}`);
    }
  }

  // What the DICOM file says, and the identifying tags it carries, shown on this page only (textContent).
  function showDicom(dicom) {
    const place = $('dicom-info');
    if (!place) return;
    place.hidden = !dicom;
    if (!dicom) return;
    const w = dicom.window;
    $('dicom-summary').textContent = `DICOM ${dicom.modality || ''} ${dicom.cols} × ${dicom.rows}`
      + (dicom.frames > 1 ? `, frame ${dicom.frame + 1} of ${dicom.frames} (the middle one)` : '')
      + `, window ${+w.level.toFixed(1)} / ${+w.width.toFixed(1)} from ${w.from}`
      + (dicom.inverted ? ', MONOCHROME1 turned the right way round' : '')
      + (dicom.spacing ? `, pixel size ${dicom.spacing[0]} × ${dicom.spacing[1]} mm.` : ', no pixel size in the file.');
    const list = $('dicom-tags');
    list.replaceChildren();
    const warning = $('dicom-warning');
    warning.hidden = dicom.identifying.length === 0;
    warning.textContent = dicom.identifying.length === 0 ? ''
      : 'Warning: this file carries details that can identify the patient. They are shown here only, on this '
        + 'device; the app never sends or stores them. De-identify files before sharing them (notebook 01).';
    for (const tag of dicom.identifying) {
      const li = document.createElement('li');
      li.textContent = `${tag.label} ${tag.tag}: ${tag.value}`;
      list.append(li);
    }
  }

  // ---------------------------------------------------------------- about this model (its model card)

  function showModelCard(card) {
    const place = $('model-card');
    if (!place || !card) return;
    place.hidden = false;
    $('card-intended').textContent = card.intended_use || '(not stated)';
    const notFor = $('card-not-for');
    notFor.replaceChildren();
    for (const item of card.not_for_use || []) {
      const li = document.createElement('li');
      li.textContent = item;
      notFor.append(li);
    }
    const metrics = $('card-metrics');
    metrics.replaceChildren();
    for (const m of card.metrics || []) {
      const li = document.createElement('li');
      li.textContent = `${m.metric} on ${m.data}: ${m.estimate}${m.films ? ` (${m.films} films)` : ''}`;
      metrics.append(li);
    }
    $('card-source').textContent = card.date ? `From the model card written by RadKit on ${card.date}.` : '';
  }

  // The answer in one sentence for the status line, which screen readers announce (it is an aria-live region).
  function spokenResult() {
    const first = $('bars').querySelector('li');
    const parts = first ? Array.from(first.querySelectorAll('span'), (span) => span.textContent) : [];
    const detail = parts.length ? parts.join(' ') : (first ? first.textContent : '');
    return `${$('answer-title').textContent}${detail ? ` (${detail})` : ''}.`;
  }

  // Forget everything shown about the previous file: its answer, its picture and its DICOM details (the
  // patient's name, ID, age and study date must never stay on screen under another file's result or error).
  function clearResult() {
    $('result').hidden = true;
    $('result').classList.remove('withheld');
    $('answer-title').textContent = 'Result';
    $('bars').replaceChildren();
    $('learn-more').replaceChildren();
    $('timing').textContent = '';
    $('preview-caption').textContent = '';
    const canvas = $('preview');
    canvas.classList.remove('film');
    canvas.width = 1; canvas.height = 1;
    canvas.getContext('2d').clearRect(0, 0, 1, 1);
    const place = $('dicom-info');
    if (place) {
      place.hidden = true;
      $('dicom-summary').textContent = '';
      $('dicom-tags').replaceChildren();
      $('dicom-warning').textContent = '';
      $('dicom-warning').hidden = true;
    }
  }

  function refuse(name, message) {
    clearResult();
    say(message, true);
    hooks.results.push({ ok: false, name, message });
  }

  // Width and height from a PNG's or JPEG's first bytes (null when they do not say): a picture too large to
  // read safely is refused before the browser tries to decode it.
  function declaredSize(head) {
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const ihdr = head.length >= 24 && String.fromCharCode(head[12], head[13], head[14], head[15]) === 'IHDR';
    if (ihdr && head[0] === 0x89 && head[1] === 0x50 && head[2] === 0x4e && head[3] === 0x47) {
      return [view.getUint32(16), view.getUint32(20)];
    }
    if (head.length >= 4 && head[0] === 0xff && head[1] === 0xd8) {
      let p = 2;
      while (p + 9 < head.length && head[p] === 0xff) {
        const marker = head[p + 1];
        const length = view.getUint16(p + 2);
        if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
          return [view.getUint16(p + 7), view.getUint16(p + 5)];
        }
        p += 2 + length;
      }
    }
    return null;
  }

  function tooLarge(name, pixels) {
    const limit = state.app.max_pixels;
    if (!limit || pixels <= limit) return false;
    refuse(name, `“${name}” is too large to read safely: over ${limit.toLocaleString('en')} pixels (a chest film has `
      + 'about 10 million). Make a smaller copy first (for example 2048 pixels on the longest side).');
    return true;
  }

  async function openFile(file) {
    if (!state.model) return;
    const started = performance.now();
    if (file.size > 60e6) return refuse(file.name, `“${file.name}” is too large (over 60 MB). Please choose a smaller image.`);
    const head = new Uint8Array(await file.slice(0, 65536).arrayBuffer());
    if (window.radkitDicom) {   // DICOM (.dcm, or "DICM" at byte 128 for files without extension)
      if (window.radkitDicom.isDicom(file.name, head.subarray(0, 132))) return openDicom(file, started);
    }
    const size = declaredSize(head);
    if (size && tooLarge(file.name, size[0] * size[1])) return undefined;
    let bitmap;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
    } catch (error) {
      return refuse(file.name, `Sorry, “${file.name}” could not be opened as a picture. Please choose a PNG or JPEG image `
        + 'or a DICOM file.');
    }
    if (tooLarge(file.name, bitmap.width * bitmap.height)) { bitmap.close(); return undefined; }
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

  // ---------------------------------------------------------------- custom layers

  // Notebook 07's "edges" box regressor (radkit.models.box_regressor(head="edges")) ends in BoxEdges, a
  // RadKit layer TensorFlow.js does not have; this is the same computation as its Keras call():
  // scores (N, rows, cols, 4) for x_min, y_min, x_max, y_max; x-edges average the scores over rows (one score
  // per column), y-edges over columns; plus a learned bias per position; a softmax over positions; the edge
  // is the weighted average position (0..1), (i + 0.5) / n for position i of n.
  class BoxEdges extends tf.layers.Layer {
    static className = 'BoxEdges';

    constructor(config) {
      super(config);
      this.startBox = config.start_box;
      this.spread = config.spread;
    }

    build(inputShape) {
      this.rows = inputShape[1];
      this.cols = inputShape[2];
      // The values come from the model's weight file; the initialiser only gives the shape.
      this.xBias = this.addWeight('x_bias', [this.cols, 2], 'float32', tf.initializers.zeros());
      this.yBias = this.addWeight('y_bias', [this.rows, 2], 'float32', tf.initializers.zeros());
      this.built = true;
    }

    computeOutputShape(inputShape) { return [inputShape[0], 4]; }

    call(inputs) {
      return tf.tidy(() => {
        const scores = Array.isArray(inputs) ? inputs[0] : inputs;
        const edge = (channels, axis, bias, n) => {
          const summed = tf.mean(tf.gather(scores, channels, 3), axis).add(bias.read());   // (N, n, 2)
          const weights = tf.softmax(summed.transpose([0, 2, 1]));                         // over the n positions
          const places = tf.range(0, n, 1, 'float32').add(0.5).div(n);
          return weights.mul(places).sum(2);                                               // (N, 2)
        };
        const x = edge([0, 2], 1, this.xBias, this.cols);
        const y = edge([1, 3], 2, this.yBias, this.rows);
        return tf.stack([x.slice([0, 0], [-1, 1]), y.slice([0, 0], [-1, 1]),
          x.slice([0, 1], [-1, 1]), y.slice([0, 1], [-1, 1])], 1).reshape([-1, 4]);
      });
    }

    getConfig() {
      return { ...super.getConfig(), start_box: this.startBox, spread: this.spread };
    }
  }
  tf.serialization.registerClass(BoxEdges);

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
    setUpHeatmap();
    await setUpScope();
    if (state.app.model_card) showModelCard(await fetchJSON('model_card.json'));
    const { height, width, channels } = state.meta.input;
    tf.tidy(() => state.model.predict(tf.zeros([1, height, width, channels])).dataSync()); // warm up
    const loadMs = performance.now() - started;
    $('tech').textContent = `TensorFlow.js ${tf.version.tfjs}, backend ${state.backend}; model input ${width} × ${height} × ${channels}; `
      + `${state.meta.parameters.toLocaleString()} parameters (${state.meta.weights}).`;
    say(`Ready. Choose an image${navigator.mediaDevices ? ' or use the camera' : ''}.`);
    if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) $('camera-button').hidden = false;
    return { backend: state.backend, loadMs, task: state.meta.task, labels: state.meta.labels };
  }

  // A second view of the same model that also returns the feature maps the heatmap needs (radkit.json's "cam").
  function setUpHeatmap() {
    const cam = state.meta.cam;
    if (!cam || state.meta.task !== 'classification') return;
    const features = state.model.getLayer(cam.features).output;
    state.camModel = tf.model({ inputs: state.model.inputs, outputs: [features, state.model.outputs[0]] });
    state.camKernel = state.model.getLayer(cam.dense).getWeights()[0];
    const { height, width, channels } = state.meta.input;
    tf.tidy(() => camOf(state.camModel.predict(tf.zeros([1, height, width, channels]))[0], 0).dataSync()); // warm up
  }

  // The model's scope (radkit.json's "scope", its numbers in scope.bin): the layers whose averaged feature maps
  // are compared with the training films', the training films' average, and the whitening matrix.
  async function setUpScope() {
    const scope = state.meta.scope;
    if (!scope || state.meta.task !== 'classification') return;
    const response = await fetch(`model/${scope.file}`);
    if (!response.ok) throw new Error(`model/${scope.file}: ${response.status}`);
    const numbers = new Float32Array(await response.arrayBuffer());
    const n = scope.features;
    if (numbers.length !== n + n * n) throw new Error(`model/${scope.file} does not hold ${n} features`);
    const outputs = scope.layers.map((name) => state.model.getLayer(name).output);
    state.scope = { mean: numbers.subarray(0, n), whitening: numbers.subarray(n),
      model: tf.model({ inputs: state.model.inputs, outputs }) };
  }

  hooks.predict = async (data) => predict(Float32Array.from(data));
  hooks.scope = async (data) => checkScope(Float32Array.from(data), 0);
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
