// SPICE QUIC image decoder (digest §4.6; behaviour of spice-common quic.c, quic_tmpl.c,
// quic_family_tmpl.c — an SFALIC-style lossless predictive coder).
//
// Stream: little-endian u32 words, bits consumed MSB first from each word. Header words:
//   magic 0x43495551 ("QUIC"), version 0, type (1 GRAY, 2 RGB16, 3 RGB24, 4 RGB32, 5 RGBA),
//   width, height. Then the rows, top-down.
// Per channel (r, g, b; alpha; gray) and row:
//   row 0:      prediction = left neighbour (the first pixel: 0)
//   later rows: prediction = floor((left + above) / 2) (the first pixel: above)
//   The residual, mapped to 0..2^bpc-1 (0, -1, 1, -2, ... folding), is coded with a Golomb-Rice
//   code whose parameter is the "best code" of the bucket selected by the previous residual of
//   that channel (the residual row is kept across rows: stale entries act as contexts too).
//   Bucket statistics (8 counters of accumulated code lengths) are updated only at pixels picked
//   by a pseudo-random "wait mask" schedule whose mask widens every 2048 symbols up to 2^6-1.
//   In later rows, when the two pixels above-left/above are equal and the two pixels to the
//   left are equal, a run of copies of the left pixel is coded with an adaptive melcode (32
//   states) instead.
// RGB channels share one schedule/run state; RGBA decodes each row's r,g,b then that row's
// alpha with its own state; RGB16 works on 5-bit channels. Output: B,G,R,A bytes, top-down.

import { ProtocolError } from '../../util/errors.js';
import { allocPixels, ALPHA_MASK, RGB_MASK, HOST_LE } from '../pixels.js';
import { checkImageSize, type DecodedImage } from '../types.js';

export const QUIC_MAGIC = 0x43495551;
export const QUIC_VERSION = 0;

export const QuicImageType = { GRAY: 1, RGB16: 2, RGB24: 3, RGB32: 4, RGBA: 5 } as const;

export interface QuicHeader { type: number; width: number; height: number }

const MAX_CODES = 8; // counters per bucket
const DEF_MAX_CLEN = 26; // codeword length limit
const WMI_MAX = 6; // target wait mask index
const WMI_NEXT = 2048; // symbols before the wait mask widens
// Halving thresholds for the evolution setting 3, by wait mask index (0..10).
const WM_TRIGGER = [110, 550, 900, 800, 550, 400, 350, 250, 140, 160, 140];
// Melcode: run-length exponent per state.
const MELC_J = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const MELC_STATES = 32;

