/**
 * IPv4 / IPv6 CIDR matching for the `cidr` modifier. Networks are parsed once at load; record values
 * are parsed strictly into a reused buffer (no allocation per test), and anything that is not an IP
 * address or network ("AWS Internal", "08.1.250.216", host names) simply does not match.
 */

/** A parsed network: address as eight 16-bit words (IPv4 in words 6–7) and prefix length in bits. */
export interface Cidr {
  v6: boolean;
  words: Uint16Array;
  prefix: number;
  text: string;
}

const scratch = new Uint16Array(8);

/** Parses an IPv4 dotted quad into words[6..7]. Octets are decimal 0–255 without leading zeros. */
function parseV4(s: string, start: number, end: number, out: Uint16Array): boolean {
  let octet = 0;
  let digits = 0;
  let parts = 0;
  let acc = 0;
  for (let i = start; i <= end; i++) {
    const c = i === end ? 46 /* . */ : s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return false; // leading zero
      octet = octet * 10 + (c - 48);
      digits++;
      if (octet > 255) return false;
    } else if (c === 46) {
      if (digits === 0) return false;
      acc = acc * 256 + octet;
      parts++;
      if (parts > 4) return false;
      octet = 0;
      digits = 0;
    } else return false;
  }
  if (parts !== 4) return false;
  out[6] = Math.floor(acc / 65536);
  out[7] = acc % 65536;
  return true;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Parses an IPv6 address (with `::` and an optional trailing dotted quad) into all eight words. */
function parseV6(s: string, out: Uint16Array): boolean {
  const n = s.length;
  if (n < 2 || n > 45) return false;
  let w = 0; // words written
  let gap = -1; // index in out where '::' sits
  let i = 0;
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
    if (i === n) {
      out.fill(0);
      return true;
    }
  }
  while (i < n) {
    // Trailing IPv4?
    let j = i;
    let val = 0;
    let digits = 0;
    while (j < n) {
      const h = hexVal(s.charCodeAt(j));
      if (h < 0) break;
      val = val * 16 + h;
      digits++;
      j++;
    }
    if (j < n && s.charCodeAt(j) === 46) {
      if (w > 6) return false;
      out[6] = 0;
      out[7] = 0;
      if (!parseV4(s, i, n, out)) return false;
      // parseV4 wrote words 6 and 7; move them to position w.
      const hi = out[6] as number;
      const lo = out[7] as number;
      out[w++] = hi;
      out[w++] = lo;
      i = n;
      break;
    }
    if (digits === 0 || digits > 4 || w >= 8) return false;
    out[w++] = val;
    if (j === n) {
      i = n;
      break;
    }
    if (s.charCodeAt(j) !== 58) return false;
    if (j + 1 < n && s.charCodeAt(j + 1) === 58) {
      if (gap >= 0) return false;
      gap = w;
      i = j + 2;
      if (i === n) break;
    } else {
      i = j + 1;
      if (i === n) return false; // trailing single ':'
    }
  }
  if (gap < 0) return w === 8;
  if (w >= 8) return false;
  const tail = w - gap;
  for (let k = 0; k < tail; k++) out[7 - k] = out[w - 1 - k] as number;
  for (let k = gap; k < 8 - tail; k++) out[k] = 0;
  return true;
}

/** Parses an address into `out`; returns 4, 6 or 0 (not an address). */
function parseIp(s: string, out: Uint16Array): 0 | 4 | 6 {
  if (s.length === 0 || s.length > 45) return 0;
  if (s.indexOf(':') >= 0) return parseV6(s, out) ? 6 : 0;
  out[0] = out[1] = out[2] = out[3] = out[4] = out[5] = 0;
  return parseV4(s, 0, s.length, out) ? 4 : 0;
}

/** Parses `10.0.0.0/8`, `::/0`, or a bare address (full-length prefix). Throws a message on error. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const words = new Uint16Array(8);
  const kind = parseIp(addr.trim(), words);
  if (kind === 0) throw new Error(`'${text}' is not an IPv4 or IPv6 network`);
  const max = kind === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1).trim();
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) throw new Error(`'${text}' has an invalid prefix length`);
    prefix = Number(p);
  }
  return { v6: kind === 6, words, prefix, text };
}

function inNet(net: Cidr, addr: Uint16Array): boolean {
  const base = net.v6 ? 0 : 6;
  let bits = net.prefix;
  for (let k = base; k < 8 && bits > 0; k++) {
    const a = addr[k] as number;
    const b = net.words[k] as number;
    if (bits >= 16) {
      if (a !== b) return false;
      bits -= 16;
    } else {
      const mask = (0xffff << (16 - bits)) & 0xffff;
      return (a & mask) === (b & mask);
    }
  }
  return true;
}

/**
 * A test for "value is an IP address inside one of `nets`". A value in CIDR notation (CloudTrail's
 * `cidrIp`, `cidrIpv6`) matches when that whole network lies inside one of `nets`.
 */
export function cidrMatcher(nets: Cidr[]): (v: unknown) => boolean {
  // The last string tested and its result: rules that share this list (the compiled test is shared,
  // values.ts) ask about one record's address in turn, and addresses repeat from call to call.
  let last: string | undefined;
  let lastResult = false;
  const test = (v: string): boolean => {
    const slash = v.indexOf('/');
    let kind: 0 | 4 | 6;
    let prefix: number;
    if (slash < 0) {
      kind = parseIp(v, scratch);
      prefix = kind === 4 ? 32 : 128;
    } else {
      prefix = parsePrefix(v, slash + 1);
      kind = prefix < 0 ? 0 : parseIp(v.slice(0, slash), scratch);
      if ((kind === 4 && prefix > 32) || prefix > 128) return false;
    }
    if (kind === 0) return false;
    for (let k = 0; k < nets.length; k++) {
      const net = nets[k] as Cidr;
      if (net.v6 === (kind === 6) && prefix >= net.prefix && inNet(net, scratch)) return true;
    }
    return false;
  };
  return (v) => {
    if (typeof v !== 'string') return false;
    if (v !== last) {
      lastResult = test(v);
      last = v;
    }
    return lastResult;
  };
}

/** Decimal prefix length after a slash, 0–128, or -1. */
function parsePrefix(s: string, start: number): number {
  const n = s.length - start;
  if (n < 1 || n > 3) return -1;
  let p = 0;
  for (let i = start; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    p = p * 10 + (c - 48);
  }
  return p > 128 ? -1 : p;
}
