// RadKit browser app: reading a DICOM file on this device, the way radkit.dicom.load_image does in Python.
// dicom-parser (npm, bundled into the site) reads the header; this file turns the stored pixel values into
// the grey picture radkit makes: rescale slope/intercept (per frame for enhanced files), padding, the file's
// window (or the model's), MONOCHROME1 inverted, the middle frame of a multi-frame file, rounded to 0..255.
// Every step copies the float32 arithmetic of radkit/dicom.py, so both give the same picture, pixel for pixel.
// Nothing read here is sent or stored: the identifying tags are only shown on this page.
'use strict';

(() => {
  const UNCOMPRESSED = {
    '1.2.840.10008.1.2': { name: 'Implicit VR Little Endian', little: true },
    '1.2.840.10008.1.2.1': { name: 'Explicit VR Little Endian', little: true },
    '1.2.840.10008.1.2.2': { name: 'Explicit VR Big Endian', little: false },
  };
  // pydicom's names for the compressed transfer syntaxes, so the page names them as the notebook does.
  const COMPRESSED = {
    '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
    '1.2.840.10008.1.2.4.50': 'JPEG Baseline (Process 1)',
    '1.2.840.10008.1.2.4.51': 'JPEG Extended (Process 2 and 4)',
    '1.2.840.10008.1.2.4.57': 'JPEG Lossless, Non-Hierarchical (Process 14)',
    '1.2.840.10008.1.2.4.70': 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])',
    '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless Image Compression',
    '1.2.840.10008.1.2.4.81': 'JPEG-LS Lossy (Near-Lossless) Image Compression',
    '1.2.840.10008.1.2.4.90': 'JPEG 2000 Image Compression (Lossless Only)',
    '1.2.840.10008.1.2.4.91': 'JPEG 2000 Image Compression',
    '1.2.840.10008.1.2.4.201': 'High-Throughput JPEG 2000 Image Compression (Lossless Only)',
    '1.2.840.10008.1.2.4.202': 'High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)',
    '1.2.840.10008.1.2.4.203': 'High-Throughput JPEG 2000 Image Compression',
    '1.2.840.10008.1.2.5': 'RLE Lossless',
  };
  // Tags that can identify a patient (from DICOM PS3.15's Basic Profile): shown with a warning, never kept.
  const IDENTIFYING = [
    ['x00100010', 'PatientName', 'Patient name'], ['x00100020', 'PatientID', 'Patient ID'],
    ['x00100030', 'PatientBirthDate', 'Birth date'], ['x00100040', 'PatientSex', 'Sex'],
    ['x00101010', 'PatientAge', 'Age'], ['x00101000', 'OtherPatientIDs', 'Other patient IDs'],
    ['x00101001', 'OtherPatientNames', 'Other patient names'], ['x00101040', 'PatientAddress', 'Address'],
    ['x00102154', 'PatientTelephoneNumbers', 'Telephone'], ['x00080050', 'AccessionNumber', 'Accession number'],
    ['x00080020', 'StudyDate', 'Study date'], ['x00200010', 'StudyID', 'Study ID'],
    ['x00080080', 'InstitutionName', 'Institution'], ['x00080081', 'InstitutionAddress', 'Institution address'],
    ['x00080090', 'ReferringPhysicianName', 'Referring physician'],
    ['x00081050', 'PerformingPhysicianName', 'Performing physician'], ['x00081070', 'OperatorsName', 'Operator'],
    ['x00081010', 'StationName', 'Station name'], ['x00181000', 'DeviceSerialNumber', 'Device serial number'],
  ];
  // Image storage classes (pydicom's names): such a file without pixels is cut short, as radkit.dicom.read says.
  const IMAGE_STORAGE = {
    '1.2.840.10008.5.1.4.1.1.1': 'Computed Radiography Image Storage',
    '1.2.840.10008.5.1.4.1.1.1.1': 'Digital X-Ray Image Storage - For Presentation',
    '1.2.840.10008.5.1.4.1.1.1.1.1': 'Digital X-Ray Image Storage - For Processing',
    '1.2.840.10008.5.1.4.1.1.1.2': 'Digital Mammography X-Ray Image Storage - For Presentation',
    '1.2.840.10008.5.1.4.1.1.2': 'CT Image Storage', '1.2.840.10008.5.1.4.1.1.2.1': 'Enhanced CT Image Storage',
    '1.2.840.10008.5.1.4.1.1.4': 'MR Image Storage', '1.2.840.10008.5.1.4.1.1.4.1': 'Enhanced MR Image Storage',
    '1.2.840.10008.5.1.4.1.1.6.1': 'Ultrasound Image Storage',
    '1.2.840.10008.5.1.4.1.1.3.1': 'Ultrasound Multi-frame Image Storage',
    '1.2.840.10008.5.1.4.1.1.7': 'Secondary Capture Image Storage',
    '1.2.840.10008.5.1.4.1.1.12.1': 'X-Ray Angiographic Image Storage',
    '1.2.840.10008.5.1.4.1.1.20': 'Nuclear Medicine Image Storage',
    '1.2.840.10008.5.1.4.1.1.128': 'Positron Emission Tomography Image Storage',
    '1.2.840.10008.5.1.4.1.1.481.1': 'RT Image Storage',
  };
  const KNOWN = ['x00080016', 'x00080018', 'x00080060', 'x7fe00010', 'x0020000d', 'x00100020'];

  class DicomRefusal extends Error {}
  const fround = Math.fround;

  function refuse(problem, fix) { throw new DicomRefusal(`${problem} ${fix}`); }

  function damaged(name, what) {
    refuse(`${name} ${what}; it is probably damaged or incomplete (for example a copy that stopped half-way).`,
      'Copy or export the file again from the source.');
  }

  // Same rule as radkit.data.is_dicom: a .dcm/.dicom name, or "DICM" at byte 128 (files without extension).
  function isDicom(name, head) {
    if (/\.(dcm|dicom)$/i.test(name)) return true;
    return head.length >= 132 && String.fromCharCode(head[128], head[129], head[130], head[131]) === 'DICM';
  }

  function parse(bytes, name) {
    const hasPreamble = bytes.length >= 132
      && String.fromCharCode(bytes[128], bytes[129], bytes[130], bytes[131]) === 'DICM';
    if (hasPreamble) {
      try { return dicomParser.parseDicom(bytes); } catch (error) {
        damaged(name, `could not be read as DICOM (${describeParserError(error)})`);
      }
    }
    // Without the 128-byte preamble and "DICM" (as some older systems write it): read it anyway when it is DICOM.
    // Like pydicom, guess the encoding from the first element: two capital letters after the tag are a VR
    // (explicit VR), anything else means implicit VR.
    const explicit = bytes.length > 6 && /^[A-Z]{2}$/.test(String.fromCharCode(bytes[4], bytes[5]));
    try {
      const ds = dicomParser.parseDicom(bytes, { TransferSyntaxUID: explicit ? '1.2.840.10008.1.2.1' : '1.2.840.10008.1.2' });
      if (KNOWN.some((tag) => tag in ds.elements)) return ds;
    } catch (error) { /* not DICOM: said below */ }
    return refuse(`${name} is not a DICOM file (it has no DICOM header, and its contents are not DICOM either).`,
      'Check that you picked the right file; it may be another kind of file renamed to .dcm.');
  }

  function describeParserError(error) {
    const text = String((error && error.exception) || error);
    return text.replace(/^dicomParser\.\w+:\s*/, '').slice(0, 120);
  }

  function first(ds, tag) {
    const value = ds.floatString(tag, 0);
    return Number.isFinite(value) ? value : undefined;
  }

  // Enhanced CT/MR: the item of `group` that applies to each frame (its own, else the shared one), or null.
  function perFrame(ds, group, frames) {
    const firstItem = (sequence) => {
      const element = sequence && sequence.elements[group];
      return element && element.items && element.items.length ? element.items[0].dataSet : null;
    };
    const sharedElement = ds.elements.x52009229;
    const shared = sharedElement && sharedElement.items && sharedElement.items.length
      ? firstItem(sharedElement.items[0].dataSet) : null;
    const perElement = ds.elements.x52009230;
    const items = (perElement && perElement.items) || [];
    const found = [];
    for (let i = 0; i < frames; i++) found.push((i < items.length ? firstItem(items[i].dataSet) : null) || shared);
    return found.some((item) => item) ? found : null;
  }

  // The stored values, with the unused high bits corrected as pydicom does (shift left, then right).
  // Frames `first` to `first + nFrames - 1` of them (the whole buffer is checked, as pydicom does).
  function storedValues(ds, name, rows, cols, frames, first = 0, nFrames = frames) {
    const element = ds.elements.x7fe00010;
    const allocated = ds.uint16('x00280100');
    const storedBits = ds.uint16('x00280101') || allocated;
    const signed = ds.uint16('x00280103') === 1;
    if (![1, 8, 16, 32].includes(allocated)) {
      refuse(`${name} stores ${allocated}-bit pixels, which this web app cannot read.`,
        'Export the image again as 8- or 16-bit greyscale, or open it in the RadKit notebook.');
    }
    const all = rows * cols * frames;
    const needed = allocated === 1 ? Math.ceil(all / 8) : all * allocated / 8;
    const skip = rows * cols * first;
    const count = rows * cols * nFrames;
    if (element.length < needed || element.dataOffset + needed > ds.byteArray.length) {
      damaged(name, 'has an image that could not be decoded');
    }
    if (allocated === 1) {   // one bit per pixel (masks, segmentations), the lowest bit of each byte first
      const bits = ds.byteArray.subarray(element.dataOffset, element.dataOffset + needed);
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = (bits[(i + skip) >> 3] >> ((i + skip) & 7)) & 1;
      return out;
    }
    const bytesPer = allocated / 8;
    const little = ds.byteArrayParser !== dicomParser.bigEndianByteArrayParser;
    const start = ds.byteArray.byteOffset + element.dataOffset + skip * allocated / 8;
    const out = allocated === 32 ? new Float64Array(count) : new Int32Array(count);
    const shift = 32 - Math.min(storedBits, allocated);
    const fix = shift > 0 && shift < 32;
    if (allocated === 16 && little && start % 2 === 0) {   // the common case: read the 16-bit words directly
      const words = new Uint16Array(ds.byteArray.buffer, start, count);
      for (let i = 0; i < count; i++) {
        const v = words[i];
        out[i] = !fix ? (signed ? (v << 16) >> 16 : v) : signed ? (v << shift) >> shift : (v << shift) >>> shift;
      }
      return out;
    }
    const view = new DataView(ds.byteArray.buffer, start, count * bytesPer);
    for (let i = 0; i < count; i++) {
      let v = allocated === 8 ? view.getUint8(i) : allocated === 16 ? view.getUint16(2 * i, little) : view.getUint32(4 * i, little);
      if (fix) v = signed ? (v << shift) >> shift : (v << shift) >>> shift;
      else if (signed) v = allocated === 8 ? (v << 24) >> 24 : allocated === 16 ? (v << 16) >> 16 : v | 0;
      out[i] = v;
    }
    return out;
  }

  function paddingRange(ds) {
    const element = ds.elements.x00280120;
    if (!element) return null;
    const signed = element.vr ? element.vr === 'SS' : ds.uint16('x00280103') === 1;
    const read = (tag) => (signed ? ds.int16(tag) : ds.uint16(tag));
    let low = read('x00280120');
    let high = low;
    if (ds.elements.x00280121) [low, high] = [low, read('x00280121')].sort((a, b) => a - b);
    return [low, high];
  }

  // numpy's np.round for the values 0..255 made here: halves go to the even neighbour (Math.round goes up).
  function roundHalfEven(x) {
    const r = Math.round(x);
    return r - x === 0.5 && (r & 1) ? r - 1 : r;
  }

  function identifying(ds) {
    const utf8 = /ISO_IR 192/.test(ds.string('x00080005') || '');
    const decoder = new TextDecoder(utf8 ? 'utf-8' : 'latin1');
    const found = [];
    for (const [tag, keyword, label] of IDENTIFYING) {
      const element = ds.elements[tag];
      if (!element || !element.length) continue;
      const raw = ds.byteArray.subarray(element.dataOffset, element.dataOffset + element.length);
      const value = decoder.decode(raw).replace(/\0/g, '').replace(/\^+/g, ' ').replace(/\\/g, '; ').trim();
      if (value) found.push({ tag: `(${tag.slice(1, 5)},${tag.slice(5)})`.toUpperCase(), keyword, label, value });
    }
    return found;
  }

  // One DICOM file -> the grey picture radkit.dicom.load_image makes (uint8, rows x cols) and what the page shows.
  // `window` is the model's [level, width] (used instead of the file's), or null.
  function read(bytes, name, window) {
    const ds = parse(bytes, name);
    const syntax = (ds.string('x00020010') || '1.2.840.10008.1.2').replace(/\0/g, '').trim();
    const photometric = (ds.string('x00280004') || '').trim();
    if (/^(RGB|YBR|PALETTE)/.test(photometric)) {
      refuse(`${name} is a colour image (${photometric}), but a grey (black-and-white) image was expected.`,
        'Use a greyscale image such as an X-ray, CT or MRI.');
    }
    const sopClass = (ds.string('x00080016') || ds.string('x00020002') || '').replace(/\0/g, '').trim();
    if (!ds.elements.x7fe00010 && IMAGE_STORAGE[sopClass]) {
      damaged(name, `should hold an image (${IMAGE_STORAGE[sopClass]}) but ends before it`);
    }
    if (!ds.elements.x7fe00010) {
      refuse(`${name} has no image in it (no Pixel Data): it may be a report or an index file.`,
        'Pick a file that holds an image.');
    }
    if (!(syntax in UNCOMPRESSED)) {
      const what = COMPRESSED[syntax] || `transfer syntax ${syntax}`;
      refuse(`${name} is compressed (${what}), which this web app cannot decompress: it reads uncompressed DICOM only.`,
        'Export the image again uncompressed (most PACS viewers can), or open it in the RadKit notebook, which '
        + 'decompresses it (pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg).');
    }
    if (ds.elements.x00283000) {
      refuse(`${name} uses a modality look-up table (Modality LUT Sequence), which this web app does not apply.`,
        'Open it in the RadKit notebook (radkit.dicom.load_image applies it), or export it again as a plain image.');
    }
    const rows = ds.uint16('x00280010');
    const cols = ds.uint16('x00280011');
    const frames = Math.max(1, ds.intString('x00280008') || 1);
    if (!rows || !cols) damaged(name, 'has no image size (Rows and Columns)');
    const modality = (ds.string('x00080060') || '').trim();
    const size = rows * cols;
    // Only the middle frame is shown; all frames are read only when padding must be found in all of them
    // (radkit fills padding with the lowest other value of the whole file).
    const frame = frames > 1 ? Math.floor(frames / 2) : 0;
    const padding = modality === 'RTDOSE' ? null : paddingRange(ds);
    const from = padding ? 0 : frame;
    const stored = storedValues(ds, name, rows, cols, frames, from, padding ? frames : 1);

    // Pixel values in the file's units (float32), as radkit.dicom.pixels.
    let slope; let intercept;
    if (modality === 'RTDOSE') {
      slope = [first(ds, 'x3004000e') || 1]; intercept = [0];
    } else {
      const groups = perFrame(ds, 'x00289145', frames);
      if (groups) {
        slope = groups.map((g) => (g && first(g, 'x00281053')) || 1);
        intercept = groups.map((g) => (g && first(g, 'x00281052')) || 0);
      } else {
        slope = [first(ds, 'x00281053') || 1];
        intercept = [first(ds, 'x00281052') || 0];
      }
    }
    const perFrameScale = frames > 1 && slope.length === frames;
    const values = new Float32Array(stored.length);
    for (let k = 0; k < stored.length / size; k++) {
      const s = perFrameScale ? slope[from + k] : slope[0];
      const b = perFrameScale ? intercept[from + k] : intercept[0];
      for (let i = k * size, end = (k + 1) * size; i < end; i++) values[i] = stored[i] * s + b;   // RT dose: b = 0
    }
    if (padding) {
      let padded = 0; let lowest = Infinity;
      for (let i = 0; i < stored.length; i++) {
        if (stored[i] >= padding[0] && stored[i] <= padding[1]) padded++;
        else if (values[i] < lowest) lowest = values[i];
      }
      if (padded > 0 && padded < stored.length) {
        const fill = modality === 'CT' ? -1000 : lowest;
        for (let i = 0; i < stored.length; i++) if (stored[i] >= padding[0] && stored[i] <= padding[1]) values[i] = fill;
      }
    }

    // The middle frame, its window (the model's, else the file's), MONOCHROME1 inverted: radkit.dicom.display_image.
    const own = values.subarray((frame - from) * size, (frame - from + 1) * size);
    let shown = window ? { level: window[0], width: window[1], from: 'the model' } : null;
    if (!shown) {
      const voi = perFrame(ds, 'x00289132', frames);
      const source = voi ? voi[Math.min(frame, voi.length - 1)] : ds;
      const level = source && first(source, 'x00281050');
      const width = source && first(source, 'x00281051');
      if (level !== undefined && width !== undefined && width > 0) shown = { level, width, from: 'the file' };
    }
    let low; let span; let clip = true;
    if (shown) {
      low = fround(shown.level - shown.width / 2);
      span = fround(shown.width);
    } else {
      if (ds.elements.x00283010) {
        refuse(`${name} has no window but a VOI look-up table, which this web app does not apply.`,
          'Open it in the RadKit notebook (radkit.dicom.load_image applies it).');
      }
      let high = -Infinity;
      low = Infinity;
      for (let i = 0; i < size; i++) { if (own[i] < low) low = own[i]; if (own[i] > high) high = own[i]; }
      span = fround(high > low ? high - low : 1);
      clip = false;
      shown = { level: (low + high) / 2, width: high - low, from: 'the full range of values' };
    }
    const inverted = photometric === 'MONOCHROME1';
    const grey = new Uint8ClampedArray(size);
    for (let i = 0; i < size; i++) {   // window (float32, as numpy), invert, * 255, round half to even
      let v = fround(fround(own[i] - low) / span);
      if (clip) v = v < 0 ? 0 : v > 1 ? 1 : v;
      if (inverted) v = fround(1 - v);
      grey[i] = roundHalfEven(fround(v * 255));
    }
    const spacingText = ds.string('x00280030');
    let spacing = null;
    if (spacingText) {
      const parts = spacingText.split('\\').map(parseFloat);
      if (parts.length === 2 && parts.every((p) => p > 0)) spacing = parts;   // [between rows, between columns], mm
    }
    return {
      rows, cols, grey, spacing, frames, frame, photometric, modality, inverted,
      window: shown, syntax: UNCOMPRESSED[syntax].name, identifying: identifying(ds),
    };
  }

  window.radkitDicom = { isDicom, read, DicomRefusal };
})();