// The 256-entry pseudo-random table driving the model update schedule (part of the format).
const TABRAND = new Uint32Array([
  0x02c57542, 0x35427717, 0x2f5a2153, 0x9244f155, 0x7bd26d07, 0x354c6052, 0x57329b28, 0x2993868e,
  0x6cd8808c, 0x147b46e0, 0x99db66af, 0xe32b4cac, 0x1b671264, 0x9d433486, 0x62a4c192, 0x06089a4b,
  0x9e3dce44, 0xdaabee13, 0x222425ea, 0xa46f331d, 0xcd589250, 0x8bb81d7f, 0xc8b736b9, 0x35948d33,
  0xd7ac7fd0, 0x5fbe2803, 0x2cfbc105, 0x013dbc4e, 0x7a37820f, 0x39f88e9e, 0xedd58794, 0xc5076689,
  0xfcada5a4, 0x64c2f46d, 0xb3ba3243, 0x8974b4f9, 0x5a05aebd, 0x20afcd00, 0x39e2b008, 0x88a18a45,
  0x600bde29, 0xf3971ace, 0xf37b0a6b, 0x7041495b, 0x70b707ab, 0x06beffbb, 0x4206051f, 0xe13c4ee3,
  0xc1a78327, 0x91aa067c, 0x8295f72a, 0x732917a6, 0x1d871b4d, 0x4048f136, 0xf1840e7e, 0x6a6048c1,
  0x696cb71a, 0x7ff501c3, 0x0fc6310b, 0x57e0f83d, 0x8cc26e74, 0x11a525a2, 0x946934c7, 0x7cd888f0,
  0x8f9d8604, 0x4f86e73b, 0x04520316, 0xdeeea20c, 0xf1def496, 0x67687288, 0xf540c5b2, 0x22401484,
  0x3478658a, 0xc2385746, 0x01979c2c, 0x5dad73c8, 0x0321f58b, 0xf0fedbee, 0x92826ddf, 0x284bec73,
  0x5b1a1975, 0x03df1e11, 0x20963e01, 0xa17cf12b, 0x740d776e, 0xa7a6bf3c, 0x01b5cce4, 0x1118aa76,
  0xfc6fac0a, 0xce927e9b, 0x00bf2567, 0x806f216c, 0xbca69056, 0x795bd3e9, 0xc9dc4557, 0x8929b6c2,
  0x789d52ec, 0x3f3fbf40, 0xb9197368, 0xa38c15b5, 0xc3b44fa8, 0xca8333b0, 0xb7e8d590, 0xbe807feb,
  0xbf5f8360, 0xd99e2f5c, 0x372928e1, 0x7c757c4c, 0x0db5b154, 0xc01ede02, 0x1fc86e78, 0x1f3985be,
  0xb4805c77, 0x00c880fa, 0x974c1b12, 0x35ab0214, 0xb2dc840d, 0x5b00ae37, 0xd313b026, 0xb260969d,
  0x7f4c8879, 0x1734c4d3, 0x49068631, 0xb9f6a021, 0x6b863e6f, 0xcee5debf, 0x29f8c9fb, 0x53dd6880,
  0x72b61223, 0x1f67a9fd, 0x0a0f6993, 0x13e59119, 0x11cca12e, 0xfe6b6766, 0x16b6effc, 0x97918fc4,
  0xc2b8a563, 0x94f2f741, 0x0bfa8c9a, 0xd1537ae8, 0xc1da349c, 0x873c60ca, 0x95005b85, 0x9b5c080e,
  0xbc8abbd9, 0xe1eab1d2, 0x6dac9070, 0x4ea9ebf1, 0xe0cf30d4, 0x1ef5bd7b, 0xd161043e, 0x5d2fa2e2,
  0xff5d3cae, 0x86ed9f87, 0x2aa1daa1, 0xbd731a34, 0x9e8f4b22, 0xb1c2c67a, 0xc21758c9, 0xa182215d,
  0xccb01948, 0x8d168df7, 0x04238cfe, 0x368c3dbc, 0x0aeadca5, 0xbad21c24, 0x0a71fee5, 0x9fc5d872,
  0x54c152c6, 0xfc329483, 0x6783384a, 0xeddb3e1c, 0x65f90e30, 0x884ad098, 0xce81675a, 0x4b372f7d,
  0x68bf9a39, 0x43445f1e, 0x40f8d8cb, 0x90d5acb6, 0x4cd07282, 0x349eeb06, 0x0c9d5332, 0x520b24ef,
  0x80020447, 0x67976491, 0x2f931ca3, 0xfe9b0535, 0xfcd30220, 0x61a9e6cc, 0xa487d8d7, 0x3f7c5dd1,
  0x7d0127c5, 0x48f51d15, 0x60dea871, 0xc9a91cb7, 0x58b53bb3, 0x9d5e0b2d, 0x624a78b4, 0x30dbee1b,
  0x9bdf22e7, 0x1df5c299, 0x2d5643a7, 0xf4dd35ff, 0x03ca8fd6, 0x53b47ed8, 0x6f2c19aa, 0xfeb0c1f4,
  0x49e54438, 0x2f2577e6, 0xbf876969, 0x72440ea9, 0xfa0bafb8, 0x74f5b3a0, 0x7dd357cd, 0x89ce1358,
  0x6ef2cdda, 0x1e7767f3, 0xa6be9fdb, 0x4f5f88f8, 0xba994a3a, 0x08ca6b65, 0xe0893818, 0x9e00a16a,
  0xf42bfc8f, 0x9972eedc, 0x749c8b51, 0x32c05f5e, 0xd706805f, 0x6bfbb7cf, 0xd9210a10, 0x31a1db97,
  0x923a9559, 0x37a7a1f6, 0x059f8861, 0xca493e62, 0x65157e81, 0x8f6467dd, 0xab85ff9f, 0x9331aff2,
  0x8616b9f5, 0xedbd5695, 0xee7e29b1, 0x313ac44f, 0xb903112f, 0x432ef649, 0xdc0a36c0, 0x61cf2bba,
  0x81474925, 0xa8b6c7ad, 0xee5931de, 0xb2f8158d, 0x59fb7409, 0x2e3dfaed, 0x9af25a3f, 0xe1fed4d5,
]);

