// RadKit browser app: reading a DICOM file on this device, the way radkit.dicom.load_image does in Python.
// dicom-parser (npm, bundled into the site) reads the header; this file turns the stored pixel values into
// the grey picture radkit makes: rescale slope/intercept (per frame for enhanced files), padding, the file's
// window (or the model's), MONOCHROME1 inverted, the middle frame of a multi-frame file, rounded to 0..255.
// Every step copies the float32 arithmetic of the radkit.dicom package (radkit/dicom/pixels.py), so both give
// the same picture, pixel for pixel.
// Compressed files (JPEG, JPEG lossless, JPEG-LS, JPEG 2000, RLE: what hospital systems often export) are
// decompressed here too, by kept decoders from npm copied into the site's vendor/ folder (see
// radkit/webapp/codecs/LICENSES.md), giving the same stored values as pydicom with pylibjpeg in the notebook.
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

  // The decoder for each compressed transfer syntax the page can read. RLE is simple enough to decode here
  // (DICOM PS3.5 Annex G); the others are kept builds of well-known libraries (npm), loaded from vendor/.
  const DECODER_OF = {
    '1.2.840.10008.1.2.4.50': 'jpeg', '1.2.840.10008.1.2.4.51': 'jpeg',
    '1.2.840.10008.1.2.4.57': 'jpegLossless', '1.2.840.10008.1.2.4.70': 'jpegLossless',
    '1.2.840.10008.1.2.4.80': 'jpegLS', '1.2.840.10008.1.2.4.81': 'jpegLS',
    '1.2.840.10008.1.2.4.90': 'jpeg2000', '1.2.840.10008.1.2.4.91': 'jpeg2000',
    '1.2.840.10008.1.2.5': 'rle',
  };
  const DECODER_FILES = {   // [script in vendor/, the name it defines]
    jpeg: ['libjpegturbowasm_decode.js', 'libjpegturbowasm_decode'],   // libjpeg-turbo (8-bit JPEG)
    jpegLossless: ['lossless-min.js', 'jpeg'],                          // jpeg-lossless-decoder-js (plain JS)
    jpegLS: ['charlswasm_decode.js', 'CharLSWASM'],                     // CharLS
    jpeg2000: ['openjpegwasm_decode.js', 'OpenJPEGWASM'],               // OpenJPEG
  };
  const decoders = { rle: true };   // filled in as each decoder finishes loading
  const failed = {};                // decoders that could not be loaded (a site built without them)

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const script = document.createElement('script');   // same origin: the page's security policy allows it
      script.src = src;
      script.onload = resolve;
      script.onerror = () => reject(new Error(`${src} could not be loaded`));
      document.head.appendChild(script);
    });
  }

  function loadDecoder(kind) {
    const [file, global] = DECODER_FILES[kind];
    const inVendor = (name) => new URL(`vendor/${name}`, document.baseURI).href;
    return loadScript(inVendor(file))
      .then(() => (kind === 'jpegLossless' ? window[global] : window[global]({ locateFile: inVendor })))
      .then((module) => { decoders[kind] = module; })
      .catch((error) => { failed[kind] = String(error && error.message); });
  }

  // Loaded in the background as soon as the page opens (under 1 MB, kept offline with the rest of the site),
  // so a compressed file can be read at once. `ready` resolves when all have loaded (or failed), with the
  // milliseconds since the page started opening.
  const ready = Promise.all(Object.keys(DECODER_FILES).map(loadDecoder))
    .then(() => ({ loaded: Object.keys(decoders).sort(), failed: { ...failed }, ms: Math.round(performance.now()) }));

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

  // ---------------------------------------------------------------- compressed pixel data

  // The compressed bytes of one frame (`index`, from 0), from the fragments of the encapsulated Pixel Data.
  function frameBytes(ds, element, name, index, frames, kind) {
    const fragments = element.fragments || [];
    if (!fragments.length) damaged(name, 'has an image that could not be decoded');
    try {
      if (frames === 1) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, element, 0, fragments.length);
      if (element.basicOffsetTable && element.basicOffsetTable.length) {
        return dicomParser.readEncapsulatedImageFrame(ds, element, index);
      }
      if (fragments.length === frames) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, element, index, 1);
      if (kind === 'jpeg' || kind === 'jpegLossless') {   // frames split over fragments: find where each JPEG ends
        return dicomParser.readEncapsulatedImageFrame(ds, element, index,
          dicomParser.createJPEGBasicOffsetTable(ds, element));
      }
    } catch (error) {
      damaged(name, `has an image that could not be decoded (${describeParserError(error)})`);
    }
    return damaged(name, 'has frames that cannot be told apart (no offset table)');
  }

  // RLE Lossless (DICOM PS3.5 Annex G): a 64-byte header with the start of each segment, then one PackBits
  // segment per byte of a pixel, the most significant byte first. Returns the bytes as stored uncompressed
  // (little endian), like pydicom's own RLE decoder (extra decoded bytes are ignored, too few are damage).
  function decodeRle(data, name, size, bytesPer) {
    if (data.length < 64) damaged(name, 'has an RLE image that is cut short');
    const header = new DataView(data.buffer, data.byteOffset, 64);
    const segments = header.getUint32(0, true);
    if (segments !== bytesPer) {
      damaged(name, `has ${segments} RLE segments where ${bytesPer} were expected`);
    }
    const out = new Uint8Array(size * bytesPer);
    for (let s = 0; s < segments; s++) {
      let i = header.getUint32(4 + 4 * s, true);
      const end = s + 1 < segments ? header.getUint32(8 + 4 * s, true) : data.length;
      if (i < 64 || end > data.length || i > end) damaged(name, 'has an RLE image whose segments do not fit');
      const at = bytesPer - 1 - s;   // segment 0 holds the most significant byte
      let n = 0;
      while (i < end && n < size) {
        const header8 = (data[i++] << 24) >> 24;
        if (header8 >= 0) {           // copy the next header8 + 1 bytes
          for (let k = 0; k <= header8 && i < end && n < size; k++) out[(n++) * bytesPer + at] = data[i++];
        } else if (header8 !== -128) {   // repeat the next byte 1 - header8 times
          const value = data[i++];
          for (let k = 0; k < 1 - header8 && n < size; k++) out[(n++) * bytesPer + at] = value;
        }
      }
      if (n < size) damaged(name, 'has an RLE image that decodes to fewer pixels than it should');
    }
    return out;
  }

  // A WebAssembly decoder (libjpeg-turbo, CharLS, OpenJPEG): the frame's decoded values and what the
  // compressed stream says about them (size, bits per value, signed or not).
  function decodeWasm(Decoder, data) {
    const decoder = new Decoder();
    try {
      decoder.getEncodedBuffer(data.length).set(data);
      decoder.decode();
      const info = decoder.getFrameInfo();
      const bytes = decoder.getDecodedBuffer();
      const wide = info.bitsPerSample > 8;
      const Type = wide ? (info.isSigned ? Int16Array : Uint16Array) : (info.isSigned ? Int8Array : Uint8Array);
      return {   // .slice(): a copy, out of the decoder's memory
        values: new Type(bytes.buffer, bytes.byteOffset, bytes.byteLength / Type.BYTES_PER_ELEMENT).slice(),
        cols: info.width, rows: info.height, components: info.componentCount,
        precision: info.bitsPerSample, signed: Boolean(info.isSigned),
      };
    } finally {
      decoder.delete();
    }
  }

  function decodeJpegLossless(data) {
    const decoder = new decoders.jpegLossless.lossless.Decoder();
    const values = decoder.decode(data.buffer, data.byteOffset, data.length);
    return { values, cols: decoder.xDim, rows: decoder.yDim, components: decoder.numComp,
      precision: decoder.precision, signed: false };
  }

  // The stored values of frames `first` .. `first + nFrames - 1` of a compressed file, exactly as pydicom's
  // pixel_array gives them (decoded with pylibjpeg): each value cast to the file's integer type (Bits
  // Allocated, signed or not), and, for JPEG-LS and JPEG 2000, pydicom's sign correction from the precision
  // the compressed stream declares (JPEG-LS cannot store signed values; some JPEG 2000 files disagree with
  // the header about signs).
  function decodedValues(ds, name, syntax, rows, cols, frames, first, nFrames) {
    const kind = DECODER_OF[syntax];
    const element = ds.elements.x7fe00010;
    const allocated = ds.uint16('x00280100');
    const signed = ds.uint16('x00280103') === 1;
    if (![8, 16, 32].includes(allocated) || (kind !== 'rle' && allocated === 32)) {
      refuse(`${name} stores ${allocated}-bit compressed pixels, which this web app cannot read.`,
        'Export the image again as 8- or 16-bit greyscale, or open it in the RadKit notebook.');
    }
    if (!element.encapsulatedPixelData) damaged(name, 'says it is compressed but its image is not');
    const fragments = element.fragments || [];
    if (element.length === 0xffffffff || fragments.some((f) => f.position + f.length > ds.byteArray.length)) {
      damaged(name, 'ends before the end of its image');   // a cut file: its last piece or end mark is missing
    }
    const size = rows * cols;
    const out = allocated === 32 ? new Float64Array(size * nFrames) : new Int32Array(size * nFrames);
    const cast = allocated === 8 ? (signed ? (v) => (v << 24) >> 24 : (v) => v & 0xff)
      : allocated === 16 ? (signed ? (v) => (v << 16) >> 16 : (v) => v & 0xffff)
        : (signed ? (v) => v | 0 : (v) => v >>> 0);
    for (let f = 0; f < nFrames; f++) {
      const data = frameBytes(ds, element, name, first + f, frames, kind);
      const at = f * size;
      if (kind === 'rle') {
        const bytes = decodeRle(data, name, size, allocated / 8);
        const view = new DataView(bytes.buffer);
        for (let i = 0; i < size; i++) {
          out[at + i] = allocated === 8 ? cast(bytes[i])
            : allocated === 16 ? cast(view.getUint16(2 * i, true)) : cast(view.getUint32(4 * i, true));
        }
        continue;
      }
      let frame;
      try {
        frame = kind === 'jpegLossless' ? decodeJpegLossless(data)
          : decodeWasm(kind === 'jpeg' ? decoders.jpeg.JPEGDecoder
            : kind === 'jpegLS' ? decoders.jpegLS.JpegLSDecoder : decoders.jpeg2000.J2KDecoder, data);
      } catch (error) {
        const why = typeof error === 'number' ? 'the decoder stopped' : String((error && error.message) || error);
        damaged(name, `has a compressed image that could not be decompressed (${why.slice(0, 120)})`);
      }
      if (!frame.rows || !frame.cols || !frame.values.length) {
        damaged(name, 'has a compressed image that could not be decompressed');
      }
      if (frame.rows !== rows || frame.cols !== cols || frame.components !== 1 || frame.values.length < size) {
        damaged(name, `holds a compressed image of ${frame.cols} x ${frame.rows} x ${frame.components} values, `
          + `but its header says ${cols} x ${rows} x 1`);
      }
      const shift = 32 - frame.precision;   // pydicom's sign correction (see above)
      const correct = shift > 32 - allocated && (kind === 'jpegLS' || (kind === 'jpeg2000' && frame.signed !== signed));
      const values = frame.values;
      for (let i = 0; i < size; i++) {
        const v = cast(values[i]);
        out[at + i] = !correct ? v : signed ? (v << shift) >> shift : (v << shift) >>> shift;
      }
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

  // Refuses a compressed file the page cannot decompress (another compression, 12-bit JPEG, a decoder still
  // loading or missing from the site), naming its compression as the notebook does.
  function cannotDecompress(ds, name, syntax) {
    const what = COMPRESSED[syntax] || `transfer syntax ${syntax}`;
    const kind = DECODER_OF[syntax];
    const fix = 'Export the image again uncompressed (most PACS viewers can), or open it in the RadKit notebook, '
      + 'which decompresses it (pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg).';
    const stored = ds.uint16('x00280101') || ds.uint16('x00280100');
    if (!kind) {
      refuse(`${name} is compressed (${what}), which this web app cannot decompress: it reads uncompressed, JPEG, `
        + 'JPEG-LS, JPEG 2000 and RLE DICOM.', fix);
    }
    if (kind === 'jpeg' && stored > 8) {
      refuse(`${name} is compressed (${what}) with ${stored}-bit values, which this web app cannot decompress: `
        + 'it reads 8-bit JPEG only.', fix);
    }
    if (failed[kind]) {
      refuse(`${name} is compressed (${what}), and this copy of the web app has no decompressor for it.`,
        `Build the site again with radkit.deploy.build_webapp (it copies the decompressors), or: ${fix}`);
    }
    if (!decoders[kind]) {
      refuse(`${name} is compressed (${what}), and the page is still loading its decompressor.`,
        'Open the file again in a moment.');
    }
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
    const compressed = !(syntax in UNCOMPRESSED);
    if (compressed) cannotDecompress(ds, name, syntax);
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
    const stored = compressed
      ? decodedValues(ds, name, syntax, rows, cols, frames, from, padding ? frames : 1)
      : storedValues(ds, name, rows, cols, frames, from, padding ? frames : 1);

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
      window: shown, syntax: compressed ? COMPRESSED[syntax] : UNCOMPRESSED[syntax].name, identifying: identifying(ds),
    };
  }

  // Only the stored values of a file, all frames (what pydicom's pixel_array gives), for the tests that compare
  // the page's decompression with pydicom's.
  function storedPixels(bytes, name) {
    const ds = parse(bytes, name);
    const syntax = (ds.string('x00020010') || '1.2.840.10008.1.2').replace(/\0/g, '').trim();
    const rows = ds.uint16('x00280010');
    const cols = ds.uint16('x00280011');
    const frames = Math.max(1, ds.intString('x00280008') || 1);
    if (!ds.elements.x7fe00010 || !rows || !cols) damaged(name, 'has no image');
    const compressed = !(syntax in UNCOMPRESSED);
    if (compressed) cannotDecompress(ds, name, syntax);
    const values = compressed ? decodedValues(ds, name, syntax, rows, cols, frames, 0, frames)
      : storedValues(ds, name, rows, cols, frames);
    return { rows, cols, frames, values };
  }

  window.radkitDicom = { isDicom, read, storedPixels, DicomRefusal, ready };
})();