/** n ones in the low bits (n = 0..32). */
function ones(n: number): number {
  return n >= 32 ? 0xffffffff : (1 << n) - 1 >>> 0;
}

function ceilLog2(v: number): number {
  let r = 0;
  while ((1 << r) < v) r++;
  return r;
}

/** Code tables of one bit depth (8 or 5 bits per channel). */
export interface QuicFamily {
  bpc: number;
  mask: number;
  /** Per code number l: how many residuals get a plain Golomb-Rice codeword. */
  nGR: Int32Array;
  /** Per l: length of the escape ("not GR") codewords. */
  notGRcwlen: Int32Array;
  /** Per l: a 32-bit window <= this starts with an escape prefix. */
  notGRprefixmask: Float64Array;
  /** Per l: mask of the escape suffix. */
  notGRsuffixmask: Int32Array;
  /** codeLen[n * 8 + l]: codeword length of residual n (0..255) with code l. */
  codeLen: Uint8Array;
  /** Folded residual -> signed residual modulo 2^bpc (256 entries; unused ones 0). */
  xlatL2U: Uint8Array;
  /** Residual byte -> bucket index (of its low bpc bits). */
  bucketOf: Uint8Array;
  nBuckets: number;
}

function makeFamily(bpc: number): QuicFamily {
  const f: QuicFamily = {
    bpc, mask: (1 << bpc) - 1,
    nGR: new Int32Array(MAX_CODES), notGRcwlen: new Int32Array(MAX_CODES), notGRprefixmask: new Float64Array(MAX_CODES),
    notGRsuffixmask: new Int32Array(MAX_CODES), codeLen: new Uint8Array(256 * MAX_CODES), xlatL2U: new Uint8Array(256),
    bucketOf: new Uint8Array(256), nBuckets: 0,
  };
  const levels = 1 << bpc;
  for (let l = 0; l < bpc; l++) {
    let altPrefix = DEF_MAX_CLEN - bpc;
    if (altPrefix > ones(bpc - l)) altPrefix = ones(bpc - l);
    const altCodewords = levels - (altPrefix << l);
    const suffix = ceilLog2(altCodewords);
    f.nGR[l] = altPrefix << l;
    f.notGRcwlen[l] = altPrefix + suffix;
    f.notGRprefixmask[l] = ones(32 - altPrefix);
    f.notGRsuffixmask[l] = ones(suffix);
    for (let n = 0; n < 256; n++) {
      f.codeLen[n * MAX_CODES + l] = n < f.nGR[l]! ? (n >> l) + l + 1 : f.notGRcwlen[l]!;
    }
  }
  for (let s = 0; s < levels; s++) f.xlatL2U[s] = s & 1 ? f.mask - (s >> 1) : s >> 1;
  // Buckets for evolution 3: 1, 2, 4, 8, ... residual values each; a bucket whose successor
  // would not fit takes the rest.
  let n = 0;
  let bend = -1;
  let bsize = 1;
  let rep = 2;
  do {
    const bstart = bend + 1;
    if (!--rep) {
      rep = 1;
      bsize *= 2;
    }
    bend = bstart + bsize - 1;
    if (bend + bsize >= levels) bend = levels - 1;
    for (let v = bstart; v <= bend; v++) f.bucketOf[v] = n;
    n++;
  } while (bend < levels - 1);
  // Contexts are residual bytes; only their low bpc bits select the bucket.
  for (let v = levels; v < 256; v++) f.bucketOf[v] = f.bucketOf[v & f.mask]!;
  f.nBuckets = n;
  return f;
}

const FAMILY8 = makeFamily(8);
const FAMILY5 = makeFamily(5);

/** The code tables (exported for tests and the test-side encoder). */
export function quicFamily(bpc: 5 | 8): QuicFamily {
  return bpc === 8 ? FAMILY8 : FAMILY5;
}

/** Model update schedule and run-length coder state ("CommonState"). */
class State {
  waitcnt = 0;
  seed = 0xff;
  wmidx = 0;
  wmileft = WMI_NEXT;
  wmTrigger = WM_TRIGGER[0]!;
  melcstate = 0;
  melclen = MELC_J[0]!;
  melcorder = 1;

  tabrand(): number {
    this.seed = (this.seed + 1) & 0xff;
    return TABRAND[this.seed]!;
  }

  nextWaitMask(): void {
    this.wmidx++;
    this.wmTrigger = WM_TRIGGER[Math.min(this.wmidx, 10)]!;
    this.wmileft = WMI_NEXT;
  }
}

/** Per-channel model: residual row (shifted by one: [0] is the "-1" entry) and buckets. */
class Model {
  readonly corr: Uint8Array;
  readonly best: Uint8Array;
  readonly counters: Uint32Array;
  constructor(width: number, fam: QuicFamily) {
    this.corr = new Uint8Array(width + 1);
    this.best = new Uint8Array(fam.nBuckets).fill(fam.bpc - 1);
    this.counters = new Uint32Array(fam.nBuckets * MAX_CODES);
  }
}

function truncated(): never {
  throw new ProtocolError('QUIC image data is truncated');
}

/** Reads the five header words (magic, version, type, width, height). */
export function parseQuicHeader(data: Uint8Array): QuicHeader {
  if (data.length < 20) throw new ProtocolError(`QUIC image is truncated: ${data.length}-byte header, 20 needed`);
  const dv = new DataView(data.buffer, data.byteOffset, data.length);
  const magic = dv.getUint32(0, true);
  if (magic !== QUIC_MAGIC) throw new ProtocolError(`QUIC image has bad magic 0x${magic.toString(16)}`);
  const version = dv.getUint32(4, true);
  if (version !== QUIC_VERSION) throw new ProtocolError(`QUIC image has unsupported version 0x${version.toString(16)}`);
  const type = dv.getUint32(8, true);
  if (type < QuicImageType.GRAY || type > QuicImageType.RGBA) throw new ProtocolError(`QUIC image type ${type} is unknown`);
  const width = dv.getUint32(12, true);
  const height = dv.getUint32(16, true);
  checkImageSize(width, height, 'QUIC image');
  return { type, width, height };
}

class QuicDecoder {
  // Bit input: `word` is the 32-bit window at the read position; `next` the last word loaded,
  // of which `avail` low bits are not yet in the window.
  private readonly words: Uint32Array;
  private pos: number;
  private word = 0;
  private next = 0;
  private avail = 0;

  private readonly out: Uint8Array;
  private readonly px: Uint32Array;
  private readonly width: number;
  private readonly fam: QuicFamily;
  private readonly bucketOf: Uint8Array;
  private readonly xlat: Uint8Array;
  private readonly grLimit: Uint32Array;
  private readonly escLen: Int32Array;
  private readonly escBase: Int32Array;
  private readonly escMask: Int32Array;
  private readonly rgbState = new State();
  private readonly models: Model[];
  private readonly states: State[];

  constructor(words: Uint32Array, out: Buffer, width: number, fam: QuicFamily, channels: number) {
    this.words = words;
    this.out = out;
    this.px = new Uint32Array(out.buffer, out.byteOffset, out.length >> 2);
    this.width = width;
    this.fam = fam;
    this.bucketOf = fam.bucketOf;
    this.xlat = fam.xlatL2U;
    this.grLimit = Uint32Array.from(fam.notGRprefixmask);
    this.escLen = fam.notGRcwlen;
    this.escBase = fam.nGR;
    this.escMask = fam.notGRsuffixmask;
    this.models = [];
    this.states = [];
    for (let i = 0; i < channels; i++) {
      this.models.push(new Model(width, fam));
      this.states.push(new State());
    }
    // The header is five words: start the window at word 5.
    this.pos = 5;
    if (words.length <= 5) truncated();
    this.word = this.next = words[this.pos++]! | 0;
    this.avail = 0;
  }

  private eat(len: number): void {
    this.word <<= len;
    let d = this.avail - len;
    if (d >= 0) {
      this.avail = d;
      this.word |= this.next >>> d;
      return;
    }
    d = -d;
    this.word |= this.next << d;
    if (this.pos >= this.words.length) truncated();
    this.next = this.words[this.pos++]! | 0;
    this.avail = 32 - d;
    this.word |= this.next >>> this.avail;
  }

  /** Decodes one Golomb-Rice (or escape) codeword with code number l; returns the residual byte. */
  private golomb(l: number): number {
    const bits = this.word;
    let len: number;
    let v: number;
    if ((bits >>> 0) > this.grLimit[l]!) {
      const zeros = Math.clz32(bits);
      len = zeros + 1 + l;
      v = (zeros << l) | ((bits >>> (32 - len)) & ((1 << l) - 1));
    } else {
      len = this.escLen[l]!;
      v = this.escBase[l]! + ((bits >>> (32 - len)) & this.escMask[l]!);
    }
    this.eat(len);
    return v & 0xff;
  }

  /** Melcode run length. `limit` is the most the segment can take (anything longer is an error). */
  private runLength(st: State, limit: number): number {
    let run = 0;
    for (;;) {
      // Leading ones of the window, up to 8.
      const top = (~this.word >>> 24) & 0xff;
      const hits = top === 0 ? 8 : Math.clz32(top) - 24;
      for (let h = 0; h < hits; h++) {
        run += st.melcorder;
        if (st.melcstate < MELC_STATES - 1) {
          st.melclen = MELC_J[++st.melcstate]!;
          st.melcorder = 1 << st.melclen;
        }
      }
      if (hits !== 8) {
        this.eat(hits + 1);
        break;
      }
      this.eat(8);
      if (run > limit) throw new ProtocolError(`QUIC run of ${run}+ pixels overruns its row segment`);
    }
    if (st.melclen) {
      run += this.word >>> (32 - st.melclen);
      this.eat(st.melclen);
    }
    if (st.melcstate) {
      st.melclen = MELC_J[--st.melcstate]!;
      st.melcorder = 1 << st.melclen;
    }
    if (run > limit) throw new ProtocolError(`QUIC run of ${run} pixels overruns its row segment`);
    return run;
  }

  private updateModel(st: State, m: Model, ctx: number, cur: number): void {
    const f = this.fam;
    const bpc = f.bpc;
    const b = f.bucketOf[ctx]!;
    const c = m.counters;
    const base = b * MAX_CODES;
    const lens = f.codeLen;
    const lbase = cur * MAX_CODES;
    let best = bpc - 1;
    let bestLen = (c[base + best]! + lens[lbase + best]!) >>> 0;
    c[base + best] = bestLen;
    for (let i = bpc - 2; i >= 0; i--) {
      const v = (c[base + i]! + lens[lbase + i]!) >>> 0;
      c[base + i] = v;
      if (v < bestLen) {
        best = i;
        bestLen = v;
      }
    }
    m.best[b] = best;
    if (bestLen > st.wmTrigger) for (let i = 0; i < bpc; i++) c[base + i] = c[base + i]! >>> 1;
  }

  // ---- three colour channels (r, g, b = byte offsets 2, 1, 0), shared state --------------------

  private rgbUpdate(idx: number): void {
    const st = this.rgbState;
    const [r, g, b] = this.models as [Model, Model, Model];
    this.updateModel(st, r, r.corr[idx]!, r.corr[idx + 1]!);
    this.updateModel(st, g, g.corr[idx]!, g.corr[idx + 1]!);
    this.updateModel(st, b, b.corr[idx]!, b.corr[idx + 1]!);
  }

  /** Decodes the residual of pixel i of channel model m (context = residual of pixel i-1). */
  private sym(m: Model, i: number): number {
    const corr = m.corr;
    const v = this.golomb(m.best[this.bucketOf[corr[i]!]!]!);
    corr[i + 1] = v;
    return this.xlat[v]!;
  }

  private rgbRow0Seg(row: number, i: number, end: number, waitmask: number): void {
    const st = this.rgbState;
    const out = this.out;
    const mask = this.fam.mask;
    const [mr, mg, mb] = this.models as [Model, Model, Model];
    let stop: number;
    if (i === 0) {
      out[row + 2] = this.sym(mr, 0);
      out[row + 1] = this.sym(mg, 0);
      out[row] = this.sym(mb, 0);
      if (st.waitcnt) st.waitcnt--;
      else {
        st.waitcnt = st.tabrand() & waitmask;
        this.rgbUpdate(0);
      }
      stop = ++i + st.waitcnt;
    } else {
      stop = i + st.waitcnt;
    }
    while (stop < end) {
      for (; i <= stop; i++) {
        const p = row + i * 4;
        out[p + 2] = (this.sym(mr, i) + out[p - 2]!) & mask;
        out[p + 1] = (this.sym(mg, i) + out[p - 3]!) & mask;
        out[p] = (this.sym(mb, i) + out[p - 4]!) & mask;
      }
      this.rgbUpdate(stop);
      stop = i + (st.tabrand() & waitmask);
    }
    for (; i < end; i++) {
      const p = row + i * 4;
      out[p + 2] = (this.sym(mr, i) + out[p - 2]!) & mask;
      out[p + 1] = (this.sym(mg, i) + out[p - 3]!) & mask;
      out[p] = (this.sym(mb, i) + out[p - 4]!) & mask;
    }
    st.waitcnt = stop - end;
  }

  private rgbRowSeg(prev: number, row: number, i: number, end: number): void {
    const st = this.rgbState;
    const out = this.out;
    const px = this.px;
    const mask = this.fam.mask;
    const waitmask = ones(st.wmidx);
    const [mr, mg, mb] = this.models as [Model, Model, Model];
    const prevPx = prev >> 2;
    const rowPx = row >> 2;
    let stop: number;
    let runIndex = 0;
    if (i === 0) {
      out[row + 2] = (this.sym(mr, 0) + out[prev + 2]!) & mask;
      out[row + 1] = (this.sym(mg, 0) + out[prev + 1]!) & mask;
      out[row] = (this.sym(mb, 0) + out[prev]!) & mask;
      if (st.waitcnt) st.waitcnt--;
      else {
        st.waitcnt = st.tabrand() & waitmask;
        this.rgbUpdate(0);
      }
      stop = ++i + st.waitcnt;
    } else {
      stop = i + st.waitcnt;
    }
    for (;;) {
      run: {
        while (stop < end) {
          for (; i <= stop; i++) {
            if (i > 2 && runIndex !== i && ((px[prevPx + i - 1]! ^ px[prevPx + i]!) & RGB_MASK) === 0 &&
                ((px[rowPx + i - 1]! ^ px[rowPx + i - 2]!) & RGB_MASK) === 0) break run;
            const p = row + i * 4;
            const q = prev + i * 4;
            out[p + 2] = (this.sym(mr, i) + ((out[p - 2]! + out[q + 2]!) >>> 1)) & mask;
            out[p + 1] = (this.sym(mg, i) + ((out[p - 3]! + out[q + 1]!) >>> 1)) & mask;
            out[p] = (this.sym(mb, i) + ((out[p - 4]! + out[q]!) >>> 1)) & mask;
          }
          this.rgbUpdate(stop);
          stop = i + (st.tabrand() & waitmask);
        }
        for (; i < end; i++) {
          if (i > 2 && runIndex !== i && ((px[prevPx + i - 1]! ^ px[prevPx + i]!) & RGB_MASK) === 0 &&
              ((px[rowPx + i - 1]! ^ px[rowPx + i - 2]!) & RGB_MASK) === 0) break run;
          const p = row + i * 4;
          const q = prev + i * 4;
          out[p + 2] = (this.sym(mr, i) + ((out[p - 2]! + out[q + 2]!) >>> 1)) & mask;
          out[p + 1] = (this.sym(mg, i) + ((out[p - 3]! + out[q + 1]!) >>> 1)) & mask;
          out[p] = (this.sym(mb, i) + ((out[p - 4]! + out[q]!) >>> 1)) & mask;
        }
        st.waitcnt = stop - end;
        return;
      }
      // A run of copies of the left pixel.
      st.waitcnt = stop - i;
      runIndex = i;
      const runEnd = i + this.runLength(st, end - i);
      const v = px[rowPx + i - 1]!;
      for (; i < runEnd; i++) px[rowPx + i] = v;
      if (i === end) return;
      stop = i + st.waitcnt;
    }
  }

  // ---- one channel (gray at byte 0, alpha at byte 3), own state --------------------------------

  private oneRow0Seg(ch: number, off: number, row: number, i: number, end: number, waitmask: number): void {
    const st = this.states[ch]!;
    const m = this.models[ch]!;
    const out = this.out;
    const mask = this.fam.mask;
    const base = row + off;
    let stop: number;
    if (i === 0) {
      out[base] = this.sym(m, 0);
      if (st.waitcnt) st.waitcnt--;
      else {
        st.waitcnt = st.tabrand() & waitmask;
        this.updateModel(st, m, m.corr[0]!, m.corr[1]!);
      }
      stop = ++i + st.waitcnt;
    } else {
      stop = i + st.waitcnt;
    }
    while (stop < end) {
      for (; i <= stop; i++) {
        const p = base + i * 4;
        out[p] = (this.sym(m, i) + out[p - 4]!) & mask;
      }
      this.updateModel(st, m, m.corr[stop]!, m.corr[stop + 1]!);
      stop = i + (st.tabrand() & waitmask);
    }
    for (; i < end; i++) {
      const p = base + i * 4;
      out[p] = (this.sym(m, i) + out[p - 4]!) & mask;
    }
    st.waitcnt = stop - end;
  }

  private oneRowSeg(ch: number, off: number, prev: number, row: number, i: number, end: number): void {
    const st = this.states[ch]!;
    const m = this.models[ch]!;
    const out = this.out;
    const mask = this.fam.mask;
    const waitmask = ones(st.wmidx);
    const base = row + off;
    const pbase = prev + off;
    let stop: number;
    let runIndex = 0;
    if (i === 0) {
      out[base] = (this.sym(m, 0) + out[pbase]!) & mask;
      if (st.waitcnt) st.waitcnt--;
      else {
        st.waitcnt = st.tabrand() & waitmask;
        this.updateModel(st, m, m.corr[0]!, m.corr[1]!);
      }
      stop = ++i + st.waitcnt;
    } else {
      stop = i + st.waitcnt;
    }
    for (;;) {
      run: {
        while (stop < end) {
          for (; i <= stop; i++) {
            const p = base + i * 4;
            const q = pbase + i * 4;
            if (i > 2 && runIndex !== i && out[q - 4] === out[q] && out[p - 4] === out[p - 8]) break run;
            out[p] = (this.sym(m, i) + ((out[p - 4]! + out[q]!) >>> 1)) & mask;
          }
          this.updateModel(st, m, m.corr[stop]!, m.corr[stop + 1]!);
          stop = i + (st.tabrand() & waitmask);
        }
        for (; i < end; i++) {
          const p = base + i * 4;
          const q = pbase + i * 4;
          if (i > 2 && runIndex !== i && out[q - 4] === out[q] && out[p - 4] === out[p - 8]) break run;
          out[p] = (this.sym(m, i) + ((out[p - 4]! + out[q]!) >>> 1)) & mask;
        }
        st.waitcnt = stop - end;
        return;
      }
      st.waitcnt = stop - i;
      runIndex = i;
      const runEnd = i + this.runLength(st, end - i);
      const v = out[base + (i - 1) * 4]!;
      for (; i < runEnd; i++) out[base + i * 4] = v;
      if (i === end) return;
      stop = i + st.waitcnt;
    }
  }

  // ---- rows: split at the points where the wait mask widens -----------------------------------

  /** Runs seg(pos, end, waitmask) over one row's pixels following state st's schedule. */
  private segments(st: State, seg: (pos: number, end: number, waitmask: number) => void): void {
    let width = this.width;
    let pos = 0;
    while (WMI_MAX > st.wmidx && st.wmileft <= width) {
      if (st.wmileft) {
        seg(pos, pos + st.wmileft, ones(st.wmidx));
        pos += st.wmileft;
        width -= st.wmileft;
      }
      st.nextWaitMask();
    }
    if (width) {
      seg(pos, pos + width, ones(st.wmidx));
      if (WMI_MAX > st.wmidx) st.wmileft -= width;
    }
  }

  rgbRow(y: number): void {
    const stride = this.width * 4;
    const row = y * stride;
    for (let c = 0; c < 3; c++) {
      const corr = this.models[c]!.corr;
      corr[0] = y === 0 ? 0 : corr[1]!;
    }
    if (y === 0) this.segments(this.rgbState, (pos, end, wm) => this.rgbRow0Seg(row, pos, end, wm));
    else this.segments(this.rgbState, (pos, end) => this.rgbRowSeg(row - stride, row, pos, end));
  }

  oneRow(ch: number, off: number, y: number): void {
    const stride = this.width * 4;
    const row = y * stride;
    const corr = this.models[ch]!.corr;
    corr[0] = y === 0 ? 0 : corr[1]!;
    const st = this.states[ch]!;
    if (y === 0) this.segments(st, (pos, end, wm) => this.oneRow0Seg(ch, off, row, pos, end, wm));
    else this.segments(st, (pos, end) => this.oneRowSeg(ch, off, row - stride, row, pos, end));
  }
}

/** Little-endian u32 words of data (a view when aligned on a little-endian host, else a copy). */
function wordsOf(data: Uint8Array): Uint32Array {
  const n = data.length >>> 2;
  if (HOST_LE && data.byteOffset % 4 === 0) return new Uint32Array(data.buffer, data.byteOffset, n);
  const w = new Uint32Array(n);
  const dv = new DataView(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < n; i++) w[i] = dv.getUint32(i * 4, true);
  return w;
}

/** Decodes a complete QUIC stream to B,G,R,A pixels, top-down (RGBA: premultiplied, hasAlpha). */
export function decodeQuic(data: Uint8Array): DecodedImage {
  const h = parseQuicHeader(data);
  const { type, width, height } = h;
  const channels = type === QuicImageType.GRAY ? 1 : type === QuicImageType.RGBA ? 4 : 3;
  // Every row codes at least min(width, 3) pixels per channel with >= 1 bit each (runs start at
  // the 4th pixel and take >= 1 bit); row 0 codes all of them. Refuse sizes the data cannot hold.
  const minBits = channels * (width + (height - 1) * (Math.min(width, 3) + 1));
  const bodyBits = (data.length - 20) * 8;
  if (minBits > bodyBits) {
    throw new ProtocolError(`QUIC image claims ${width}x${height} from only ${data.length} bytes`);
  }
  const out = allocPixels(width, height);
  const fam = type === QuicImageType.RGB16 ? FAMILY5 : FAMILY8;
  const dec = new QuicDecoder(wordsOf(data), out, width, fam, channels);
  const px = new Uint32Array(out.buffer, out.byteOffset, width * height);
  if (type !== QuicImageType.RGBA) px.fill(ALPHA_MASK >>> 0);
  if (type === QuicImageType.GRAY) {
    for (let y = 0; y < height; y++) dec.oneRow(0, 0, y);
    for (let i = 0, n = width * height * 4; i < n; i += 4) out[i + 1] = out[i + 2] = out[i]!;
  } else {
    for (let y = 0; y < height; y++) {
      dec.rgbRow(y);
      if (type === QuicImageType.RGBA) dec.oneRow(3, 3, y);
    }
    if (type === QuicImageType.RGB16) {
      for (let i = 0, n = width * height * 4; i < n; i += 4) {
        const b = out[i]!, g = out[i + 1]!, r = out[i + 2]!;
        out[i] = (b << 3) | (b >> 2);
        out[i + 1] = (g << 3) | (g >> 2);
        out[i + 2] = (r << 3) | (r >> 2);
      }
    }
  }
  return { width, height, data: out, hasAlpha: type === QuicImageType.RGBA };
}
