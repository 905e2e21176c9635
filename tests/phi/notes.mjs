#!/usr/bin/env node
// Seeded generator of synthetic English clinical notes with gold PHI spans
// (HIPAA Safe Harbor identifiers). See README.md in this folder.
//
//   node tests/phi/notes.mjs --seed S --count N [--upper F] [--clean F]
//
// Writes N JSONL records to stdout:
//   {"note_id": "S-n", "kind": ..., "text": ..., "spans": [{start, end, type, text}]}
// Offsets are Unicode code-point offsets (end-exclusive), like Python indices.
//
// How it works: every note is built as a tree of fragments, where a fragment
// is a plain string, a Phi (typed identifier) or an array of fragments. The
// renderer flattens the tree, applies the case transform piece by piece and
// counts code points as it goes, so spans are exact by construction. Nothing
// is ever searched for in the finished text.
//
// Determinism: each note n has its own PRNG streams and its own faker seeds
// derived from (seed, n), so a note depends only on (seed, n, --clean
// decision). The upper-case and clean decisions come from a separate stream,
// so `--upper 1` gives exactly the upper-cased text of `--upper 0`.

import { allFakers } from '@faker-js/faker';
import { pathToFileURL } from 'node:url';
import { renameSync, writeFileSync } from 'node:fs';

// ---------------------------------------------------------------------------
// PHI categories and the fragment tree
// ---------------------------------------------------------------------------

export const PHI_TYPES = Object.freeze([
  'NAME', 'LOCATION', 'ZIP', 'DATE', 'AGE', 'PHONE', 'FAX', 'EMAIL', 'SSN',
  'MRN', 'ACCOUNT', 'LICENSE', 'VEHICLE', 'DEVICE', 'URL', 'IP', 'ID',
]);
const TYPE_SET = new Set(PHI_TYPES);

/** One annotated identifier; becomes exactly one gold span. */
class Phi {
  constructor(type, text) {
    text = String(text);
    if (!TYPE_SET.has(type)) throw new Error(`unknown PHI type ${type}`);
    if (text.length === 0 || text.trim() !== text) {
      throw new Error(`bad ${type} span text ${JSON.stringify(text)}`);
    }
    this.type = type;
    this.text = text;
  }
}

/** Tagged template: t`Seen by ${name} on ${date}.` -> fragment array. */
function t(strings, ...values) {
  const out = [];
  strings.forEach((s, i) => {
    if (s) out.push(s);
    if (i < values.length) out.push(values[i]);
  });
  return out;
}

const isEmpty = (x) =>
  x === null || x === undefined || x === false || x === '' ||
  (Array.isArray(x) && x.every(isEmpty));

/** Interleave non-empty fragments with a separator. */
function join(items, sep) {
  const out = [];
  for (const it of items) {
    if (isEmpty(it)) continue;
    if (out.length) out.push(sep);
    out.push(it);
  }
  return out;
}
const lines = (...items) => join(items, '\n');
const para = (...items) => join(items, ' ');
const blocks = (...items) => join(items, '\n\n');
/** "a", "a and b", "a, b, and c" */
function list(items) {
  items = items.filter((x) => !isEmpty(x));
  if (items.length <= 2) return join(items, ' and ');
  return [join(items.slice(0, -1), ', '), ', and ', items[items.length - 1]];
}

/** Length in code points (a string iterator yields code points, not UTF-16 units). */
const cpLen = (s) => [...s].length;

/** Flatten a fragment tree into {text, spans}; offsets in code points. */
export function render(frag, { upper = false } = {}) {
  const parts = [];
  const spans = [];
  let cp = 0;
  const visit = (x) => {
    if (x === null || x === undefined || x === false || x === true) return;
    if (Array.isArray(x)) return x.forEach(visit);
    if (x instanceof Phi) {
      const s = upper ? x.text.toUpperCase() : x.text;
      const len = cpLen(s);
      spans.push({ start: cp, end: cp + len, type: x.type, text: s });
      parts.push(s);
      cp += len;
      return;
    }
    // Case-mapping may change length (e.g. "ß" -> "SS"), so transform each
    // piece before counting it.
    const s = upper ? String(x).toUpperCase() : String(x);
    // A fragment interpolated into a plain (untagged) template string.
    if (s.includes('[object ') || /(^|[^ ]),,/.test(s)) throw new Error(`stringified fragment in ${JSON.stringify(s)}`);
    parts.push(s);
    cp += cpLen(s);
  };
  visit(frag);
  return { text: parts.join(''), spans };
}

// ---------------------------------------------------------------------------
// Seeded PRNG (xmur3 string hash -> sfc32). Never Math.random.
// ---------------------------------------------------------------------------

function xmur3(str) {
  let h = 1779033703 ^ str.length;
  for (let i = 0; i < str.length; i++) {
    h = Math.imul(h ^ str.charCodeAt(i), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  return () => {
    h = Math.imul(h ^ (h >>> 16), 2246822507);
    h = Math.imul(h ^ (h >>> 13), 3266489909);
    return (h ^= h >>> 16) >>> 0;
  };
}

function sfc32(a, b, c, d) {
  return () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let r = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    r = (r + d) | 0;
    c = (c + r) | 0;
    return (r >>> 0) / 4294967296;
  };
}

class Rng {
  constructor(key) {
    const h = xmur3(key);
    this.next = sfc32(h(), h(), h(), h());
    for (let i = 0; i < 15; i++) this.next();
  }
  float() { return this.next(); }
  /** integer in [lo, hi] */
  int(lo, hi) { return lo + Math.floor(this.next() * (hi - lo + 1)); }
  /** float in [lo, hi] rounded to `dec` decimals, as a string */
  dec(lo, hi, dec = 1) { return (lo + this.next() * (hi - lo)).toFixed(dec); }
  chance(p) { return this.next() < p; }
  pick(arr) { return arr[Math.floor(this.next() * arr.length)]; }
  /** pick from [[value, weight], ...] */
  weighted(pairs) {
    const total = pairs.reduce((s, [, w]) => s + w, 0);
    let x = this.next() * total;
    for (const [v, w] of pairs) if ((x -= w) < 0) return v;
    return pairs[pairs.length - 1][0];
  }
  /** k distinct elements, in random order */
  sample(arr, k) {
    const a = arr.slice();
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a.slice(0, Math.min(k, a.length));
  }
  digits(n) { let s = ''; for (let i = 0; i < n; i++) s += this.int(0, 9); return s; }
  letters(n, alphabet = 'ABCDEFGHJKLMNPRSTUVWXYZ') {
    let s = ''; for (let i = 0; i < n; i++) s += this.pick(alphabet); return s;
  }
}

// ---------------------------------------------------------------------------
// Dates (UTC only, so output never depends on the machine's time zone)
// ---------------------------------------------------------------------------

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July',
  'August', 'September', 'October', 'November', 'December'];
const MON = MONTHS.map((m) => m.slice(0, 3));
const DAY_MS = 86400000;
const pad = (n, w = 2) => String(n).padStart(w, '0');
const ordinal = (n) => {
  const s = n % 100 >= 11 && n % 100 <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] || 'th');
  return `${n}${s}`;
};
const addDays = (d, k) => new Date(d.getTime() + k * DAY_MS);
const withTime = (d, h, m) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), h, m));
const yearsBetween = (a, b) => {
  let y = b.getUTCFullYear() - a.getUTCFullYear();
  if (b.getUTCMonth() < a.getUTCMonth() ||
      (b.getUTCMonth() === a.getUTCMonth() && b.getUTCDate() < a.getUTCDate())) y--;
  return y;
};

/** Date formats with a year (for DOBs, headers, signatures). */
const FULL_DATE_FORMATS = [
  ['mdy', 10], ['mdy1', 4], ['mdyy', 2], ['mdydash', 2], ['iso', 2], ['dmony', 2],
  ['mondy', 2], ['monthdy', 2], ['dmonthy', 1],
];
/** Shorter forms used in running text. */
const SHORT_DATE_FORMATS = [['md', 5], ['monthord', 2], ['mond', 2], ['mondy', 2], ['mdy', 3], ['mdyy', 2]];

function formatDate(d, f) {
  const Y = d.getUTCFullYear(), M = d.getUTCMonth() + 1, D = d.getUTCDate();
  switch (f) {
    case 'mdy': return `${pad(M)}/${pad(D)}/${Y}`;
    case 'mdy1': return `${M}/${D}/${Y}`;
    case 'mdyy': return `${M}/${D}/${pad(Y % 100)}`;
    case 'mdydash': return `${pad(M)}-${pad(D)}-${Y}`;
    case 'iso': return `${Y}-${pad(M)}-${pad(D)}`;
    case 'dmony': return `${pad(D)}-${MON[M - 1]}-${Y}`;
    case 'mondy': return `${MON[M - 1]} ${D}, ${Y}`;
    case 'monthdy': return `${MONTHS[M - 1]} ${D}, ${Y}`;
    case 'dmonthy': return `${D} ${MONTHS[M - 1]} ${Y}`;
    case 'monthord': return `${MONTHS[M - 1]} ${ordinal(D)}`;
    case 'mond': return `${MON[M - 1]} ${D}`;
    case 'md': return `${M}/${D}`;
    case 'monthy': return `${MONTHS[M - 1]} ${Y}`;
    case 'my': return `${pad(M)}/${Y}`;
    case 'ord': return ordinal(D);
    default: throw new Error(`unknown date format ${f}`);
  }
}

function formatTime(d, f) {
  const h = d.getUTCHours(), m = d.getUTCMinutes();
  switch (f) {
    case 'hh:mm': return `${pad(h)}:${pad(m)}`;
    case 'hhmm': return `${pad(h)}${pad(m)}`;
    case 'ampm': return `${h % 12 || 12}:${pad(m)} ${h < 12 ? 'AM' : 'PM'}`;
    default: throw new Error(`unknown time format ${f}`);
  }
}

// ---------------------------------------------------------------------------
// Identifier formats
// ---------------------------------------------------------------------------

function luhnCheckDigit(digits) {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/** NPI: 10 digits, Luhn over "80840" + first 9 digits. */
function makeNpi(rng) {
  const base = rng.pick(['1', '2']) + rng.digits(8);
  return base + luhnCheckDigit('80840' + base);
}

/** DEA number: 2 letters + 6 digits + check digit. */
function makeDea(rng, lastName) {
  const initial = (asciiFold(lastName)[0] || 'X').toUpperCase();
  const d = rng.digits(6);
  const sum = (+d[0] + +d[2] + +d[4]) + 2 * (+d[1] + +d[3] + +d[5]);
  return `${rng.pick(['A', 'B', 'F', 'M'])}${initial}${d}${sum % 10}`;
}

/** 17-character VIN with a valid check digit (no I, O, Q). */
function makeVin(rng) {
  const alpha = 'ABCDEFGHJKLMNPRSTUVWXYZ0123456789';
  const value = (ch) => /\d/.test(ch) ? +ch
    : 'ABCDEFGH'.includes(ch) ? 'ABCDEFGH'.indexOf(ch) + 1
    : 'JKLMN'.includes(ch) ? 'JKLMN'.indexOf(ch) + 1
    : ch === 'P' ? 7 : ch === 'R' ? 9 : 'STUVWXYZ'.indexOf(ch) + 2;
  const weights = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
  const v = [rng.pick(['1', '2', '3', '4', '5', 'J', 'K', 'W'])];
  for (let i = 1; i < 17; i++) v.push(i >= 11 ? String(rng.int(0, 9)) : rng.pick(alpha));
  const sum = v.reduce((s, ch, i) => s + value(ch) * weights[i], 0);
  v[8] = sum % 11 === 10 ? 'X' : String(sum % 11);
  return v.join('');
}

function asciiFold(s) {
  return s.normalize('NFD').replace(/\p{M}/gu, '')
    .replace(/[đĐ]/g, 'd').replace(/[łŁ]/g, 'l').replace(/ı/g, 'i').replace(/ß/g, 'ss')
    .replace(/[øØ]/g, 'o').replace(/[^A-Za-z]/g, '');
}

const PHONE_FORMATS = [['paren', 6], ['dash', 6], ['dot', 2], ['plus1', 2], ['bare', 1], ['one', 1]];

function formatPhone(n, f) {
  const [a, b, c] = [n.slice(0, 3), n.slice(3, 6), n.slice(6)];
  switch (f) {
    case 'paren': return `(${a}) ${b}-${c}`;
    case 'dash': return `${a}-${b}-${c}`;
    case 'dot': return `${a}.${b}.${c}`;
    case 'plus1': return `+1 ${a} ${b} ${c}`;
    case 'bare': return `${a}${b}${c}`;
    case 'one': return `1-${a}-${b}-${c}`;
    default: throw new Error(`unknown phone format ${f}`);
  }
}

// ---------------------------------------------------------------------------
// Names: locales and people
// ---------------------------------------------------------------------------

/** Latin-script faker locales used for ~20% of names (weights). */
const DIVERSE_LOCALES = [
  ['es_MX', 6], ['es', 2], ['vi', 4], ['en_IN', 4], ['pt_BR', 1], ['fr', 1],
  ['it', 1], ['pl', 1], ['de', 1], ['en_NG', 1], ['yo_NG', 1], ['en_GH', 1], ['tr', 1],
];
const ALL_LOCALES = ['en_US', ...DIVERSE_LOCALES.map(([l]) => l)];

const SAINTS = ['Mary', 'Joseph', 'Luke', 'Francis', 'Vincent', 'Elizabeth', 'Anne',
  'Jude', 'Catherine', 'Agnes', 'Michael', 'Peter', 'John', 'Clare', 'Anthony', 'Rose'];
const NATURE = ['Oak', 'Maple', 'Cedar', 'Willow', 'Pine', 'Birch', 'Aspen', 'Magnolia', 'Laurel', 'Holly'];
const NATURE2 = ['Grove', 'Ridge', 'Meadows', 'Hill', 'Gardens', 'Glen', 'Crest', 'Park', 'Brook', 'Terrace'];

// ---------------------------------------------------------------------------
// Per-note context: PRNG, faker instances, timeline, people, PHI producers
// ---------------------------------------------------------------------------

class Ctx {
  constructor(seed, n, clean) {
    this.seed = seed;
    this.n = n;
    this.clean = clean;
    this.rng = new Rng(`medgate-notes/${seed}/${n}/main`);
    this._fakers = new Map();
    const r = this.rng;
    // Anchor date of the note; every other date is placed relative to it.
    this.noteDate = addDays(new Date(Date.UTC(2015, 0, 1)), r.int(0, 3650));
    this.style = {
      date: r.weighted(FULL_DATE_FORMATS),
      time: r.weighted([['hh:mm', 6], ['hhmm', 3], ['ampm', 2]]),
      phone: r.weighted(PHONE_FORMATS),
      upperHeaderName: r.chance(0.35),
    };
  }

  /** faker instance for a locale, seeded from (seed, note, locale) on first use. */
  faker(locale = 'en_US') {
    let f = this._fakers.get(locale);
    if (!f) {
      f = allFakers[locale];
      f.seed([this.seed, this.n, ALL_LOCALES.indexOf(locale) + 1]);
      this._fakers.set(locale, f);
    }
    return f;
  }

  // -- generic helpers ------------------------------------------------------
  pick(a) { return this.rng.pick(a); }
  chance(p) { return this.rng.chance(p); }
  int(lo, hi) { return this.rng.int(lo, hi); }
  dec(lo, hi, d) { return this.rng.dec(lo, hi, d); }

  /** A PHI span, or `fallback` in a clean note (no fallback there is a bug). */
  phi(type, text, fallback) {
    if (this.clean) {
      if (fallback === undefined) throw new Error(`PHI ${type} requested in a clean note`);
      return fallback;
    }
    return new Phi(type, text);
  }
  /** Optional PHI-bearing text: omitted entirely in clean notes. */
  opt(fn) { return this.clean ? null : fn(); }

  // -- dates and ages ---------------------------------------------------------
  daysAgo(lo, hi, from = this.noteDate) { return addDays(from, -this.int(lo, hi)); }
  year(backLo, backHi) { return String(this.noteDate.getUTCFullYear() - this.int(backLo, backHi)); }
  at(d, hLo = 0, hHi = 23) { return withTime(d, this.int(hLo, hHi), this.int(0, 59)); }

  /** DATE span; fmt defaults to the note's house style. */
  date(d, fmt = this.style.date, fallback) {
    return this.phi('DATE', formatDate(d, fmt), fallback);
  }
  /** Date in running text, in a short or full format. */
  sdate(d, fallback) { return this.date(d, this.rng.weighted(SHORT_DATE_FORMATS), fallback); }
  /** Date with an attached time, one span: "03/14/2021 09:12". */
  dt(d, fallback, fmt = this.style.date) {
    return this.phi('DATE', `${formatDate(d, fmt)} ${formatTime(d, this.style.time)}`, fallback);
  }
  /** "on 3/14" or, in a clean note, a relative phrase ("2 days ago"). */
  on(d, ref = this.noteDate) {
    if (this.clean) return relativeDays(Math.round((ref - d) / DAY_MS));
    return t`on ${this.sdate(d)}`;
  }
  time(d) { return formatTime(d, this.style.time); }

  /** An age with its unit. Ages over 89 are PHI (the number only). */
  age(n, form = '-year-old') {
    // No fallback: a clean note must never contain an age over 89.
    const num = n > 89 ? this.phi('AGE', String(n)) : String(n);
    switch (form) {
      case '-year-old': return t`${num}-year-old`;
      case 'y/o': return t`${num} y/o`;
      case 'yo': return t`${num}yo`;
      case 'years old': return t`${num} years old`;
      case 'bare': return t`${num}`;
      default: throw new Error(form);
    }
  }

  // -- people --------------------------------------------------------------
  nameLocale(diverseShare = 0.2) {
    return this.chance(diverseShare) ? this.rng.weighted(DIVERSE_LOCALES) : 'en_US';
  }

  person({ sex = this.pick(['female', 'male']), locale = this.nameLocale(), last, role } = {}) {
    const f = this.faker(locale);
    const first = f.person.firstName(sex);
    const lastName = last ?? f.person.lastName(sex);
    const mi = this.rng.letters(1, 'ABCDEFGHJKLMNPRSTW');
    const title = sex === 'male' ? 'Mr.' : this.pick(['Mrs.', 'Ms.', 'Ms.']);
    const p = { first, last: lastName, mi, sex, locale, title, role };
    Object.assign(p, pronouns(sex));
    return p;
  }

  clinician(role, cred = 'MD', { sex, locale = this.nameLocale(0.3) } = {}) {
    const p = this.person({ sex, locale, role });
    p.cred = cred;
    return p;
  }

  /** NAME span in one of several forms (the name tokens only). */
  name(p, form = 'full', fallback) {
    return this.phi('NAME', nameText(p, form), fallback);
  }
  /** "Mr. Nguyen" (title outside the span). */
  mr(p, fallback) {
    if (this.clean) return fallback ?? 'the patient';
    return t`${p.title} ${this.name(p, 'last')}`;
  }
  /** Clinician by name: "Dr. Kim", "Dr. Sarah Kim", "Sarah Kim, MD"; role in clean notes. */
  dr(p, form = this.pick(['dr', 'dr', 'drfull', 'cred'])) {
    if (this.clean) return `the ${p.role}`;
    const isDoc = ['MD', 'DO'].includes(p.cred);
    if (form === 'cred' || !isDoc) return t`${this.name(p, 'full')}, ${p.cred}`;
    if (form === 'drfull') return t`Dr. ${this.name(p, 'full')}`;
    return t`Dr. ${this.name(p, 'last')}`;
  }
  /** "her daughter Maria" / "her daughter" (clean). */
  rel(p, relative, form = 'first') {
    const base = `${p.his} ${relative.relation}`;
    if (this.clean) return base;
    return t`${base} ${this.name(relative, form)}`;
  }
  /** Signature line: "Sarah Kim, MD" + optional date/time. */
  signature(p, d) {
    if (this.clean) return null;
    const name = this.name(p, this.pick(['full', 'full', 'fml']));
    const lead = this.pick(['Electronically signed by: ', 'Signed: ', 'E-signed by ', '']);
    const when = d ? [this.pick([' ', ' on ', '  ']), this.dt(d)] : null;
    return t`${lead}${name}, ${p.cred}${when}`;
  }

  // -- places ----------------------------------------------------------------
  city() {
    const f = this.faker('en_US');
    return this.chance(0.6)
      ? f.helpers.arrayElement(f.rawDefinitions.location.city_name)
      : f.location.city();
  }
  address() {
    const f = this.faker('en_US');
    const state = f.location.state({ abbreviated: true });
    let street = `${f.location.buildingNumber()} ${f.location.street()}`;
    if (this.chance(0.3)) street += `${this.pick([', ', ' '])}${f.location.secondaryAddress()}`;
    const zip = this.chance(0.85) ? f.location.zipCode({ state }) : f.location.zipCode({ state }) + '-' + this.rng.digits(4);
    return { street, city: this.city(), state, stateName: f.location.state(), zip, county: f.location.county() };
  }
  /** Facility name of a kind: hospital, clinic, snf, urgent, rehab, pharmacy. */
  facilityName(kind) {
    const f = this.faker('en_US');
    const city = this.city();
    const last = f.person.lastName();
    const county = f.location.county().replace(/ County$/, '');
    const nature = `${this.pick(NATURE)} ${this.pick(NATURE2)}`;
    const options = {
      hospital: [`${last} Memorial Hospital`, `St. ${this.pick(SAINTS)}'s Medical Center`,
        `${city} General Hospital`, `${city} Regional Medical Center`, `${county} County Hospital`,
        `Mercy Hospital of ${city}`, `${city} VA Medical Center`, `${city} Community Hospital`,
        `Saint ${this.pick(SAINTS)} Hospital`],
      clinic: [`${city} Family Medicine`, `${last} Internal Medicine Associates`,
        `${city} Internal Medicine`, `${city} Community Health Center`,
        `${last} Primary Care`, `${city} Medical Group`],
      snf: [`${nature} Nursing and Rehabilitation Center`, `${city} Health Care Center`,
        `${nature} Senior Living`, `${last} Manor Nursing Home`],
      urgent: [`${city} Urgent Care`, `${city} Walk-In Clinic`, `${last} Express Care`],
      rehab: [`${city} Rehabilitation Hospital`, `${nature} Acute Rehab`],
      pharmacy: [`${city} Pharmacy`, `${last} Family Pharmacy`, `${nature} Apothecary`],
    }[kind];
    return this.pick(options);
  }
  facility(kind) {
    const name = this.facilityName(kind);
    return { name, kind, slug: slugOf(name) };
  }
  loc(text, fallback) { return this.phi('LOCATION', text, fallback); }
  zip(text) { return this.phi('ZIP', text); }
  /** "1234 Elm Street, Apt 5, Springfield, IL 62704" as three spans. */
  fullAddress(a, sep = ', ') {
    return t`${this.loc(a.street)}${sep}${this.loc(a.city)}, ${a.state} ${this.zip(a.zip)}`;
  }

  // -- numbers -----------------------------------------------------------------
  phoneDigits() {
    return `${this.int(2, 9)}${this.rng.digits(2)}${this.int(2, 9)}${this.rng.digits(2)}${this.rng.digits(4)}`;
  }
  phone(digits = this.phoneDigits(), type = 'PHONE', { ext = this.chance(0.06) } = {}) {
    const fmt = this.chance(0.75) ? this.style.phone : this.rng.weighted(PHONE_FORMATS);
    let s = formatPhone(digits, fmt);
    if (ext) s += `${this.pick([' ext. ', ' x', ' ext '])}${this.int(2, 9999)}`;
    return this.phi(type, s);
  }
  fax(digits) { return this.phone(digits, 'FAX', { ext: false }); }
}

function pronouns(sex) {
  const f = sex === 'female';
  return {
    he: f ? 'she' : 'he', He: f ? 'She' : 'He', his: f ? 'her' : 'his', His: f ? 'Her' : 'His',
    him: f ? 'her' : 'him', man: f ? 'woman' : 'man', gender: f ? 'F' : 'M',
    spouse: f ? 'husband' : 'wife',
  };
}

function nameText(p, form) {
  const initial = [...p.first][0];
  switch (form) {
    case 'full': return `${p.first} ${p.last}`;
    case 'fml': return `${p.first} ${p.mi}. ${p.last}`;
    case 'lf': return `${p.last}, ${p.first}`;
    case 'lfm': return `${p.last}, ${p.first} ${p.mi}`;
    case 'LF': return `${p.last}, ${p.first}`.toUpperCase();
    case 'LFM': return `${p.last}, ${p.first} ${p.mi}`.toUpperCase();
    case 'init': return `${initial}. ${p.last}`;
    case 'first': return p.first;
    case 'last': return p.last;
    default: throw new Error(`unknown name form ${form}`);
  }
}

function slugOf(name) {
  const stop = new Set(['of', 'the', 'and', 'st', 'saint', 'hospital', 'center', 'medical']);
  const words = name.split(/\s+/).map(asciiFold).map((w) => w.toLowerCase())
    .filter((w) => w && !stop.has(w));
  return (words.slice(0, 2).join('') || 'health').slice(0, 24);
}

function relativeDays(k) {
  if (k <= 0) return 'today';
  if (k === 1) return 'yesterday';
  if (k < 14) return `${k} days ago`;
  if (k < 60) return `${Math.round(k / 7)} weeks ago`;
  if (k < 700) return `${Math.round(k / 30)} months ago`;
  return `${Math.round(k / 365)} years ago`;
}

// ---------------------------------------------------------------------------
// The cast of one note: patient, relatives, clinicians, places, identifiers
// ---------------------------------------------------------------------------

const OCCUPATIONS = ['retired machinist', 'retired schoolteacher', 'works as a nursing assistant',
  'long-haul truck driver', 'accountant', 'works in construction', 'retired postal worker',
  'homemaker', 'college student', 'works as a cashier', 'software developer', 'retired farmer',
  'works as a line cook', 'retired bus driver', 'hairdresser', 'disabled, not working'];

function makeCast(c, sc) {
  const r = c.rng;
  const p = c.person();
  // Over-89 patients are common on medicine wards; never in clean notes.
  let age = !c.clean && r.chance(0.12) ? r.int(90, 103)
    : r.weighted([[r.int(19, 39), 1], [r.int(40, 64), 3], [r.int(65, 89), 4]]);
  if (age < (sc.minAge ?? 19)) age = r.int(sc.minAge, 89);
  const anniversary = new Date(Date.UTC(c.noteDate.getUTCFullYear() - age,
    c.noteDate.getUTCMonth(), c.noteDate.getUTCDate()));
  p.dob = addDays(anniversary, -r.int(1, 360));
  p.age = yearsBetween(p.dob, c.noteDate);
  p.address = c.address();
  p.phoneDigits = c.phoneDigits();
  p.occupation = p.age >= 70 ? r.pick(OCCUPATIONS.filter((o) => /retired|homemaker/.test(o)))
    : r.pick(OCCUPATIONS.filter((o) => !/retired/.test(o) || p.age > 55));
  p.mrn = r.weighted([[r.digits(8), 4], ['00' + r.digits(6), 2], [r.letters(1) + r.digits(7), 2], ['E' + r.digits(9), 1]]);
  p.acct = r.weighted([[r.digits(10), 3], [r.digits(9), 2], ['A' + r.digits(8), 1]]);
  p.member = r.weighted([[r.letters(3) + r.digits(9), 3], ['W' + r.digits(9), 1],
    [`${r.int(1, 9)}${r.letters(2)}${r.int(0, 9)}-${r.letters(2)}${r.int(0, 9)}-${r.letters(2)}${r.digits(2)}`, 1]]);
  p.insurer = r.pick(['Medicare', 'Medicare Advantage', 'Medicaid', 'Blue Cross Blue Shield',
    'Aetna', 'UnitedHealthcare', 'Cigna', 'Humana', 'Tricare']);
  p.ssn = `${pad(r.int(1, 665), 3)}${pad(r.int(1, 99))}${pad(r.int(1, 9999), 4)}`;
  const f = c.faker('en_US');
  const ef = asciiFold(p.first).toLowerCase(), el = asciiFold(p.last).toLowerCase();
  p.email = f.internet.email({ firstName: ef || 'pt', lastName: el || 'mail' }).toLowerCase();

  // Relatives share the patient's name origin; children often the surname.
  const relatives = [];
  const married = p.age < 90 ? r.chance(0.55) : r.chance(0.2);
  if (married) {
    const spouse = c.person({
      sex: p.sex === 'male' ? 'female' : 'male',
      locale: r.chance(0.8) ? p.locale : 'en_US',
      last: r.chance(0.75) ? p.last : undefined,
    });
    spouse.relation = p.spouse;
    relatives.push(spouse);
  }
  const nKids = p.age > 40 ? r.int(1, 3) : r.int(0, 1);
  for (let i = 0; i < nKids; i++) {
    const sex = r.pick(['female', 'male']);
    const kid = c.person({
      sex, locale: r.chance(0.65) ? p.locale : 'en_US',
      last: sex === 'male' || r.chance(0.4) ? p.last : undefined,
    });
    kid.relation = sex === 'female' ? 'daughter' : 'son';
    relatives.push(kid);
  }
  if (relatives.length === 0) {
    const sib = c.person({ locale: p.locale, last: r.chance(0.5) ? p.last : undefined });
    sib.relation = sib.sex === 'female' ? 'sister' : 'brother';
    relatives.push(sib);
  }
  for (const rel of relatives) rel.phoneDigits = c.phoneDigits();

  const hospital = c.facility('hospital');
  return {
    p,
    relatives,
    hcp: r.pick(relatives),
    spouse: married ? relatives[0] : null,
    attending: c.clinician('attending', r.weighted([['MD', 5], ['DO', 1]])),
    resident: c.clinician('resident', 'MD'),
    pcp: c.clinician('primary care physician', r.weighted([['MD', 6], ['DO', 1], ['NP', 2]])),
    consultant: c.clinician('consultant', 'MD'),
    nurse: c.clinician('nurse', 'RN', { sex: r.chance(0.8) ? 'female' : 'male' }),
    radiologist: c.clinician('radiologist', 'MD'),
    hospital,
    pcpClinic: c.facility('clinic'),
    osh: c.facility('hospital'),
    snf: c.facility('snf'),
    urgent: c.facility('urgent'),
    pharmacy: c.facility('pharmacy'),
    clinicAddress: c.address(),
  };
}

// ---------------------------------------------------------------------------
// Clinical vocabulary. Deliberately full of non-PHI look-alikes: eponyms,
// brand names, scores, ratios, doses, codes, years, durations, times.
// ---------------------------------------------------------------------------

/** Comorbidities with the home medication they imply ({year} -> a past year). */
const COMORBIDITIES = [
  { dx: 'hypertension (I10)', group: 'htn', med: 'lisinopril 20 mg PO daily' },
  { dx: 'HTN', group: 'htn', med: 'amlodipine 5 mg PO daily' },
  { dx: 'type 2 diabetes mellitus (E11.9), last A1c 7.8%', group: 'dm', med: 'metformin 1000 mg PO BID' },
  { dx: 'T2DM on insulin', group: 'dm', med: 'insulin glargine (Lantus) 22 units SC qHS' },
  { dx: 'hyperlipidemia', med: 'atorvastatin (Lipitor) 40 mg PO qHS' },
  { dx: 'CKD stage 3a (baseline Cr 1.3)', med: null },
  { dx: 'hypothyroidism', group: 'thyroid', med: 'levothyroxine 88 mcg PO daily' },
  { dx: 'Graves disease s/p radioactive iodine ({year}), now hypothyroid', group: 'thyroid', med: 'levothyroxine 112 mcg PO daily' },
  { dx: 'GERD', med: 'omeprazole 20 mg PO daily' },
  { dx: 'OSA on CPAP', med: null },
  { dx: 'BPH', med: 'tamsulosin (Flomax) 0.4 mg PO qHS', sex: 'male' },
  { dx: 'osteoarthritis of both knees', med: 'Tylenol 650 mg PO q6h prn pain' },
  { dx: 'depression', group: 'mood', med: 'sertraline 100 mg PO daily' },
  { dx: 'generalized anxiety disorder', group: 'mood2', med: 'buspirone 10 mg PO BID' },
  { dx: 'gout', med: 'allopurinol 100 mg PO daily' },
  { dx: "Parkinson's disease (diagnosed {year})", med: 'carbidopa-levodopa (Sinemet) 25/100 1 tab PO TID' },
  { dx: "Crohn's disease, ileocolonic, in remission", med: 'Humira 40 mg SC every 14 days' },
  { dx: 'Hodgkin lymphoma s/p ABVD in {year}, in remission', med: null },
  { dx: "Bell's palsy ({year}), resolved", med: null },
  { dx: "Addison's disease", med: 'hydrocortisone 15 mg qAM and 5 mg qPM' },
  { dx: 'iron deficiency anemia', med: 'ferrous sulfate 325 mg PO daily' },
  { dx: 'glaucoma', med: 'latanoprost 0.005% 1 drop OU qHS' },
  { dx: 'peripheral neuropathy', med: 'gabapentin 300 mg PO TID' },
  { dx: 'asthma', group: 'lung', med: 'albuterol HFA 2 puffs q4h prn wheeze' },
  { dx: 'migraine without aura', med: 'sumatriptan 50 mg PO prn' },
  { dx: 'history of provoked DVT ({year})', med: null },
  { dx: 'chronic low back pain', med: 'Norco 5/325 1 tab PO q6h prn severe pain' },
  { dx: 'insomnia', med: 'melatonin 3 mg PO qHS' },
];

const SURGERIES = [
  { s: 'appendectomy as a teenager' },
  { s: 'laparoscopic cholecystectomy ({year})' },
  { s: 'Whipple procedure for an ampullary adenoma ({year})' },
  { s: 'laparoscopic Nissen fundoplication ({year})' },
  { s: 'right total knee arthroplasty ({year})' },
  { s: 'left total hip arthroplasty ({year})' },
  { s: 'CABG x3 ({year})' },
  { s: 'C-section x2', sex: 'female' },
  { s: 'total abdominal hysterectomy ({year})', sex: 'female' },
  { s: 'TURP ({year})', sex: 'male' },
  { s: 'left inguinal hernia repair ({year})' },
  { s: 'bilateral cataract extraction' },
  { s: 'tonsillectomy in childhood' },
  { s: 'ORIF of the right ankle after a fall ({year})' },
];

const ALLERGIES = [
  ['NKDA', 6], ['Penicillin (hives)', 3], ['Sulfa drugs (rash)', 2], ['Codeine (nausea and vomiting)', 2],
  ['Latex (contact dermatitis)', 1], ['Iodinated contrast (hives; premedicate)', 1], ['Shellfish', 1],
  ['Lisinopril (angioedema)', 1], ['Morphine (itching)', 1], ['Keflex (rash)', 1],
];

const ROS_NEG = ['fevers', 'chills', 'night sweats', 'headache', 'vision changes', 'chest pain',
  'palpitations', 'abdominal pain', 'nausea', 'vomiting', 'diarrhea', 'melena', 'hematochezia',
  'dysuria', 'hematuria', 'rash', 'focal weakness', 'numbness'];

const DEFAULT_VITALS = { t: [36.4, 37.3], hr: [64, 92], sbp: [112, 146], dbp: [62, 88], rr: [14, 18], spo2: [95, 99], o2: 'RA' };

const DEFAULT_EXAM = {
  gen: ['Alert, oriented x3, in no acute distress.', 'Well-appearing, resting comfortably in bed.', 'Pleasant, conversant, NAD.'],
  heent: ['NCAT. PERRL, EOMI. MMM, oropharynx clear.', 'Normocephalic, atraumatic. Sclerae anicteric. Mucous membranes moist.'],
  neck: ['Supple, no JVD, no lymphadenopathy.', 'No JVD. No thyromegaly.'],
  cv: ['RRR, normal S1/S2, no murmurs, rubs, or gallops.', 'Regular rate and rhythm; 2/6 systolic ejection murmur at the RUSB, non-radiating.', 'RRR. No m/r/g.'],
  resp: ['Clear to auscultation bilaterally, no wheezes, rales, or rhonchi.', 'CTAB. Normal work of breathing.', 'Lungs clear; good air movement throughout.'],
  abd: ["Soft, non-tender, non-distended, normoactive bowel sounds. Murphy's sign negative.", 'Soft, NT/ND, +BS. No hepatosplenomegaly.', 'Obese, soft, non-tender. No rebound or guarding.'],
  ext: ['Warm and well perfused. No edema. Homans sign negative bilaterally.', 'No clubbing, cyanosis, or edema. 2+ DP pulses bilaterally.', 'Trace bilateral ankle edema. Calves soft and non-tender.'],
  neuro: ['CN II-XII grossly intact. Strength 5/5 in all extremities. Sensation intact to light touch. Babinski downgoing bilaterally.', 'A&Ox3. No focal deficits. Gait not assessed.', 'Alert, fluent speech. Moves all extremities symmetrically, 5/5 strength. GCS 15.'],
  skin: ['Warm, dry, intact. No rashes.', 'No rashes or lesions. Stage 1 pressure injury over sacrum, blanching.', 'Skin intact, no petechiae.'],
};

const DEFAULT_LABS = {
  na: [135, 143, 0], k: [3.6, 4.8, 1], cl: [98, 106, 0], hco3: [22, 28, 0], bun: [10, 22, 0],
  cr: [0.7, 1.2, 1], glu: [88, 148, 0], wbc: [5.2, 10.4, 1], hgb: [11.8, 14.9, 1], plt: [168, 362, 0],
  mg: [1.8, 2.3, 1],
};

// ---------------------------------------------------------------------------
// Clinical scenarios. Each drives HPI, exam, labs, imaging and plan so that a
// note reads coherently. Functions receive (c, cast) and return fragments;
// PHI inside them goes through c.* producers (and c.opt for optional text).
// ---------------------------------------------------------------------------

const SCENARIOS = [
  {
    key: 'chf',
    minAge: 50,
    painSite: 'chest',
    dx: 'Acute on chronic systolic heart failure (I50.23)',
    cc: ['shortness of breath', 'leg swelling and dyspnea', 'SOB and weight gain'],
    presents: ['worsening shortness of breath and bilateral leg swelling', 'progressive dyspnea on exertion and orthopnea'],
    pmh: ['HFrEF, ischemic cardiomyopathy', 'CAD s/p PCI to the LAD ({year})'],
    meds: ['furosemide (Lasix) 40 mg PO BID', 'carvedilol 12.5 mg PO BID', 'Entresto 24/26 mg PO BID', 'spironolactone 25 mg PO daily', 'aspirin 81 mg PO daily'],
    hpi: (c, { p }) => [
      `Symptoms began about ${c.int(4, 12)} days ago with dyspnea after one flight of stairs and have progressed to dyspnea walking across the room.`,
      `${p.He} now sleeps on ${c.int(2, 4)} pillows and reports ${c.pick(['two', 'three', 'several'])} episodes of PND. Weight is up ${c.int(6, 15)} lb by ${p.his} home scale.`,
      c.pick([`${p.He} admits to dietary indiscretion and ran out of ${p.his} Lasix about a week ago.`,
        `${p.He} reports adherence to all medications using a weekly pill organizer.`]),
      c.opt(() => t`Last TTE ${c.on(c.daysAgo(120, 600))} showed an EF of ${c.int(20, 35)}% with moderate functional MR.`),
      'Denies chest pain, fevers, or productive cough.',
    ],
    vitals: { hr: [92, 112], sbp: [142, 168], spo2: [88, 93], o2: '3L NC', rr: [20, 26] },
    exam: {
      neck: ['JVP elevated to the angle of the jaw at 45 degrees; positive hepatojugular reflux.'],
      cv: ['Tachycardic, regular. S3 present. 2/6 holosystolic murmur at the apex.'],
      resp: ['Bibasilar crackles to the mid-lung fields bilaterally. Dullness at both bases.'],
      ext: ['3+ pitting edema to the knees bilaterally. Feet cool.'],
    },
    labs: { na: [129, 134, 0], cr: [1.3, 1.9, 1], bun: [28, 44, 0] },
    extraLabs: (c) => [`BNP ${c.int(1, 3)},${pad(c.int(0, 999), 3)} pg/mL`, `troponin I ${c.dec(0.02, 0.06, 2)} ng/mL (flat on repeat)`],
    imaging: ['CXR (portable)', 'Cardiomegaly with cephalization and small bilateral pleural effusions, consistent with pulmonary edema.'],
    ecg: 'sinus tachycardia at 104, LBBB (old), QTc 478 ms',
    plan: (c) => [
      'Furosemide 40 mg IV BID; goal net negative 1-1.5 L/day. Strict I/Os, daily standing weights.',
      'Fluid restriction 1.5 L/day, 2 g sodium diet.',
      'Continue carvedilol; hold Entresto and spironolactone while creatinine is up; recheck BMP in the morning.',
      'Replete K to >4.0 and Mg to >2.0.',
      c.pick(['Repeat TTE this admission.', 'Cardiology (heart failure service) following; appreciate recs.']),
    ],
    course: (c, { p }) => [
      `${p.He} was diuresed with IV furosemide with a net negative of ${c.dec(4, 9, 1)} L over the admission and weight down from ${c.dec(88, 96, 1)} kg to ${c.dec(82, 87, 1)} kg.`,
      c.pick(['A Swan-Ganz catheter was briefly placed in the CCU on hospital day 2 for tailored therapy and removed after 36 hours.', 'Oxygen was weaned to room air by hospital day 3.']),
      'Creatinine peaked at 1.9 and improved to baseline with decongestion. Entresto was resumed prior to discharge.',
      'Transitioned to torsemide 40 mg PO daily with a stable weight for 24 hours.',
    ],
    consultService: 'Cardiology (Heart Failure)',
    ed: 'shortness of breath, leg swelling',
    study: 'cxr',
  },
  {
    key: 'pna',
    minAge: 19,
    painSite: 'R chest wall',
    dx: 'Community-acquired pneumonia, right lower lobe (J18.1)',
    cc: ['fever and cough', 'cough and fever', 'productive cough'],
    presents: ['fever, productive cough, and right-sided pleuritic chest pain', 'several days of fevers, chills, and a cough productive of rust-colored sputum'],
    pmh: [],
    meds: [],
    hpi: (c, { p, urgent }) => [
      `Symptoms started ${c.int(3, 7)} days ago with rigors and a Tmax of ${c.dec(38.6, 39.8, 1)} °C at home.`,
      c.opt(() => t`${p.He} was seen at ${c.loc(urgent.name)} ${c.on(c.daysAgo(1, 3))} and started on azithromycin without improvement.`),
      `Reports pleuritic pain on the right with deep inspiration and decreased appetite. No recent travel, no sick contacts.`,
      `Received the influenza vaccine this season; pneumococcal vaccine status unknown.`,
    ],
    vitals: { t: [38.3, 39.4], hr: [98, 118], spo2: [89, 93], o2: '2L NC', rr: [22, 28] },
    exam: { resp: ['Bronchial breath sounds and egophony over the right lower lobe; crackles at the right base.', 'Decreased breath sounds at the right base with dullness to percussion and crackles.'] },
    labs: { wbc: [14.1, 19.8, 1] },
    extraLabs: (c) => [`procalcitonin ${c.dec(1.1, 4.8, 1)} ng/mL`, `lactate ${c.dec(1.4, 2.6, 1)} mmol/L`, 'Legionella and pneumococcal urine antigens pending'],
    imaging: ['CXR (PA/lateral)', 'Dense right lower lobe consolidation with air bronchograms. No pleural effusion or pneumothorax.'],
    plan: (c) => [
      'CURB-65 of 2; admitted to the floor.',
      'Ceftriaxone 1 g IV q24h plus azithromycin 500 mg IV daily; narrow per cultures.',
      'Blood cultures x2 and sputum culture sent prior to antibiotics.',
      'Titrate O2 to SpO2 >92%; incentive spirometry 10x/hour while awake.',
      c.pick(['Tylenol 650 mg q6h prn fever.', 'Guaifenesin prn cough.']),
    ],
    course: (c, { p }) => [
      `${p.He} defervesced within 48 hours of ceftriaxone and azithromycin. Blood cultures remained no growth; urine Streptococcus pneumoniae antigen was positive.`,
      'Weaned to room air on hospital day 3 and transitioned to oral amoxicillin-clavulanate to complete a 5-day course.',
    ],
    consultService: 'Pulmonology',
    ed: 'fever, cough',
    study: 'cxr',
  },
  {
    key: 'copd',
    excludes: ['lung'],
    minAge: 50,
    painSite: 'chest wall',
    dx: 'COPD with acute exacerbation (J44.1)',
    cc: ['shortness of breath', 'wheezing', 'COPD flare'],
    presents: ['increased dyspnea, wheezing, and sputum purulence', 'a COPD exacerbation with worsening cough and wheeze'],
    pmh: ['COPD (GOLD 3, FEV1 41% predicted) on 2L home O2'],
    meds: ['tiotropium (Spiriva) 18 mcg inhaled daily', 'Advair 250/50 1 puff BID', 'albuterol nebs q4h prn'],
    hpi: (c, { p }) => [
      `${p.He} reports ${c.int(3, 6)} days of increased dyspnea, now short of breath at rest, with sputum that changed from white to green.`,
      `${p.He} has used ${p.his} rescue inhaler every ${c.int(2, 3)} hours without relief.`,
      `Former smoker with a ${c.int(35, 70)} pack-year history; quit in ${c.year(2, 12)}.`,
      c.opt(() => t`Last hospitalization for a COPD exacerbation was at ${c.loc(c.facilityName('hospital'))} in ${c.date(c.daysAgo(90, 400), 'monthy')}.`),
    ],
    vitals: { hr: [100, 118], rr: [24, 30], spo2: [85, 89], o2: '4L NC' },
    exam: {
      gen: ['Tripoding, speaking in 4-5 word sentences. Mildly Cushingoid habitus.'],
      resp: ['Diffuse expiratory wheezes with prolonged expiratory phase. Accessory muscle use. Diminished at the bases.'],
    },
    labs: { hco3: [29, 34, 0], wbc: [10.8, 13.9, 1] },
    extraLabs: (c) => [`VBG ${c.dec(7.28, 7.34, 2)}/${c.int(54, 66)}`, 'viral panel negative'],
    imaging: ['CXR', 'Hyperinflated lungs with flattened diaphragms. No focal consolidation.'],
    plan: () => [
      'DuoNebs q4h scheduled and albuterol q2h prn.',
      'Prednisone 40 mg PO daily x5 days.',
      'Doxycycline 100 mg PO BID x5 days for increased sputum purulence.',
      'Titrate O2 to SpO2 88-92%; BiPAP prn for hypercapnia.',
      'Pulmonary rehab referral at discharge.',
    ],
    course: (c, { p }) => [
      `Treated with scheduled nebulizers, prednisone, and doxycycline. ${p.He} required BiPAP overnight on hospital day 1 and was weaned to ${p.his} baseline 2L NC by day 3.`,
    ],
    consultService: 'Pulmonology',
    ed: 'SOB, wheezing',
    study: 'cxr',
  },
  {
    key: 'cellulitis',
    minAge: 19,
    painSite: 'L leg',
    dx: 'Cellulitis of left lower limb (L03.116)',
    cc: ['leg redness', 'left leg pain and swelling', 'red, swollen leg'],
    presents: ['a spreading area of redness, warmth, and swelling of the left lower leg', 'left shin erythema and pain that failed outpatient antibiotics'],
    pmh: [],
    meds: [],
    hpi: (c, { p, pcp }) => [
      `${p.He} noticed a small abrasion on the left shin about a week ago, followed by expanding redness and pain.`,
      c.opt(() => t`${p.He} saw ${c.dr(pcp)} ${c.on(c.daysAgo(2, 4))} and was started on Keflex 500 mg QID, but the redness has spread past the marked border.`),
      `Subjective fevers and chills. Denies calf pain with walking or recent immobilization.`,
    ],
    vitals: { t: [37.6, 38.6], hr: [88, 104] },
    exam: { ext: ['Left lower leg with 14 x 9 cm area of blanching erythema, warmth, and tenderness extending past the marked borders; no fluctuance or crepitus. Homans sign negative. 2+ DP pulses.'] },
    labs: { wbc: [11.2, 15.4, 1] },
    extraLabs: (c) => [`CRP ${c.int(48, 160)} mg/L`, `lactate ${c.dec(0.9, 1.8, 1)}`],
    imaging: ['Venous duplex, left lower extremity', 'No evidence of deep venous thrombosis. Subcutaneous edema of the calf.'],
    plan: () => [
      'Cefazolin 2 g IV q8h; add MRSA coverage if no improvement in 48 hours.',
      'Elevate the left leg; borders marked with a skin marker.',
      'Wound care to the abrasion daily.',
    ],
    course: () => [
      'Treated with IV cefazolin with steady regression of erythema from the marked borders by day 3. Transitioned to cephalexin to complete 7 days total.',
    ],
    consultService: 'Infectious Diseases',
    ed: 'leg redness/swelling',
    study: 'duplex',
  },
  {
    key: 'ugib',
    minAge: 35,
    painSite: 'epigastric',
    dx: 'Acute upper GI bleed due to duodenal ulcer (K26.4)',
    cc: ['black stools', 'melena', 'dizziness and dark stools'],
    presents: ['melena and lightheadedness', 'two days of black tarry stools and presyncope'],
    pmh: ['atrial fibrillation on apixaban'],
    meds: ['Eliquis 5 mg PO BID', 'ibuprofen 400 mg PO prn (OTC)', 'metoprolol tartrate 25 mg PO BID'],
    hpi: (c, { p }) => [
      `${p.He} reports ${c.int(2, 4)} days of black tarry stools and lightheadedness on standing. One episode of coffee-ground emesis this morning.`,
      `${p.He} has been taking ibuprofen 400-800 mg daily for knee pain for about a month.`,
      c.opt(() => t`Last colonoscopy was in ${c.date(c.daysAgo(900, 2500), 'my')} with two tubular adenomas removed.`),
      "No history of liver disease. Denies retching prior to the emesis (less likely Mallory-Weiss).",
    ],
    vitals: { hr: [104, 124], sbp: [88, 104], dbp: [48, 62] },
    exam: { gen: ['Pale, diaphoretic, anxious.'], abd: ['Soft, mild epigastric tenderness, no rebound. Rectal exam with black, guaiac-positive stool.'] },
    labs: { hgb: [6.4, 7.8, 1], bun: [42, 68, 0] },
    extraLabs: (c) => [`INR ${c.dec(1.1, 1.6, 1)}`, 'type and screen sent, 2 units PRBC crossmatched'],
    imaging: null,
    plan: () => [
      'Glasgow-Blatchford score 12. Two large-bore IVs; transfuse for Hgb <7.',
      'Pantoprazole 80 mg IV BID.',
      'Hold Eliquis; no reversal agent at this time given hemodynamics improving with fluids.',
      'GI consulted for EGD within 24 hours. NPO after midnight.',
      'Stop NSAIDs permanently; H. pylori serology sent.',
    ],
    course: (c) => [
      `Received ${c.int(2, 3)} units of PRBCs. EGD on hospital day 2 showed a 1.5 cm clean-based duodenal bulb ulcer; no intervention required. H. pylori biopsy positive; started on bismuth quadruple therapy.`,
      'Hemoglobin remained stable at 8.6-9.1 for 48 hours. Eliquis was resumed after discussion with GI.',
    ],
    consultService: 'Gastroenterology',
    ed: 'melena, dizziness',
    procedure: 'EGD',
    study: null,
  },
  {
    key: 'urosepsis',
    minAge: 25,
    painSite: 'suprapubic',
    dx: 'Sepsis due to E. coli urinary tract infection (A41.51, N39.0)',
    cc: ['confusion and fever', 'fever', 'altered mental status'],
    presents: ['fever, dysuria, and new confusion', 'two days of urinary frequency followed by fever and lethargy'],
    pmh: ['recurrent UTIs'],
    meds: [],
    hpi: (c, { p, hcp }) => [
      c.opt(() => t`Per ${c.rel(p, hcp)}, ${p.he} has been more confused than usual since ${c.sdate(c.daysAgo(1, 3))} and was found sitting on the floor this morning.`)
        ?? `Per family, ${p.he} has been more confused than usual for two days.`,
      `${p.He} complained of burning with urination earlier this week. No cough, no diarrhea.`,
      `No chronic Foley catheter. No recent antibiotics.`,
    ],
    vitals: { t: [38.4, 39.6], hr: [106, 124], sbp: [86, 98], dbp: [44, 58], rr: [22, 26] },
    exam: { gen: ['Lethargic but arousable, oriented to self only.'], abd: ['Soft, suprapubic tenderness. Mild right CVA tenderness.'] },
    labs: { wbc: [15.8, 22.4, 1], cr: [1.6, 2.4, 1], hco3: [17, 21, 0] },
    extraLabs: (c) => [`lactate ${c.dec(2.6, 4.4, 1)} mmol/L`, 'UA: >50 WBC/hpf, nitrite positive, large leukocyte esterase'],
    imaging: ['CT abdomen/pelvis without contrast', 'Mild right perinephric stranding without hydronephrosis or obstructing stone.'],
    plan: () => [
      '30 mL/kg LR bolus; reassess volume status and lactate in 2 hours.',
      'Ceftriaxone 2 g IV daily; blood and urine cultures sent.',
      'Hold home antihypertensives. Norepinephrine if MAP <65 after fluids.',
      'Delirium precautions; avoid sedatives; frequent reorientation.',
    ],
    course: () => [
      'Blood and urine cultures grew pan-sensitive E. coli. Mental status returned to baseline by hospital day 2. Lactate normalized after fluid resuscitation and no pressors were required.',
      'Narrowed to oral cefpodoxime to complete 10 days of therapy.',
    ],
    consultService: 'Infectious Diseases',
    ed: 'confusion, fever',
    study: 'ctap',
  },
  {
    key: 'dka',
    excludes: ['dm'],
    minAge: 19,
    painSite: 'abd',
    dx: 'Diabetic ketoacidosis, type 1 diabetes (E10.10)',
    cc: ['nausea and vomiting', 'high blood sugar', 'vomiting'],
    presents: ['nausea, vomiting, polyuria, and abdominal pain', 'one day of vomiting with glucometer readings of "HI"'],
    pmh: ['type 1 diabetes mellitus since age 11 on an insulin pump'],
    meds: ['insulin lispro via pump (basal 0.9 units/h)'],
    hpi: (c, { p }) => [
      `${p.He} reports the insulin pump infusion site fell off ${c.int(1, 2)} days ago and ${p.he} did not replace it until this morning.`,
      c.opt(() => t`Insulin pump: ${c.pick(['Tandem t:slim X2', 'Omnipod 5', 'Medtronic MiniMed 780G'])}, serial number ${c.phi('DEVICE', `${c.rng.letters(2)}${c.rng.digits(7)}${c.rng.letters(1)}`)}. CGM transmitter SN ${c.phi('DEVICE', `${c.rng.digits(1)}${c.rng.letters(2)}${c.rng.digits(4)}`)}.`),
      'Polyuria and polydipsia for two days, then diffuse abdominal pain and repeated emesis.',
    ],
    vitals: { hr: [108, 126], rr: [26, 32] },
    exam: { gen: ['Ill-appearing, Kussmaul respirations, fruity odor to breath.'], heent: ['Dry mucous membranes.'], abd: ['Diffusely tender without guarding or rebound.'] },
    labs: { glu: [420, 610, 0], hco3: [6, 11, 0], k: [5.2, 6.1, 1], na: [128, 133, 0] },
    extraLabs: (c) => [`anion gap ${c.int(24, 32)}`, `beta-hydroxybutyrate ${c.dec(5.1, 8.4, 1)} mmol/L`, `VBG pH ${c.dec(7.02, 7.18, 2)}`],
    imaging: null,
    plan: () => [
      'DKA protocol: insulin infusion 0.1 units/kg/h; add D5 when glucose <250.',
      'NS then LR at 250 mL/h; BMP q2h, replete K to keep 4-5 (hold insulin if K <3.3).',
      'Transition to SC insulin once gap closed x2, overlap drip by 2 hours.',
      'Endocrinology and diabetes educator consults; pump site teaching.',
    ],
    course: () => [
      'Admitted to the ICU on an insulin infusion; anion gap closed within 14 hours. Transitioned to basal-bolus insulin and then back to the pump after diabetes educator review.',
    ],
    consultService: 'Endocrinology',
    ed: 'vomiting, hyperglycemia',
    study: null,
  },
  {
    key: 'nstemi',
    minAge: 40,
    painSite: 'chest',
    dx: 'Non-ST elevation myocardial infarction (I21.4)',
    cc: ['chest pain', 'chest pressure', 'CP'],
    presents: ['substernal chest pressure radiating to the left arm', 'exertional chest pressure that became constant this morning'],
    pmh: [],
    meds: ['aspirin 81 mg PO daily'],
    hpi: (c, { p }) => [
      `Pain began at about ${c.pick(['05:30', '06:15', '14:20', '21:45'])} while ${c.pick(['shoveling snow', 'walking the dog', 'climbing stairs', 'at rest watching TV'])}, described as pressure, 7/10, with diaphoresis and nausea. ${p.He} demonstrated a clenched fist over the sternum (Levine sign).`,
      `${p.He} took ${c.pick(['two', 'four'])} baby aspirin at home. Similar but milder exertional episodes over the past ${c.int(2, 5)} weeks.`,
      `Father had an MI at ${c.int(48, 62)}. Current smoker, 1 ppd.`,
    ],
    vitals: { hr: [84, 100], sbp: [148, 172] },
    exam: { gen: ['Diaphoretic, uncomfortable.'] },
    labs: {},
    extraLabs: (c) => [`troponin I ${c.dec(0.4, 0.9, 2)} -> ${c.dec(2.1, 6.8, 2)} ng/mL`, `LDL ${c.int(128, 188)} mg/dL`, `A1c ${c.dec(5.6, 7.4, 1)}%`],
    imaging: ['CXR (portable)', 'No acute cardiopulmonary process.'],
    ecg: '1-2 mm horizontal ST depressions in V4-V6 and I, aVL; no ST elevations',
    plan: () => [
      'TIMI risk score 4; HEART score 7.',
      'Aspirin 81 mg daily after 325 mg load; Plavix 600 mg load then 75 mg daily.',
      'Heparin infusion per ACS nomogram.',
      'Atorvastatin 80 mg qHS; metoprolol tartrate 25 mg PO q6h.',
      'Cardiology consulted; plan for coronary angiography, Allen test normal on the right.',
    ],
    course: (c) => [
      `Left heart catheterization via the right radial artery showed a ${c.int(85, 99)}% mid-LAD stenosis treated with one drug-eluting stent. Discharged on dual antiplatelet therapy for 12 months.`,
      'TTE showed EF 50% with mild anterior hypokinesis. Referred to cardiac rehabilitation.',
    ],
    consultService: 'Cardiology',
    ed: 'chest pain',
    procedure: 'Left heart catheterization with PCI',
    study: 'cxr',
  },
  {
    key: 'stroke',
    minAge: 45,
    painSite: 'headache',
    dx: 'Acute ischemic stroke, right MCA territory (I63.511)',
    cc: ['left-sided weakness', 'facial droop', 'stroke symptoms'],
    presents: ['sudden left facial droop, slurred speech, and left arm weakness', 'acute onset left-sided weakness'],
    pmh: [],
    meds: [],
    hpi: (c, { p, spouse }) => [
      c.opt(() => spouse && t`${p.His} ${spouse.relation} ${c.name(spouse, 'first')} noticed ${p.him} drop a coffee cup and slur ${p.his} words at breakfast.`)
        ?? `Family noticed ${p.him} drop a cup and slur ${p.his} words at breakfast.`,
      `Last known well at ${c.pick(['06:40', '07:15', '07:50', '22:30'])}. A stroke alert was called on arrival.`,
      `Initial NIHSS ${c.int(5, 11)} (facial palsy 2, left arm drift 2, dysarthria 1). Bell's palsy was considered but the forehead is spared.`,
      'No anticoagulant use, no recent surgery or bleeding.',
    ],
    vitals: { sbp: [168, 188], dbp: [88, 102] },
    exam: { neuro: ['Left lower facial droop sparing the forehead. Dysarthria. LUE 3/5, LLE 4/5. Babinski upgoing on the left. GCS 14 (E4V4M6).'] },
    labs: {},
    extraLabs: (c) => [`LDL ${c.int(110, 170)}`, `A1c ${c.dec(5.4, 8.1, 1)}%`, 'fingerstick glucose 126'],
    imaging: ['CT head without contrast and CTA head/neck', 'No hemorrhage. ASPECTS 9. Occlusion of a right M2 branch.'],
    plan: () => [
      'Received tenecteplase within the window; neuro checks q15 minutes, then hourly.',
      'BP goal <180/105 for 24 hours post-thrombolysis.',
      'Hold antiplatelets for 24 hours, then aspirin; high-intensity statin.',
      'MRI brain, TTE with bubble, telemetry for AF detection.',
      'Speech/swallow evaluation before any PO; PT/OT.',
    ],
    course: () => [
      'Symptoms improved to NIHSS 2 by 24 hours. MRI showed a small right insular infarct. TTE with bubble study was negative. Telemetry without atrial fibrillation; a 30-day event monitor was arranged.',
    ],
    consultService: 'Neurology',
    ed: 'stroke alert, L weakness',
    study: 'cthead',
  },
  {
    key: 'chole',
    minAge: 19,
    painSite: 'RUQ',
    dx: 'Acute calculous cholecystitis (K80.00)',
    cc: ['abdominal pain', 'RUQ pain', 'right upper quadrant pain'],
    presents: ['right upper quadrant pain, nausea, and fever after a fatty meal', 'constant RUQ pain radiating to the right scapula'],
    pmh: [],
    meds: [],
    hpi: (c, { p }) => [
      `Pain started ${c.int(18, 36)} hours ago after dinner, initially colicky and now constant, 8/10, radiating to the right shoulder blade.`,
      `${p.He} has had similar but self-limited episodes after meals over the past ${c.int(2, 8)} months.`,
      'Nausea with two episodes of non-bloody emesis. No jaundice, no pale stools.',
    ],
    vitals: { t: [37.9, 38.7], hr: [96, 112] },
    exam: { abd: ["Tender in the RUQ with voluntary guarding. Murphy's sign positive. No rebound. Normoactive bowel sounds."] },
    labs: { wbc: [13.2, 17.6, 1] },
    extraLabs: (c) => [`T bili ${c.dec(0.8, 1.9, 1)}`, `ALP ${c.int(98, 160)}`, `lipase ${c.int(22, 60)}`],
    imaging: ['RUQ ultrasound', 'Gallbladder distended with multiple gallstones, wall thickening to 6 mm, pericholecystic fluid, and a positive sonographic Murphy sign. CBD 4 mm.'],
    plan: () => [
      'NPO, IV fluids, piperacillin-tazobactam 4.5 g IV q8h.',
      'General surgery consulted; plan for laparoscopic cholecystectomy.',
      'Zofran 4 mg IV q8h prn nausea; hydromorphone 0.5 mg IV q3h prn severe pain.',
    ],
    course: () => [
      'Underwent laparoscopic cholecystectomy on hospital day 2 without complication. Diet advanced on POD #1. Antibiotics stopped 24 hours after source control.',
    ],
    consultService: 'General Surgery',
    ed: 'RUQ abdominal pain',
    procedure: 'Laparoscopic cholecystectomy',
    study: 'ruq',
  },
  {
    key: 'afib',
    minAge: 45,
    painSite: 'generalized',
    dx: 'Atrial fibrillation with rapid ventricular response (I48.91)',
    cc: ['palpitations', 'racing heart', 'palpitations and dyspnea'],
    presents: ['palpitations and exertional dyspnea', 'a racing, irregular heartbeat since last night'],
    pmh: [],
    meds: [],
    hpi: (c, { p }) => [
      `${p.He} woke ${c.pick(['last night', 'early this morning', 'two nights ago'])} with a racing, irregular heartbeat and mild dyspnea. No syncope, no chest pain.`,
      `Drinks ${c.int(2, 5)} glasses of wine most evenings; more over the weekend.`,
      c.opt(() => t`Pacemaker/ICD: none. Holter in ${c.date(c.daysAgo(300, 900), 'monthy')} showed paroxysmal atrial fibrillation with a 4% burden.`),
    ],
    vitals: { hr: [132, 156] },
    exam: { cv: ['Irregularly irregular, tachycardic. No murmur.'] },
    labs: {},
    extraLabs: (c) => [`TSH ${c.dec(0.4, 3.1, 2)}`, `troponin ${c.dec(0.01, 0.03, 2)}`],
    imaging: ['CXR', 'No acute cardiopulmonary process.'],
    ecg: 'atrial fibrillation with RVR at 142, no acute ST changes',
    plan: () => [
      'CHA2DS2-VASc 4, HAS-BLED 1: start apixaban (Eliquis) 5 mg BID.',
      'Diltiazem 10 mg IV x1 then PO diltiazem 30 mg q6h; goal HR <110.',
      'TTE; check TSH; counsel on alcohol reduction.',
      'Consider TEE-guided cardioversion if remains symptomatic.',
    ],
    course: () => [
      'Rate controlled on oral diltiazem; spontaneously converted to sinus rhythm on hospital day 2. TTE with normal EF and mild LA enlargement. Started on Eliquis.',
    ],
    consultService: 'Cardiology (Electrophysiology)',
    ed: 'palpitations',
    study: 'cxr',
  },
  {
    key: 'hipfx',
    minAge: 65,
    painSite: 'R hip',
    dx: 'Closed displaced fracture of right femoral neck (S72.001A)',
    cc: ['fall', 'right hip pain after fall', 'hip pain'],
    presents: ['right hip pain and inability to bear weight after a mechanical fall', 'a ground-level fall at home with right hip pain'],
    pmh: ['osteoporosis'],
    meds: ['alendronate 70 mg PO weekly', 'calcium carbonate-vitamin D 600 mg-400 units PO BID'],
    hpi: (c, { p }) => [
      `${p.He} tripped on a rug while walking to the bathroom at night and fell onto ${p.his} right side. No head strike, no LOC, no preceding dizziness or chest pain.`,
      `${p.He} was unable to get up and was found about ${c.int(1, 6)} hours later.`,
      'Uses a walker at baseline and is independent in ADLs.',
    ],
    vitals: {},
    exam: { ext: ['Right leg shortened and externally rotated. Pain with any hip motion. Distal pulses intact; sensation intact.'] },
    labs: { hgb: [10.4, 12.1, 1] },
    extraLabs: (c) => [`CK ${c.int(320, 1400)}`, `INR ${c.dec(0.9, 1.2, 1)}`],
    imaging: ['XR right hip and pelvis', 'Displaced subcapital fracture of the right femoral neck. No dislocation.'],
    plan: () => [
      'Orthopedics consulted; plan for hemiarthroplasty within 24-48 hours.',
      'Preop: ECG, type and screen; hold anticoagulation; NPO after midnight.',
      'Pain: scheduled Tylenol 1 g q8h, fascia iliaca block by anesthesia, oxycodone 2.5 mg q4h prn.',
      'Delirium prevention bundle; Foley catheter to be removed POD #1.',
      'Geriatrics co-management; fall risk evaluation.',
    ],
    course: () => [
      'Underwent right hip hemiarthroplasty on hospital day 2. Postoperative course complicated by mild delirium that resolved with non-pharmacologic measures. Weight bearing as tolerated with PT. Enoxaparin for DVT prophylaxis x4 weeks.',
    ],
    consultService: 'Orthopedic Surgery',
    ed: 'fall, R hip pain',
    procedure: 'Right hip hemiarthroplasty',
    study: 'hipxr',
  },
];
/** Outpatient recommendations used in consult letters, by scenario. */
const CLINIC_RECS = {
  chf: ['Continue torsemide 40 mg daily; extra 20 mg for weight gain >3 lb overnight.', 'Uptitrate Entresto to 49/51 mg BID if BP allows; BMP in 1 week.', 'Start empagliflozin 10 mg daily.', 'Repeat TTE in 3 months on GDMT to reassess ICD candidacy.'],
  pna: ['Repeat chest radiograph in 6-8 weeks to document resolution.', 'Pneumococcal vaccination (PCV20) at the next visit.', 'No further antibiotics needed.', 'Low threshold for CT chest if the infiltrate persists.'],
  copd: ['Step up to triple therapy (ICS/LAMA/LABA).', 'Pulmonary rehabilitation referral placed.', 'Overnight oximetry to reassess nocturnal oxygen needs.', 'Annual influenza and updated pneumococcal vaccines.'],
  cellulitis: ['Complete the course of cephalexin.', 'Compression stockings once healed to reduce recurrence.', 'Treat tinea pedis with topical terbinafine.', 'Return precautions reviewed.'],
  ugib: ['Continue pantoprazole 40 mg BID for 8 weeks, then daily.', 'Confirm H. pylori eradication with stool antigen 4 weeks after therapy.', 'Avoid all NSAIDs.', 'Resume apixaban; repeat CBC in 1 week.'],
  urosepsis: ['Urine culture only if symptomatic.', 'Renal ultrasound in 6 weeks.', 'Consider vaginal estrogen for recurrence prevention if appropriate.', 'Hydration counseling.'],
  dka: ['Pump site change every 48-72 hours; sick-day rules reviewed.', 'Ketone meter prescribed.', 'Adjust basal rate overnight by 10%.', 'Follow-up with diabetes education in 2 weeks.'],
  nstemi: ['Aspirin and clopidogrel for 12 months without interruption.', 'Atorvastatin 80 mg; lipid panel in 6 weeks, goal LDL <55.', 'Cardiac rehabilitation, phase II.', 'Metoprolol succinate 50 mg daily.'],
  stroke: ['Aspirin 81 mg daily and atorvastatin 80 mg.', '30-day ambulatory cardiac monitor to look for atrial fibrillation.', 'BP goal <130/80.', 'Outpatient speech therapy.'],
  chole: ['Regular diet as tolerated.', 'No lifting >10 lb for 2 weeks.', 'Pathology reviewed: acute cholecystitis, no malignancy.', 'Follow up as needed.'],
  afib: ['Continue apixaban 5 mg BID; CHA2DS2-VASc 4.', 'Diltiazem ER 180 mg daily.', 'Sleep study for suspected OSA.', 'Discuss ablation if symptomatic recurrences.'],
  hipfx: ['DEXA scan and start zoledronic acid once vitamin D repleted.', 'Home PT; weight bearing as tolerated.', 'Home safety evaluation.', 'Enoxaparin to complete 4 weeks.'],
};

// ---------------------------------------------------------------------------
// Section builders shared by the note kinds
// ---------------------------------------------------------------------------

/** Past history of this patient: comorbidities, meds, surgeries, allergies. */
function makeHistory(c, cast, sc) {
  const { p } = cast;
  const fits = (x) => !x.sex || x.sex === p.sex;
  // Years are drawn once so every section quotes the same one.
  const fill = (s) => s.replace('{year}', () => c.year(2, Math.min(25, p.age - 15)));
  // At most one comorbidity per group (no "HTN" next to "hypertension"),
  // and none from the groups the scenario rules out (e.g. T2DM with DKA).
  const taken = new Set(sc.excludes || []);
  const comorb = c.rng.sample(COMORBIDITIES.filter(fits), 12)
    .filter((x) => !x.group || (!taken.has(x.group) && taken.add(x.group)))
    .slice(0, c.int(2, 5))
    .map((x) => ({ dx: fill(x.dx), med: x.med }));
  return {
    pmh: [...sc.pmh.map(fill), ...comorb.map((x) => x.dx)],
    comorb,
    meds: [...sc.meds, ...comorb.map((x) => x.med).filter(Boolean)],
    psh: c.rng.sample(SURGERIES.filter(fits), c.int(0, 2)).map((x) => fill(x.s)),
    allergies: c.chance(0.75) ? [c.rng.weighted(ALLERGIES)] : c.rng.sample(ALLERGIES.slice(1).map(([a]) => a), 2),
  };
}

const article = (n) => (n === 8 || n === 11 || n === 18 || (n >= 80 && n <= 89) ? 'an' : 'a');

/** How the note refers to the patient in running text. */
function ptRef(c, cast, { start = true } = {}) {
  const { p } = cast;
  const the = start ? 'The patient' : 'the patient';
  return c.rng.weighted([
    [() => c.mr(p, the), 5],
    [() => c.name(p, 'full', the), 2],
    [() => c.name(p, 'fml', the), 1],
    [() => c.name(p, 'init', the), 0.5],
    [() => the, 2],
  ])();
}

function hpiIntro(c, cast, sc) {
  const { p, hx } = cast;
  const pmh = hx.pmh.slice(0, 4);
  const presents = c.pick(sc.presents);
  return c.rng.weighted([
    [() => t`${ptRef(c, cast)} is ${article(p.age)} ${c.age(p.age)} ${p.man} with a history of ${list(pmh)} who presents with ${presents}.`, 4],
    [() => t`Pt is ${article(p.age)} ${c.age(p.age, 'y/o')} ${p.gender} w/ PMH of ${join(pmh, ', ')} presenting with ${presents}.`, 2],
    [() => t`${ptRef(c, cast)}, ${article(p.age)} ${c.age(p.age)} ${p.occupation.startsWith('works') ? 'patient who ' + p.occupation : p.occupation}, with ${list(pmh)}, presents with ${presents}.`, 1],
    [() => t`${c.age(p.age, 'yo')} ${p.gender} with ${join(pmh, ', ')}, here with ${presents}.`, 1],
  ])();
}

/** What happened before arrival: ED course or transfer. */
function arrivalStory(c, cast, sc, v) {
  const { p, osh } = cast;
  return c.rng.weighted([
    [() => t`In the ED, vitals were notable for HR ${v.hr}, BP ${v.sbp}/${v.dbp}, and SpO2 ${v.spo2}% on ${v.o2}. ${p.He} received ${c.pick(['1 L of LR', '500 mL NS', 'IV ondansetron 4 mg', 'IV morphine 4 mg', 'acetaminophen 1 g PO'])} and was admitted to ${c.pick(['medicine', 'the hospitalist service', 'the step-down unit', 'telemetry'])}.`, 4],
    [() => c.opt(() => t`${p.He} was initially evaluated at ${c.loc(osh.name)} ${c.on(c.daysAgo(0, 1))} and transferred here for ${c.pick(['higher level of care', 'subspecialty evaluation', 'bed availability'])}. Outside records reviewed.`)
        ?? t`${p.He} was transferred from an outside hospital for a higher level of care.`, 1],
    [() => t`EMS found ${p.him} ${c.pick(['sitting upright, anxious', 'in mild distress', 'alert and oriented'])}; en route ${p.he} received ${c.pick(['aspirin 324 mg', 'albuterol nebs x2', '500 mL NS', 'supplemental O2 via NRB'])}.`, 1],
  ])();
}

function vitalsFor(c, sc) {
  const v = { ...DEFAULT_VITALS, ...(sc.vitals || {}) };
  return {
    t: c.dec(v.t[0], v.t[1], 1), hr: c.int(...v.hr), sbp: c.int(...v.sbp), dbp: c.int(...v.dbp),
    rr: c.int(...v.rr), spo2: c.int(...v.spo2), o2: v.o2,
  };
}

function vitalsLine(c, v) {
  const tf = (Number(v.t) * 9 / 5 + 32).toFixed(1);
  return c.pick([
    `Vitals: T ${v.t} °C, HR ${v.hr}, BP ${v.sbp}/${v.dbp}, RR ${v.rr}, SpO2 ${v.spo2}% on ${v.o2}`,
    `VS: T ${tf} °F | HR ${v.hr} | BP ${v.sbp}/${v.dbp} | RR ${v.rr} | SpO2 ${v.spo2}% ${v.o2}`,
    `Temp ${v.t} C, pulse ${v.hr}, BP ${v.sbp}/${v.dbp}, resp ${v.rr}, sat ${v.spo2}% on ${v.o2}`,
    `VS ${v.t}  ${v.hr}  ${v.sbp}/${v.dbp}  ${v.rr}  ${v.spo2}% ${v.o2}`,
  ]);
}

const EXAM_LABELS = [['gen', 'General'], ['heent', 'HEENT'], ['neck', 'Neck'], ['cv', 'CV'],
  ['resp', 'Lungs'], ['abd', 'Abdomen'], ['ext', 'Extremities'], ['neuro', 'Neuro'], ['skin', 'Skin']];

function examBlock(c, sc, v, { short = false } = {}) {
  const ex = { ...DEFAULT_EXAM, ...(sc.exam || {}) };
  const keys = short ? EXAM_LABELS.filter(([k]) => ['gen', 'cv', 'resp', 'abd', 'ext'].includes(k) || sc.exam?.[k]) : EXAM_LABELS;
  return lines(vitalsLine(c, v), ...keys.map(([k, label]) => `${label}: ${c.pick(ex[k])}`));
}

function labValues(c, sc) {
  const ranges = { ...DEFAULT_LABS, ...(sc.labs || {}) };
  const v = {};
  for (const [k, [lo, hi, d]] of Object.entries(ranges)) v[k] = d ? c.dec(lo, hi, d) : String(c.int(lo, hi));
  v.hct = (Number(v.hgb) * 3 + c.int(-1, 1)).toFixed(1);
  return v;
}

function labsBlock(c, sc, v) {
  const base = c.rng.weighted([
    [() => lines(`Na ${v.na}, K ${v.k}, Cl ${v.cl}, HCO3 ${v.hco3}, BUN ${v.bun}, Cr ${v.cr}, glucose ${v.glu}, Mg ${v.mg}`,
      `WBC ${v.wbc}, Hgb ${v.hgb}, Hct ${v.hct}, Plt ${v.plt}`), 3],
    [() => lines(`BMP: ${v.na} / ${v.k} / ${v.cl} / ${v.hco3} / ${v.bun} / ${v.cr} / ${v.glu}`,
      `CBC: ${v.wbc} > ${v.hgb}/${v.hct} < ${v.plt}`), 2],
    [() => `Chem: Na ${v.na} K ${v.k} Cl ${v.cl} CO2 ${v.hco3} BUN ${v.bun} Cr ${v.cr} Glu ${v.glu}; WBC ${v.wbc} Hgb ${v.hgb} Plt ${v.plt}`, 1],
  ])();
  const extra = sc.extraLabs ? sc.extraLabs(c) : [];
  return lines(base, extra.length ? `Other: ${extra.join('; ')}` : null);
}

function imagingLine(c, sc, d) {
  if (!sc.imaging) return null;
  const [study, result] = sc.imaging;
  return t`${study}${c.opt(() => t` (${c.sdate(d)})`)}: ${result}`;
}

function ecgLine(c, sc) {
  return `ECG: ${sc.ecg || c.pick(['normal sinus rhythm at ' + c.int(62, 88) + ', normal axis and intervals, no acute ST-T changes',
    'sinus rhythm, first-degree AV block (PR 224 ms), no ischemic changes', 'NSR, LVH by voltage, nonspecific T-wave flattening'])}.`;
}

const COUNTRY_BY_LOCALE = {
  es_MX: ['Mexico'], es: ['Colombia', 'El Salvador', 'Guatemala', 'Spain'], vi: ['Vietnam'],
  en_IN: ['India'], pt_BR: ['Brazil'], fr: ['Haiti', 'France'], it: ['Italy'], pl: ['Poland'],
  de: ['Germany'], en_NG: ['Nigeria'], yo_NG: ['Nigeria'], en_GH: ['Ghana'], tr: ['Turkey'],
};
const LANGUAGE_BY_COUNTRY = {
  Mexico: 'Spanish', Colombia: 'Spanish', 'El Salvador': 'Spanish', Guatemala: 'Spanish', Spain: 'Spanish',
  Vietnam: 'Vietnamese', Brazil: 'Portuguese', Haiti: 'Haitian Creole', Poland: 'Polish', Turkey: 'Turkish',
};

function socialHistory(c, cast) {
  const { p, spouse, relatives, hcp, snf } = cast;
  const kid = relatives.find((r) => r.relation === 'daughter' || r.relation === 'son');
  const living = c.rng.weighted([
    [() => spouse && (c.opt(() => t`Lives with ${p.his} ${spouse.relation} ${c.name(spouse, c.pick(['first', 'first', 'full']))} in ${c.loc(p.address.city)}.`)
      ?? `Lives with ${p.his} ${spouse.relation} in a single-family home.`), 4],
    [() => kid && (c.opt(() => t`Lives alone in an apartment in ${c.loc(p.address.city)}; ${c.rel(p, kid)} lives nearby and checks in daily.`)
      ?? `Lives alone in an apartment; ${p.his} ${kid.relation} lives nearby.`), 2],
    [() => p.age > 75 && (c.opt(() => t`Resides at ${c.loc(snf.name)} (long-term care) since ${c.year(1, 4)}.`)
      ?? 'Resides in a long-term care facility.'), 2],
    [() => kid && (c.opt(() => t`Lives with ${c.rel(p, kid, 'full')} and ${p.his} family in ${c.loc(p.address.county)}.`)
      ?? `Lives with ${p.his} ${kid.relation}'s family.`), 1],
  ])() || c.pick(['Lives alone in a second-floor walk-up apartment.', 'Lives with a roommate.']);

  const country = p.locale !== 'en_US' && c.chance(0.6) ? c.pick(COUNTRY_BY_LOCALE[p.locale]) : null;
  const origin = country && `Born in ${country}; moved to ${p.address.stateName} in ${c.year(8, 35)}.${LANGUAGE_BY_COUNTRY[country] && c.chance(0.6)
    ? ` Primary language ${LANGUAGE_BY_COUNTRY[country]}; history obtained with a certified interpreter.` : ''}`;
  const tobacco = c.pick([`Former smoker, ${c.int(10, 45)} pack-years, quit in ${c.year(3, 25)}.`, 'Never smoker.',
    'Current smoker, 1/2 ppd.', `Quit smoking ${c.int(2, 20)} years ago.`]);
  const alcohol = c.rng.weighted([['Drinks 1-2 beers on weekends.', 3], ['Denies alcohol use.', 3],
    ['Drinks 4-6 beers daily, last drink the night before admission; CIWA protocol and thiamine started to prevent Wernicke encephalopathy.', 1],
    ['Occasional glass of wine.', 2]]);
  const drugs = c.pick(['Denies illicit drug use.', 'Occasional cannabis use.', 'No IVDU.']);
  const fn = p.age >= 85
    ? c.pick(['Needs help with bathing and dressing; uses a walker.', 'Uses a wheelchair for distances; assists with transfers.', 'Ambulates with a rollator; needs help with IADLs.'])
    : c.pick(['Independent in ADLs and IADLs; still drives.', 'Uses a cane outdoors; independent in ADLs.',
      'Needs help with bathing; uses a walker.', 'Fully independent, walks 2 miles most days.']);
  const hcpLine = c.opt(() => t`HCP: ${c.rel(p, hcp, 'full')}${c.pick([', phone ', ' - ', ' (cell) '])}${c.phone(hcp.phoneDigits)}.`);
  return para(living, origin, `${capitalize(p.occupation.replace(/^works/, 'Works'))}.`, tobacco, alcohol, drugs, fn, hcpLine);
}

const capitalize = (s) => s.charAt(0).toUpperCase() + s.slice(1);

function familyHistory(c) {
  // Parents' ages at death may exceed 89 (annotated), never in clean notes.
  const parentAge = () => (c.clean ? c.int(55, 89) : c.int(55, 99));
  return join([
    t`Mother ${c.pick(['died at', 'deceased at age', 'passed at'])} ${c.age(parentAge(), 'bare')} of ${c.pick(['a stroke', 'breast cancer', 'CHF', 'complications of dementia'])}.`,
    c.pick([t`Father with MI at ${String(c.int(48, 66))}.`, t`Father died at ${c.age(parentAge(), 'bare')} (${c.pick(['colon cancer', 'pneumonia', 'old age'])}).`, 'Father with T2DM and HTN.']),
    c.pick(['No family history of colon cancer.', 'Sister with hypothyroidism.', 'Brother with CAD in his 50s.', 'Otherwise noncontributory.']),
  ], ' ');
}

function rosLine(c) {
  return t`ROS: ${c.pick(['Negative except as noted in the HPI.', '10-point review of systems negative except as above.'])} Specifically denies ${list(c.rng.sample(ROS_NEG, 5))}.`;
}

/** "metoprolol 25 mg PO BID" -> "metoprolol"; "insulin glargine (Lantus) 22 units" -> "insulin glargine (Lantus)" */
const drugName = (med) => med.replace(/\s+\d.*$/, '');

const DVT_PPX = ['heparin 5,000 units SC q8h', 'enoxaparin 40 mg SC daily', 'SCDs', 'enoxaparin 30 mg SC q12h'];

/** Problem-based assessment and plan. */
function assessmentPlan(c, cast, sc, { brief = false } = {}) {
  const { p, hx, hcp } = cast;
  const summary = t`${ptRef(c, cast)} is ${article(p.age)} ${c.age(p.age, c.pick(['-year-old', 'y/o']))} ${p.man} with ${list(hx.pmh.slice(0, 3))} admitted with ${sc.dx.replace(/ \(.*\)$/, '').toLowerCase()}.`;
  const main = lines(`# ${sc.dx}`, ...sc.plan(c).map((x) => `- ${x}`));
  const others = hx.comorb.slice(0, brief ? 2 : 4).map((x) =>
    `# ${capitalize(x.dx.replace(/ \(.*?\)/, ''))}: ${x.med ? `continue home ${drugName(x.med)}` : 'stable, monitor'}.`);
  const code = c.opt(() => c.chance(0.6) && t`# Code status: ${c.pick(['Full code', 'DNR/DNI', 'Full code'])}, confirmed with the patient and ${c.rel(p, hcp)}.`)
    || `# Code status: ${c.pick(['Full code', 'DNR/DNI (MOLST on chart)'])}.`;
  return lines(
    summary, '', main, ...others,
    `# FEN: ${c.pick(['regular diet', 'cardiac diet', 'NPO except meds', 'diabetic diet'])}, replete lytes prn.`,
    `# DVT ppx: ${hx.meds.some((m) => /Eliquis|apixaban|Coumadin|Xarelto/.test(m)) ? 'on therapeutic anticoagulation' : c.pick(DVT_PPX)}.`,
    code,
    brief ? null : `# Dispo: ${c.pick(['anticipate discharge home in 2-3 days', 'PT/OT evaluation; may need SNF', 'home with VNA once stable'])}.`,
  );
}

/** Letter-style or note-style signature for a clinician. */
function signBlock(c, who, d, { attest = false, cast } = {}) {
  if (c.clean) return c.pick(['Electronically signed by the attending physician.', '-- signed --', null]);
  const sig = c.signature(who, d);
  const attestation = attest && cast && t`Attending attestation: I saw and examined the patient with ${c.dr(cast.resident, 'dr')} and agree with the findings and plan as documented above. ${c.name(cast.attending, 'full')}, ${cast.attending.cred}`;
  return lines(sig, attestation);
}

// ---------------------------------------------------------------------------
// Identifier snippets used by headers
// ---------------------------------------------------------------------------

function mrnField(c, p) {
  const label = c.pick(['MRN: ', 'MRN ', 'MR#: ', 'MR# ', 'Medical Record #: ', 'Med Rec No.: ']);
  return c.opt(() => t`${label}${c.phi('MRN', p.mrn)}`);
}
function dobField(c, p) {
  return c.opt(() => t`${c.pick(['DOB: ', 'DOB ', 'Date of Birth: ', 'D.O.B.: '])}${c.date(p.dob)}`);
}
function ageSexField(c, p) {
  return t`${c.pick(['Age/Sex: ', 'Age: '])}${c.age(p.age, 'bare')}${c.pick(['', ' y'])} ${p.gender}`;
}
function acctField(c, p) {
  return c.opt(() => t`${c.pick(['Acct #: ', 'Account #: ', 'Account No. ', 'Billing acct: '])}${c.phi('ACCOUNT', p.acct)}`);
}
function encounterField(c) {
  return c.opt(() => t`${c.pick(['Encounter #: ', 'CSN: ', 'FIN: ', 'Visit ID: '])}${c.phi('ID', c.rng.digits(c.pick([9, 10])))}`);
}
function memberField(c, p) {
  return c.opt(() => t`${c.pick(['Member ID: ', 'Subscriber ID: ', 'Policy #: ', 'Insurance ID: '])}${c.phi('ACCOUNT', p.member)}`);
}
function ssnText(c, ssn) {
  const f = c.rng.weighted([['dash', 5], ['bare', 2], ['space', 1]]);
  return f === 'dash' ? `${ssn.slice(0, 3)}-${ssn.slice(3, 5)}-${ssn.slice(5)}`
    : f === 'space' ? `${ssn.slice(0, 3)} ${ssn.slice(3, 5)} ${ssn.slice(5)}` : ssn;
}
function ssnField(c, p) {
  return c.opt(() => t`${c.pick(['SSN: ', 'SSN ', 'SS#: ', 'Social Security #: '])}${c.phi('SSN', ssnText(c, p.ssn))}`);
}
function patientNameField(c, p) {
  const form = c.style.upperHeaderName ? c.pick(['LF', 'LFM']) : c.pick(['lf', 'full', 'lfm', 'fml']);
  return c.opt(() => t`${c.pick(['Patient: ', 'Patient Name: ', 'Name: ', 'PATIENT: ', 'Pt: '])}${c.name(p, form)}`);
}
/** Header fields joined on one line with pipes or on separate lines. */
function headerBlock(c, fields) {
  return c.chance(0.5) ? join(fields, c.pick([' | ', '    ', '   '])) : join(fields, '\n');
}
function deviceSerial(c) {
  return c.rng.weighted([
    [() => `${c.rng.letters(3)}${c.rng.digits(6)}${c.rng.letters(1)}`, 3],
    [() => `PM${c.rng.digits(7)}`, 1],
    [() => `(01)${c.rng.digits(14)}(17)${pad(c.int(22, 30))}${pad(c.int(1, 12))}${pad(c.int(1, 28))}(10)${c.rng.letters(1)}${c.rng.digits(4)}(21)${c.rng.digits(8)}`, 1],
  ])();
}
function ipAddress(c) {
  const f = c.faker('en_US');
  return c.rng.weighted([
    [() => f.internet.ipv4(), 4],
    [() => `192.168.${c.int(0, 40)}.${c.int(2, 254)}`, 2],
    [() => `10.${c.int(0, 255)}.${c.int(0, 255)}.${c.int(2, 254)}`, 1],
    [() => f.internet.ipv6(), 1],
    [() => `2601:${c.int(0x100, 0xfff).toString(16)}:${c.int(0x1000, 0xffff).toString(16)}::${c.int(0x10, 0xfff).toString(16)}`, 1],
  ])();
}
function portalUrl(c, fac, kind) {
  const host = `${c.pick(['mychart', 'portal', 'myhealth', 'connect'])}.${fac.slug}.org`;
  const path = {
    video: `/telehealth/join?visit=${c.rng.digits(9)}`,
    results: `/MyChart/app/test-results/${c.rng.digits(8)}`,
    avs: `/avs/${c.rng.letters(4).toLowerCase()}${c.rng.digits(6)}`,
    msg: `/messages/${c.rng.digits(10)}`,
  }[kind];
  return c.phi('URL', `https://${host}${path}`);
}

// ---------------------------------------------------------------------------
// Note kinds. Each returns a fragment tree; `cast` is built once per note.
// ---------------------------------------------------------------------------

function admissionHP(c, cast, sc) {
  const { p, hx, attending, resident, pcp, pcpClinic, hospital } = cast;
  const admit = c.at(c.noteDate, 0, 23);
  const v = vitalsFor(c, sc);
  const title = c.pick(['ADMISSION HISTORY AND PHYSICAL', 'History & Physical', 'HOSPITAL MEDICINE ADMISSION NOTE', 'H&P - Internal Medicine']);
  const header = headerBlock(c, [
    patientNameField(c, p), mrnField(c, p), dobField(c, p), ageSexField(c, p),
    c.chance(0.5) && acctField(c, p), c.chance(0.4) && encounterField(c), c.chance(0.15) && ssnField(c, p),
  ]);
  const admitLine = lines(
    t`Admission date: ${c.date(admit, undefined, 'today')}${c.opt(() => t` | Facility: ${c.loc(hospital.name)}`)} | Unit: ${c.pick(['5 West', '7 North', 'Telemetry 4B', 'MICU', 'Step-down 3C'])}, Room ${c.int(301, 980)}-${c.pick(['A', 'B'])}`,
    c.opt(() => t`Attending: ${c.dr(attending, 'drfull')}   PCP: ${c.dr(pcp, 'cred')} (${c.loc(pcpClinic.name)})`),
    `Source of history: ${c.pick(['patient', 'patient and family', 'patient, EMR, and outside records', 'family (patient confused)'])}`,
  );
  const hpi = para(hpiIntro(c, cast, sc), ...sc.hpi(c, cast), arrivalStory(c, cast, sc, v));
  const labs = labValues(c, sc);
  return blocks(
    lines(title, header),
    admitLine,
    `CHIEF COMPLAINT: ${c.pick(sc.cc)}`,
    lines('HISTORY OF PRESENT ILLNESS:', hpi),
    lines('PAST MEDICAL HISTORY:', ...hx.pmh.map((x) => `- ${x}`)),
    lines('PAST SURGICAL HISTORY:', hx.psh.length ? join(hx.psh.map((x) => `- ${x}`), '\n') : 'None.'),
    lines('MEDICATIONS PRIOR TO ADMISSION:', ...(hx.meds.length ? hx.meds.map((m, i) => `${i + 1}. ${m}`) : ['None.'])),
    `ALLERGIES: ${hx.allergies.join('; ')}`,
    lines('SOCIAL HISTORY:', socialHistory(c, cast)),
    lines('FAMILY HISTORY:', familyHistory(c)),
    rosLine(c),
    lines('PHYSICAL EXAM:', examBlock(c, sc, v)),
    lines('LABS:', labsBlock(c, sc, labs)),
    lines(imagingLine(c, sc, admit), ecgLine(c, sc)),
    lines('ASSESSMENT AND PLAN:', assessmentPlan(c, cast, sc)),
    c.chance(0.4) ? `Level of service: CPT ${c.pick(['99222', '99223'])}. Total time ${c.int(55, 95)} minutes, >50% in counseling and coordination of care.` : null,
    signBlock(c, resident, addDays(admit, 0), { attest: c.chance(0.5), cast }),
  );
}

function progressNote(c, cast, sc) {
  const { p, attending, resident, hcp, consultant } = cast;
  const hd = c.int(2, 6);
  const v = vitalsFor(c, { ...sc, vitals: { ...(sc.vitals || {}), t: [36.6, 37.6], hr: [70, 96] } });
  const labs = labValues(c, sc);
  const author = c.chance(0.5) ? resident : attending;
  const overnight = c.pick(['No acute events overnight.', 'Overnight: required one dose of IV hydromorphone for pain; otherwise uneventful.',
    'Overnight: rapid response called for transient hypotension to 84/50, improved with a 500 mL bolus.', 'Slept well. Tolerating diet.']);
  const subjective = para(
    overnight,
    c.pick([t`${ptRef(c, cast)} reports feeling "${c.pick(['a little better', 'much better', 'about the same', 'tired but OK'])}" this morning.`,
      t`${ptRef(c, cast)} states ${p.he} ${c.pick(['is breathing easier', 'has less pain', 'wants to go home', 'did not sleep well'])}.`]),
    c.opt(() => c.chance(0.6) && t`Spoke with ${c.rel(p, hcp)} by phone at ${c.time(c.at(c.noteDate, 8, 18))} and updated ${hcp.sex === 'female' ? 'her' : 'him'} on the plan.`),
    c.chance(0.3) ? 'Will continue to encourage ambulation with PT.' : null,
  );
  return blocks(
    lines(c.pick(['PROGRESS NOTE', 'Hospital Medicine Daily Progress Note', 'Medicine Progress Note']),
      headerBlock(c, [patientNameField(c, p), mrnField(c, p), c.chance(0.5) && dobField(c, p)]),
      t`Date of service: ${c.date(c.noteDate, undefined, 'today')}    Hospital day #${hd}`),
    lines('SUBJECTIVE:', subjective),
    lines('OBJECTIVE:', examBlock(c, sc, v, { short: true }),
      `I/O (24h): ${c.int(900, 2400)} mL in / ${c.int(1200, 4200)} mL out`,
      labsBlock(c, sc, labs)),
    c.opt(() => c.chance(0.5) && t`${c.pick(['Consult recs', 'Per consult team'])}: ${sc.consultService} (${c.dr(consultant, 'dr')}) ${c.pick(['recommends continuing current management', 'signed off', 'will follow peripherally', 'suggests repeat imaging in 48 hours'])}.`),
    lines('ASSESSMENT/PLAN:', assessmentPlan(c, cast, sc, { brief: true })),
    c.chance(0.4) ? `CPT ${c.pick(['99231', '99232', '99233'])}; ${c.int(25, 50)} minutes spent, majority at bedside.` : null,
    signBlock(c, author, c.at(c.noteDate, 9, 17)),
  );
}

/** Nursing shift note: terse, abbreviations, capitalised section labels. */
function nursingNote(c, cast, sc) {
  const { p, nurse, relatives } = cast;
  const caps = c.chance(0.5); // body text in capitals too (labels always are)
  const body = (x) => (caps ? upperFrag(x) : x);
  const v = vitalsFor(c, sc);
  const rel = c.pick(relatives);
  const shiftStart = c.pick([7, 19]);
  const painGiven = c.time(c.at(c.noteDate, shiftStart === 7 ? 9 : 21, shiftStart === 7 ? 17 : 23));
  const ptFirst = c.opt(() => c.chance(0.4) && t`${c.name(p, 'first')} `);
  const sections = [
    ['NEURO', c.pick(['A&Ox3, follows commands, PERRLA.', 'A&Ox2 (disoriented to time), pleasantly confused, reoriented easily.', 'Alert, oriented x4. MAE. Speech clear.'])],
    ['CV', `${sc.key === 'afib' ? 'AF' : c.pick(['NSR', 'SR'])} ${Math.floor(v.hr / 10) * 10}s on tele. BP ${v.sbp}/${v.dbp}. ${c.pick(['Pulses palpable x4.', 'Trace edema BLE.', 'Cap refill <3 sec.'])}`],
    ['RESP', `${c.pick(['Lungs clear', 'Diminished bases', 'Coarse crackles bilat'])}, SpO2 ${v.spo2}% on ${v.o2}. ${c.pick(['IS x10 q1h encouraged.', 'Nonproductive cough.', 'No SOB at rest.'])}`],
    ['GI', t`${c.pick(['Tol regular diet', 'Tol cardiac diet, ate 50%', 'Ate 3/4 of breakfast', 'NPO after MN for procedure'])}. ${c.pick(['Abd soft, BS+ x4.', 'Abd soft, nontender.'])} LBM ${lastBowelMovement(c)}.`],
    ['GU', c.pick(['Foley in place draining clear yellow urine, UOP 40-60 mL/hr.', 'Voiding QS via urinal.', 'Foley removed at 0600, DTV by 1200.', 'Incontinent x1, peri care done.'])],
    ['SKIN', c.pick(['Stage 2 PI to coccyx, Mepilex changed, C/D/I. Braden 14.', 'Intact. Turned q2h.', 'R forearm PIV 20g, site WNL.'])],
    ['PAIN', `${c.int(3, 8)}/10 ${sc.painSite}. ${c.pick(['Norco 5/325 1 tab', 'Tylenol 650 mg', 'oxycodone 5 mg', 'Dilaudid 0.5 mg IV'])} given at ${painGiven} with relief to ${c.int(1, 3)}/10.`],
    ['SAFETY', `Morse ${c.pick([25, 45, 55, 65])}, bed alarm on, call light within reach, non-skid socks. ${c.pick(['1:1 sitter at bedside.', 'Fall precautions in place.', ''])}`.trim()],
    ['PSYCHOSOCIAL', c.opt(() => c.pick([
      t`${capitalize(rel.relation)} ${c.name(rel, c.pick(['first', 'full']))} at bedside, updated on POC.`,
      t`Called ${rel.relation} ${c.name(rel, 'first')} at ${c.phone(rel.phoneDigits)}, no answer, left VM to call back.`,
      t`${capitalize(rel.relation)} ${c.name(rel, 'first')} (${c.phone(rel.phoneDigits)}) asks to be called with any changes.`,
    ])) ?? c.pick(['Family at bedside, updated on POC.', 'Pt tearful, emotional support given. Chaplain notified.'])],
  ];
  const meds = c.rng.sample(cast.hx.meds.length ? cast.hx.meds : ['acetaminophen 650 mg PO q6h prn'], 3)
    .map((m) => [c.at(c.noteDate, shiftStart === 7 ? 8 : 20, shiftStart === 7 ? 18 : 23), drugName(m)])
    .sort((a, b) => a[0] - b[0])
    .map(([when, drug]) => `${c.time(when)} ${drug}`);
  const oncoming = c.clinician('nurse', 'RN');
  const extra = [
    ['LINES', c.pick(['R AC PIV 20g, L FA PIV 22g, both flushed, sites WNL.', 'R IJ CVC, dressing C/D/I, dated. PIV x1.', 'PICC RUE, dressing changed per protocol.'])],
    ['I&O', `IN ${c.int(600, 1800)} / OUT ${c.int(800, 2600)}. ${c.pick(['Daily wt ordered.', 'Strict I&O.', 'Fluid restriction 1.5 L.'])}`],
    ['MEDS', `Scheduled meds given: ${meds.join(', ')}. Refused ${c.pick(['heparin SQ x1', 'evening Colace', 'nothing'])}.`],
    ['EDUCATION', c.pick(['Reviewed fall precautions and call light use; pt verbalized understanding.', 'Taught IS use, return demo done.', 'Reinforced low-sodium diet teaching.'])],
  ];
  const handoff = c.opt(() => t`Bedside report given to ${c.name(oncoming, c.pick(['full', 'first']))}, RN at ${pad((shiftStart + 12) % 24)}${c.pick(['00', '15'])}.`);
  const narrative = para(
    t`${ptFirst}${ptFirst ? 'rested' : 'Pt rested'} comfortably between cares.`,
    c.pick(['Will continue to monitor.', 'Will cont POC.', 'May shower tomorrow per MD.']),
    c.pick([`Pt voices hope to go home ${c.pick(['tomorrow', 'by the weekend', 'soon'])}.`, 'Pt hopeful about d/c.', '']),
  );
  return blocks(
    lines(
      c.pick([`NURSING NOTE ${pad(shiftStart)}00-${pad((shiftStart + 12) % 24)}00`, 'RN SHIFT ASSESSMENT', 'NURSING PROGRESS NOTE']),
      c.opt(() => t`${c.dt(c.at(c.noteDate, shiftStart + 1, shiftStart + 3 < 24 ? shiftStart + 3 : 23))}${c.chance(0.5) ? t`  Pt: ${c.name(p, c.pick(['full', 'lf', 'LF']))}` : ''}`),
      `Rm ${c.int(301, 980)}${c.pick(['A', 'B', ''])}  Dx: ${sc.dx.replace(/ \(.*\)$/, '')}`),
    join(sections.map(([label, text]) => t`${label}: ${body(text)}`), '\n'),
    join(extra.filter(() => c.chance(0.75)).map(([label, text]) => t`${label}: ${body(text)}`), '\n'),
    body(narrative),
    handoff && body(handoff),
    c.opt(() => t`${c.name(nurse, c.pick(['full', 'full', 'init']))}, RN`),
  );
}

function lastBowelMovement(c) {
  const d = c.daysAgo(0, 2);
  // "on the 3rd": only the ordinal is the DATE span.
  return c.opt(() => c.chance(0.3) ? t`on the ${c.date(d, 'ord')}` : c.date(d, c.pick(['md', 'mond'])))
    ?? c.pick(['yesterday', 'today', 'PTA']);
}

/** Upper-case a fragment tree, including PHI texts (a new tree). */
function upperFrag(x) {
  if (x === null || x === undefined || typeof x === 'boolean') return x;
  if (Array.isArray(x)) return x.map(upperFrag);
  if (x instanceof Phi) return new Phi(x.type, x.text.toUpperCase());
  return String(x).toUpperCase();
}

function dischargeSummary(c, cast, sc) {
  const { p, hx, attending, pcp, pcpClinic, consultant, hospital, snf, clinicAddress, hcp } = cast;
  const discharge = c.noteDate;
  const los = c.int(2, 8);
  const admit = addDays(discharge, -los);
  const procDate = addDays(admit, c.int(1, Math.max(1, los - 1)));
  const header = headerBlock(c, [
    patientNameField(c, p), mrnField(c, p), dobField(c, p), ageSexField(c, p),
    c.chance(0.4) && acctField(c, p), c.chance(0.3) && memberField(c, p),
  ]);
  const dispo = c.rng.weighted([['home', 4], ['homeVna', 2], ['snf', p.age > 70 ? 3 : 0.5]]);
  const dispoText = {
    home: 'Home with self-care.',
    homeVna: c.opt(() => t`Home with VNA services; ${c.rel(p, hcp)} will stay with ${p.him} for the first week.`) ?? 'Home with VNA services.',
    snf: c.opt(() => t`Skilled nursing facility: ${c.loc(snf.name)}, ${c.fullAddress(c.address())}. Report called to the receiving nurse, ${c.name(c.person({ sex: 'female' }), 'full')}, RN, at ${c.phone()}.`)
      ?? 'Skilled nursing facility for short-term rehabilitation.',
  }[dispo];
  const newMeds = c.rng.sample(sc.meds.length ? sc.meds : ['acetaminophen 650 mg PO q6h prn pain'], 2);
  const opioid = c.chance(['hipfx', 'chole', 'cellulitis'].includes(sc.key) ? 0.7 : 0.1);
  const fuDate = addDays(discharge, c.int(5, 14));
  const followUp = lines('FOLLOW-UP APPOINTMENTS:',
    c.opt(() => t`- PCP: ${c.dr(pcp, 'cred')}, ${c.loc(pcpClinic.name)}, ${c.fullAddress(clinicAddress)}. Phone ${c.phone()}${c.chance(0.5) ? t`, fax ${c.fax()}` : ''}. Appointment on ${c.sdate(fuDate)}${c.chance(0.5) ? ` at ${c.pick(['9:15 AM', '10:30 AM', '1:40 PM', '3:00 PM'])}` : ''}.`)
      ?? '- PCP within 7-10 days; the clinic will call to schedule.',
    c.opt(() => t`- ${sc.consultService}: ${c.dr(consultant, 'drfull')} in ${c.int(2, 6)} weeks; the office will call ${p.him} at ${c.phone(p.phoneDigits)}.`)
      ?? `- ${sc.consultService} clinic in 2-4 weeks.`,
    `- Labs: BMP and CBC in 1 week${c.chance(0.5) ? ' (order placed)' : ''}.`,
  );
  const instructions = para(
    c.pick(['Call your doctor or return to the ED for fever >38.3 °C, worsening shortness of breath, chest pain, or bleeding.',
      'Return for chest pain, fainting, black stools, or any new weakness.']),
    sc.key === 'chf' ? 'Weigh yourself every morning; call if weight goes up more than 3 lb in a day or 5 lb in a week.' : null,
    c.opt(() => c.chance(0.5) && t`Your after-visit summary and results are available at ${portalUrl(c, hospital, c.pick(['avs', 'results']))}.`),
  );
  return blocks(
    lines(c.pick(['DISCHARGE SUMMARY', 'Discharge Summary - Hospital Medicine', 'HOSPITAL DISCHARGE SUMMARY']), header),
    lines(
      t`Admission date: ${c.date(admit, undefined, `hospital day 1 (${los} days ago)`)}    Discharge date: ${c.date(discharge, undefined, 'today')}`,
      `Length of stay: ${los} days`,
      c.opt(() => t`Attending: ${c.dr(attending, 'drfull')}    PCP: ${c.dr(pcp, 'cred')}`),
      c.opt(() => t`Facility: ${c.loc(hospital.name)}`),
    ),
    lines('PRINCIPAL DIAGNOSIS:', sc.dx),
    lines('SECONDARY DIAGNOSES:', ...hx.comorb.map((x) => `- ${x.dx}`)),
    sc.procedure && lines('PROCEDURES:', t`${sc.procedure}${c.opt(() => t` (${c.date(procDate)})`)}`),
    c.opt(() => t`CONSULTANTS: ${sc.consultService} (${c.dr(consultant, 'drfull')})`),
    lines('HOSPITAL COURSE:',
      para(t`${ptRef(c, cast)} is ${article(p.age)} ${c.age(p.age)} ${p.man} with ${list(hx.pmh.slice(0, 3))} who presented with ${c.pick(sc.presents)} and was found to have ${sc.dx.replace(/ \(.*\)$/, '').toLowerCase()}.`,
        ...sc.course(c, cast)),
      para(`Chronic issues: ${hx.comorb.map((x) => x.dx.replace(/ \(.*?\)/, '')).join(', ')} - ${c.pick(['home regimen continued', 'stable during admission', 'no changes made'])}.`)),
    lines('DISCHARGE MEDICATIONS:',
      ...newMeds.map((m) => `- ${c.pick(['NEW', 'CHANGED', 'CONTINUE'])}: ${m}`),
      ...hx.meds.filter((m) => !newMeds.includes(m)).map((m) => `- CONTINUE: ${m}`),
      opioid ? t`- NEW: oxycodone 5 mg PO q6h prn severe pain, #${c.int(8, 20)}, no refills${c.opt(() => t`. Prescriber: ${c.dr(attending, 'drfull')}, DEA # ${c.phi('LICENSE', makeDea(c.rng, attending.last))}`)}` : null),
    `DISCHARGE CONDITION: ${c.pick(['Stable, improved.', 'Good. Ambulating independently.', 'Fair; ambulates with walker.'])}`,
    lines('DISPOSITION:', dispoText),
    followUp,
    lines('PENDING AT DISCHARGE:', sc.procedure && c.chance(0.6)
      ? (c.opt(() => t`Surgical pathology, case # ${c.phi('ID', `${c.pick(['S', 'SP-'])}${pad(discharge.getUTCFullYear() % 100)}-${c.rng.digits(c.pick([5, 6]))}`)}.`) ?? 'Surgical pathology.')
      : c.pick(['Final blood culture results.', 'None.', 'H. pylori stool antigen.', '25-OH vitamin D level.'])),
    lines('PATIENT INSTRUCTIONS:', instructions),
    signBlock(c, attending, c.at(discharge, 10, 18)),
  );
}

// Radiology studies: findings per scenario key, `normal` otherwise.
const STUDIES = {
  cxr: {
    exam: ['XR CHEST 2 VIEWS (PA AND LATERAL)', 'XR CHEST PORTABLE AP', 'CHEST RADIOGRAPH, 1 VIEW'],
    technique: 'Frontal and lateral views of the chest.',
    findings: {
      normal: ['Lungs are clear without focal consolidation, effusion, or pneumothorax.', 'Cardiomediastinal silhouette is within normal limits.', 'Mild degenerative changes of the thoracic spine.'],
      chf: ['Moderate cardiomegaly. Cephalization of the pulmonary vasculature with interstitial edema and Kerley B lines.', 'Small bilateral pleural effusions, right greater than left.', 'No pneumothorax.'],
      pna: ['Dense consolidation in the right lower lobe with air bronchograms, silhouetting the right hemidiaphragm.', 'No pleural effusion or pneumothorax.', 'Heart size is normal.'],
      copd: ['Hyperinflated lungs with flattened hemidiaphragms and increased retrosternal clear space.', 'No focal consolidation or pneumothorax.', 'Normal heart size.'],
    },
    impression: {
      normal: ['No acute cardiopulmonary process.'],
      chf: ['1. Cardiomegaly with moderate interstitial pulmonary edema.', '2. Small bilateral pleural effusions.'],
      pna: ['Right lower lobe pneumonia. Recommend follow-up radiograph in 6-8 weeks to document resolution.'],
      copd: ['Emphysematous hyperinflation without acute superimposed process.'],
    },
  },
  cthead: {
    exam: ['CT HEAD WITHOUT CONTRAST', 'CT BRAIN W/O IV CONTRAST (STROKE PROTOCOL)'],
    technique: 'Axial images from the skull base to the vertex without IV contrast. Automated exposure control was used.',
    findings: {
      normal: ['No acute intracranial hemorrhage, mass effect, or midline shift.', 'Gray-white differentiation is preserved.', 'Mild chronic microvascular ischemic changes. Ventricles are proportionate to sulci.', 'Calvarium intact. Visualized paranasal sinuses and mastoid air cells are clear.'],
      stroke: ['No intracranial hemorrhage.', 'Hyperdense right MCA branch (M2) sign. Subtle loss of gray-white differentiation in the right insula; ASPECTS 9.', 'No midline shift. Basal cisterns patent.', 'Chronic microvascular ischemic changes.'],
    },
    impression: {
      normal: ['No acute intracranial abnormality.'],
      stroke: ['1. Early ischemic change in the right insula (ASPECTS 9) with hyperdense right M2 sign.', '2. No hemorrhage.'],
    },
  },
  ctap: {
    exam: ['CT ABDOMEN AND PELVIS WITHOUT IV CONTRAST', 'CT A/P WITH IV CONTRAST'],
    technique: 'Helical images from the lung bases through the pubic symphysis. Coronal and sagittal reformats.',
    findings: {
      normal: ['Liver, spleen, pancreas, and adrenal glands are unremarkable.', 'No hydronephrosis. No renal or ureteral calculi.', 'Normal caliber bowel without obstruction. Normal appendix.', 'No free air or free fluid. No lymphadenopathy.', 'Degenerative changes of the lumbar spine. No acute fracture.'],
      urosepsis: ['Liver, spleen, pancreas, and adrenal glands are unremarkable.', 'Mild right perinephric fat stranding and urothelial thickening of the right renal pelvis. No hydronephrosis or obstructing calculus.', 'Mild bladder wall thickening.', 'No free air or abscess.', 'Degenerative changes of the lumbar spine.'],
    },
    impression: {
      normal: ['No acute abdominal or pelvic process.'],
      urosepsis: ['Findings compatible with right pyelonephritis in the appropriate clinical setting. No abscess or obstruction.'],
    },
  },
  ruq: {
    exam: ['US ABDOMEN LIMITED (RUQ)', 'ULTRASOUND RIGHT UPPER QUADRANT'],
    technique: 'Grayscale and color Doppler images of the right upper quadrant.',
    findings: {
      normal: ['Gallbladder: normal, no stones or wall thickening. Sonographic Murphy sign negative.', 'CBD: 3 mm.', 'Liver: normal echotexture, no focal lesion.', 'Right kidney: 10.8 cm, no hydronephrosis.'],
      chole: ['Gallbladder: distended with multiple mobile shadowing stones, the largest 1.8 cm; wall thickened to 6 mm with pericholecystic fluid. Positive sonographic Murphy sign.', 'CBD: 4 mm, not dilated.', 'Liver: mildly echogenic, compatible with steatosis.', 'Right kidney: no hydronephrosis.'],
    },
    impression: {
      normal: ['Normal right upper quadrant ultrasound.'],
      chole: ['Findings consistent with acute calculous cholecystitis.'],
    },
  },
  duplex: {
    exam: ['US VENOUS DUPLEX LEFT LOWER EXTREMITY'],
    technique: 'Grayscale, compression, and color/spectral Doppler evaluation of the deep veins.',
    findings: {
      normal: ['The common femoral, femoral, popliteal, and calf veins are compressible with normal flow and augmentation.', 'Subcutaneous edema of the calf.', 'Contralateral CFV waveform is phasic.'],
    },
    impression: { normal: ['No evidence of deep venous thrombosis in the left lower extremity.'] },
  },
  hipxr: {
    exam: ['XR HIP RIGHT 2-3 VIEWS WITH PELVIS'],
    technique: 'AP pelvis and AP/lateral views of the right hip.',
    findings: {
      normal: ['No acute fracture or dislocation.', 'Mild joint space narrowing of both hips.', 'Diffuse osteopenia.'],
      hipfx: ['Displaced subcapital fracture of the right femoral neck with varus angulation and superior migration of the femoral shaft.', 'No dislocation.', 'Diffuse osteopenia. Vascular calcifications.'],
    },
    impression: {
      normal: ['No acute osseous abnormality.'],
      hipfx: ['Displaced right femoral neck fracture (Garden IV).'],
    },
  },
  mribrain: {
    exam: ['MRI BRAIN WITHOUT AND WITH CONTRAST'],
    technique: 'Multiplanar multisequence MR imaging of the brain before and after 7 mL gadobutrol.',
    findings: {
      normal: ['No restricted diffusion to suggest acute infarct.', 'Scattered T2/FLAIR white matter hyperintensities, likely chronic small vessel disease.', 'No abnormal enhancement. No mass.', 'Normal flow voids.'],
      stroke: ['Restricted diffusion in the right insular cortex and subjacent white matter, measuring 2.1 x 1.4 cm, compatible with acute infarct.', 'No hemorrhagic transformation.', 'Chronic small vessel ischemic changes.'],
    },
    impression: {
      normal: ['No acute intracranial abnormality. Mild chronic small vessel disease.'],
      stroke: ['Acute right insular infarct without hemorrhagic transformation.'],
    },
  },
};

function radiologyReport(c, cast, sc) {
  const { p, attending, radiologist, hospital, resident } = cast;
  const key = c.chance(0.7) && sc.study ? sc.study : c.pick(Object.keys(STUDIES));
  const study = STUDIES[key];
  const variant = study.findings[sc.key] && key === sc.study ? sc.key : 'normal';
  const examTime = c.at(c.noteDate, 0, 23);
  const signed = new Date(examTime.getTime() + c.int(20, 240) * 60000);
  const accession = c.rng.weighted([
    [() => `RAD-${examTime.getUTCFullYear()}-${c.rng.digits(6)}`, 3],
    [() => `${c.pick(['CT', 'XR', 'US', 'MR'])}${pad(examTime.getUTCFullYear() % 100)}-${c.rng.digits(7)}`, 2],
    [() => `A${c.rng.digits(8)}`, 1],
  ])();
  const priorDate = c.daysAgo(60, 1500);
  const device = key === 'mribrain' && !c.clean && c.chance(0.7);
  const critical = variant !== 'normal' && c.chance(0.6);
  const orderer = c.pick([attending, resident]);
  return blocks(
    lines(
      c.opt(() => t`${c.loc(hospital.name)} - Department of Radiology`),
      `EXAM: ${c.pick(study.exam)}`,
      c.opt(() => t`DATE OF EXAM: ${c.dt(examTime)}`),
      c.opt(() => t`ACCESSION #: ${c.phi('ID', accession)}${c.chance(0.4) ? t`    ORDER #: ${c.phi('ID', c.rng.digits(c.int(5, 8)))}` : ''}`),
      headerBlock(c, [patientNameField(c, p), mrnField(c, p), dobField(c, p), t`AGE: ${c.age(p.age, 'bare')}Y  SEX: ${p.gender}`]),
      c.opt(() => t`ORDERING PROVIDER: ${c.dr(orderer, c.pick(['cred', 'drfull']))}`),
      `PATIENT LOCATION: ${c.pick(['ED', 'Inpatient - 5 West', 'Inpatient - ICU', 'Outpatient'])}    PRIORITY: ${c.pick(['STAT', 'Routine', 'Urgent'])}`,
    ),
    t`CLINICAL INDICATION: ${c.age(p.age, c.pick(['y/o', 'yo']))} ${p.gender} with ${sc.ed}. ${c.pick(['Evaluate for acute process.', 'R/O acute pathology.', ''])}`,
    t`COMPARISON: ${c.chance(0.4) ? 'None.' : c.opt(() => t`${c.pick(study.exam)} dated ${c.date(priorDate, c.pick(['mdy', 'mdy1', 'iso']))}.`) ?? 'Prior study, report only.'}`,
    `TECHNIQUE: ${study.technique}${key.startsWith('ct') ? ` Radiation dose: CTDIvol ${c.dec(8, 60, 1)} mGy, DLP ${c.int(250, 1100)} mGy-cm.` : ''}`,
    lines('FINDINGS:', ...study.findings[variant],
      device ? t`Patient has an MR-conditional ${c.pick(['dual-chamber pacemaker', 'ICD'])} (serial # ${c.phi('DEVICE', deviceSerial(c))}); device programmed to MRI mode by electrophysiology before the scan and restored afterward.` : null),
    lines('IMPRESSION:', ...study.impression[variant]),
    c.chance(0.5) ? `Attestation: I have personally reviewed the images and agree with the findings above. Report status: ${c.pick(['Final', 'Final', 'Addended'])}.` : null,
    critical && c.opt(() => t`Critical result communicated to ${c.dr(orderer, 'dr')} by telephone at ${c.time(signed)} on ${c.date(signed, c.pick(['md', 'mdy', 'mondy']))} with read-back confirmation.`),
    c.opt(() => lines(
      t`Dictated by: ${c.dr(radiologist, 'cred')}`,
      t`Electronically signed: ${c.name(radiologist, 'full')}, ${radiologist.cred} ${c.dt(signed)}`,
    )) ?? 'Electronically signed by the interpreting radiologist.',
  );
}

function consultLetter(c, cast, sc) {
  const { p, hx, pcp, consultant, pcpClinic, clinicAddress, relatives } = cast;
  // Either the specialist answers the PCP, or the PCP refers to the specialist.
  const reply = c.chance(0.6);
  const [from, to] = reply ? [consultant, pcp] : [pcp, consultant];
  const fromPlace = reply ? c.facility('clinic') : pcpClinic;
  const fromAddr = reply ? c.address() : clinicAddress;
  const toAddr = c.address();
  const visit = c.daysAgo(0, 10);
  const companion = c.pick(relatives);
  const v = vitalsFor(c, sc);
  const letterhead = c.opt(() => lines(
    c.loc(fromPlace.name), reply ? sc.consultService : 'Primary Care',
    c.loc(fromAddr.street), t`${c.loc(fromAddr.city)}, ${fromAddr.state} ${c.zip(fromAddr.zip)}`,
    t`Tel ${c.phone()}${c.pick(['   ', ' | ', '\n'])}Fax ${c.fax()}`,
  ));
  const addressee = c.opt(() => lines(
    t`${c.dr(to, c.pick(['drfull', 'cred']))}`,
    c.chance(0.5) ? (reply ? 'Primary Care' : sc.consultService) : null,
    c.loc(toAddr.street), t`${c.loc(toAddr.city)}, ${toAddr.state} ${c.zip(toAddr.zip)}`,
  ));
  const re = c.opt(() => lines(
    t`RE: ${c.name(p, c.pick(['full', 'fml', 'lf']))}`,
    t`DOB: ${c.date(p.dob)}`,
    c.chance(0.5) ? mrnField(c, p) : null,
  )) ?? 'RE: Consultation';
  const salutation = c.opt(() => t`Dear ${c.dr(to, 'dr')},`) ?? c.pick(['Dear Colleague,', 'Dear Doctor,']);
  const opening = reply
    ? para(t`Thank you for asking me to see ${ptRef(c, cast, { start: false })}, ${article(p.age)} ${c.age(p.age)} ${p.man} with ${list(hx.pmh.slice(0, 3))}, in consultation regarding ${c.pick(sc.cc)}.`,
      c.opt(() => t`I saw ${p.him} in the ${sc.consultService} clinic ${c.on(visit)}${c.chance(0.6) ? t`, accompanied by ${c.rel(p, companion)}` : ''}.`)
        ?? `I saw ${p.him} in clinic recently.`)
    : para(t`I am writing to refer ${ptRef(c, cast, { start: false })}, ${article(p.age)} ${c.age(p.age)} ${p.man} whom I follow for ${list(hx.pmh.slice(0, 3))}, for further evaluation of ${c.pick(sc.cc)}.`,
      c.opt(() => t`${p.He} was recently hospitalized at ${c.loc(cast.hospital.name)} from ${c.date(c.daysAgo(20, 40), 'md')} to ${c.date(c.daysAgo(10, 19), 'md')}.`));
  const recs = c.rng.sample(CLINIC_RECS[sc.key], c.int(2, 4)).map((x, i) => `${i + 1}. ${x}`);
  const closing = para(
    reply ? t`I will see ${p.him} back in ${c.int(2, 6)} months${c.opt(() => t` (tentatively ${c.date(addDays(visit, c.int(60, 180)), c.pick(['monthy', 'mondy', 'md']))})`) ?? ''}.` : 'I would appreciate your assessment and recommendations.',
    c.opt(() => t`Please do not hesitate to contact me at ${c.phone()} or ${c.phi('EMAIL', clinicianEmail(c, from, fromPlace))} with any questions.`)
      ?? 'Please do not hesitate to contact me with any questions.',
  );
  const sig = c.opt(() => lines(
    t`${c.name(from, c.pick(['full', 'fml']))}, ${from.cred}${from.cred === 'MD' && reply ? c.pick([', FACC', ', FACP', '']) : ''}`,
    reply ? sc.consultService : 'Internal Medicine',
    c.chance(0.6) ? t`NPI: ${c.phi('ID', makeNpi(c.rng))}` : null,
    c.chance(0.3) ? t`State license #: ${c.phi('LICENSE', `${c.pick(['MD', 'A', 'G', ''])}${c.rng.digits(c.int(5, 7))}`)}` : null,
  ));
  return blocks(
    letterhead,
    c.opt(() => c.date(c.noteDate, c.pick(['monthdy', 'monthdy', 'mdy', 'dmonthy']))),
    addressee,
    re,
    salutation,
    opening,
    t`History: ${para(...sc.hpi(c, cast))}`,
    `Current medications: ${hx.meds.length ? hx.meds.join('; ') : 'none'}. Allergies: ${hx.allergies.join('; ')}.`,
    lines(`Examination: ${vitalsLine(c, v)}.`, `${c.pick(['Heart', 'Cardiac'])}: ${c.pick({ ...DEFAULT_EXAM, ...(sc.exam || {}) }.cv)} Lungs: ${c.pick({ ...DEFAULT_EXAM, ...(sc.exam || {}) }.resp)}`),
    sc.imaging ? `Data reviewed: ${sc.imaging[0]}: ${sc.imaging[1]}` : null,
    reply && c.chance(0.2) ? (c.opt(() => t`This visit was conducted by secure video with the patient at home (connection from IP ${c.phi('IP', ipAddress(c))}); verbal consent obtained.`)
      ?? 'This visit was conducted by secure video with the patient at home; verbal consent obtained.') : null,
    lines(reply ? 'Impression and recommendations:' : 'Questions for the consultant:', ...(reply ? recs : [`1. ${c.pick(['Is further workup indicated?', 'Would you recommend a change in therapy?', 'Please advise on long-term management.'])}`])),
    closing,
    c.pick(['Sincerely,', 'With kind regards,', 'Best regards,']),
    sig ?? 'Consulting physician',
    c.opt(() => c.chance(0.5) && t`cc: ${c.dr(c.clinician('physician'), 'cred')}`),
  );
}

function clinicianEmail(c, who, fac) {
  const first = asciiFold(who.first).toLowerCase(), last = asciiFold(who.last).toLowerCase();
  const user = c.pick([`${first[0] || 'x'}${last}`, `${first}.${last}`, `${last}${first[0] || ''}`]);
  return `${user || 'md'}@${fac.slug}.org`;
}

function plateText(c) {
  return c.rng.weighted([
    [() => `${c.int(1, 9)}${c.rng.letters(3)}${c.rng.digits(3)}`, 3],
    [() => `${c.rng.letters(3)}-${c.rng.digits(4)}`, 2],
    [() => `${c.rng.letters(3)} ${c.rng.digits(3)}`, 1],
  ])();
}

function edTriage(c, cast, sc) {
  const { p, hx, relatives, nurse } = cast;
  const mvc = c.chance(0.3);
  const arrival = c.at(c.noteDate, 0, 23);
  const v = vitalsFor(c, mvc ? { vitals: { hr: [92, 114] } } : sc);
  const contact = c.pick(relatives);
  const mode = c.pick(['EMS', 'ambulance', 'private vehicle', 'walk-in', 'wheelchair from waiting room']);
  const complaint = mvc ? 'MVC, neck and chest wall pain' : sc.ed;
  const story = mvc
    ? para(
      t`Restrained driver of a sedan${c.opt(() => t` (plate ${c.phi('VEHICLE', plateText(c))}, ${c.faker('en_US').location.state({ abbreviated: true })})`)} struck on the driver side at about ${c.int(25, 45)} mph. Airbags deployed. Self-extricated, ambulatory at scene.`,
      c.opt(() => c.chance(0.5) && t`Police on scene; vehicle VIN ${c.phi('VEHICLE', makeVin(c.rng))} recorded on the crash report.`),
      `C/o neck pain 6/10 and L chest wall pain with deep breaths. Denies LOC, denies anticoagulants. GCS 15 at scene.`,
      'C-collar placed by EMS. Seat belt sign absent.')
    : para(t`${c.age(p.age, 'yo')} ${p.gender} ${c.pick(['c/o', 'presents with', 'reports'])} ${c.pick(sc.presents)}.`, ...sc.hpi(c, cast).slice(0, 2));
  const registration = c.opt(() => lines(
    'REGISTRATION:',
    t`Address: ${c.fullAddress(p.address)}`,
    t`Home phone: ${c.phone(p.phoneDigits)}${c.chance(0.4) ? t`  Email: ${c.phi('EMAIL', p.email)}` : ''}`,
    t`Emergency contact: ${c.name(contact, c.pick(['full', 'lf']))} (${contact.relation}) ${c.phone(contact.phoneDigits)}`,
    t`Insurance: ${p.insurer}  ${memberField(c, p)}`,
    c.chance(0.5) ? ssnField(c, p) : null,
    c.chance(0.4) ? t`ID verified: driver's license ${c.phi('LICENSE', c.rng.weighted([[() => `${c.rng.letters(1)}${c.rng.digits(7)}`, 2], [() => `${c.rng.letters(1)}${c.rng.digits(3)}-${c.rng.digits(4)}-${c.rng.digits(4)}`, 1], [() => c.rng.digits(9), 1]])())}` : null,
  ));
  return blocks(
    lines(
      c.pick(['ED TRIAGE NOTE', 'Emergency Department Triage', 'TRIAGE ASSESSMENT']),
      c.opt(() => t`Arrival: ${c.dt(arrival)}    Mode: ${mode}`) ?? `Mode of arrival: ${mode}`,
      headerBlock(c, [patientNameField(c, p), c.chance(0.7) && dobField(c, p), mrnField(c, p), c.chance(0.5) && encounterField(c)]),
    ),
    lines(
      `Chief complaint: "${mvc ? 'car accident' : c.pick(sc.cc)}" - ${complaint}`,
      `Acuity: ESI ${mvc || ['stroke', 'nstemi', 'urosepsis', 'dka'].includes(sc.key) ? 2 : 3}${sc.key === 'stroke' && !mvc ? ' (stroke alert)' : ''}`,
      `${vitalsLine(c, v)}. Pain ${c.int(4, 9)}/10. Wt ${c.int(48, 121)} kg.`,
      `Glasgow Coma Scale ${c.pick(['15', '15', '14'])}. Pupils ${c.pick(['3 mm', '4 mm'])} and reactive.`,
    ),
    lines('Triage narrative:', story),
    t`Allergies: ${hx.allergies.join('; ')}. Home meds: ${hx.meds.length ? hx.meds.slice(0, 3).join('; ') + (hx.meds.length > 3 ? '; see med rec' : '') : 'none'}.`,
    lines(
      `Tetanus: ${c.pick(['up to date', 'unknown', `last in ${c.year(3, 15)}`])}. Fall risk: ${c.pick(['low', 'moderate', 'high (Morse 55)'])}.`,
      `Suicide screen (C-SSRS): negative. Travel outside the US in the past 21 days: ${c.pick(['none', 'Mexico', 'Canada', 'India', 'Dominican Republic'])}.`,
      c.opt(() => c.chance(0.4) && t`Accompanied by ${contact.relation} ${c.name(contact, 'first')}, who is at bedside.`),
    ),
    registration,
    c.opt(() => t`Triage RN: ${c.name(nurse, c.pick(['full', 'fml', 'init']))}, RN ${c.dt(new Date(arrival.getTime() + c.int(3, 25) * 60000))}`),
  );
}

// Messages typed by patients; `drRef` is "Dr. Last" or "Doctor".
const PATIENT_MESSAGES = [
  (c, drRef) => t`Hi ${drRef}, my blood pressure has been running around ${c.int(150, 170)}/${c.int(90, 100)} at home the last few days and I have a mild headache. Should I take an extra dose of my lisinopril? Thanks`,
  () => 'Hello, I need a refill of my metformin please, I have about 3 days left. Also can you send it to the pharmacy by my house instead? Thank you!',
  (c, drRef) => t`${drRef}, the swelling in my legs is better but I still get winded going up the stairs. Is it ok to go back to my water aerobics class on Monday?`,
  (c, drRef) => t`Good morning ${drRef}. I may have to reschedule my appointment, my daughter can't drive me that day. Will the nurse call me?`,
];

function telephoneEncounter(c, cast, sc) {
  const { p, hx, pcp, pcpClinic, nurse, hcp, pharmacy, hospital } = cast;
  const reason = c.rng.weighted([['refill', 3], ['results', 2], ['postdc', 2], ['portal', 3], ['telehealth', 2], ['device', 1.5], ['inr', 1]]);
  const when = c.at(c.noteDate, 8, 17);
  const caller = reason === 'portal' || c.chance(0.6) ? null : hcp; // null: the patient called
  const callbackDigits = caller ? caller.phoneDigits : p.phoneDigits;
  const med = hx.meds.length ? c.pick(hx.meds) : 'atorvastatin 40 mg PO qHS';
  const me = c.chance(0.5) ? c.pick(['🙂', '🙏', '👍']) : '';
  const signoff = c.opt(() => t`- ${c.name(p, c.pick(['first', 'full']))}`) ?? '';
  const bodies = {
    refill: () => para(
      `${caller ? 'Caller' : 'Pt'} requesting a 90-day refill of ${med}.`,
      c.opt(() => t`Last filled ${c.sdate(c.daysAgo(60, 90))}; last office visit ${c.sdate(c.daysAgo(90, 300))} with ${c.dr(pcp)}.`),
      c.opt(() => t`Preferred pharmacy: ${c.loc(pharmacy.name)}, ${c.loc(c.address().street)}, ${c.loc(c.city())}. Pharmacy phone ${c.phone()}, fax ${c.fax()}.`),
      'Refill pended to provider for approval. Pt aware it may take 48-72 hours.'),
    results: () => para(
      c.opt(() => t`Called pt to review labs from ${c.sdate(c.daysAgo(2, 10))}:`) ?? 'Called pt to review recent labs:',
      `A1c ${c.dec(6.4, 8.6, 1)}% (prior ${c.dec(7.0, 9.4, 1)}%), LDL ${c.int(68, 142)}, Cr ${c.dec(0.8, 1.4, 1)}, K ${c.dec(3.8, 5.0, 1)}.`,
      c.pick([c.opt(() => t`No answer; left a HIPAA-compliant voicemail at ${c.phone(callbackDigits)} requesting a call back.`) ?? 'No answer; left a voicemail.',
        'Spoke with pt, identity verified with two identifiers. Reviewed results; pt verbalized understanding.']),
      `Per ${pcp.cred === 'NP' ? 'NP' : 'MD'}: continue current regimen, recheck in 3 months.`),
    postdc: () => para(
      c.opt(() => t`Post-discharge follow-up call. Pt was discharged from ${c.loc(hospital.name)} ${c.on(c.daysAgo(2, 4))} after admission for ${sc.dx.replace(/ \(.*\)$/, '').toLowerCase()}.`)
        ?? `Post-discharge follow-up call after admission for ${sc.dx.replace(/ \(.*\)$/, '').toLowerCase()}.`,
      `Pt reports ${c.pick(['feeling stronger', 'mild fatigue but improving', 'some trouble sleeping'])}. Denies fever, chest pain, or SOB.`,
      'Reviewed discharge med list line by line; pt has all medications.',
      c.opt(() => t`Has follow-up with ${c.dr(pcp)} on ${c.sdate(addDays(c.noteDate, c.int(3, 10)))}${c.chance(0.4) ? ` at ${c.pick(['9:00', '10:45', '14:15'])}` : ''}.`)
        ?? 'Follow-up appointment confirmed.'),
    portal: () => lines(
      c.opt(() => t`Patient portal message received ${c.dt(when)} from ${c.phi('EMAIL', p.email)}:`) ?? 'Patient portal message received:',
      t`"${c.pick(PATIENT_MESSAGES)(c, c.opt(() => (pcp.cred === 'NP' ? c.name(pcp, 'first') : t`Dr. ${c.name(pcp, 'last')}`)) ?? 'Doctor')}${me && ' ' + me}${isEmpty(signoff) ? '' : [' ', signoff]}"`,
      c.opt(() => c.chance(0.5) && t`Message link: ${portalUrl(c, pcpClinic, 'msg')}`),
      c.opt(() => c.chance(0.3) && t`Sent from ${c.pick(['iPhone app', 'web browser', 'Android app'])}, IP ${c.phi('IP', ipAddress(c))}.`),
      `RN reply: ${c.pick(['Advised to keep a BP log and schedule a visit this week; reviewed ED precautions.', 'Refill request routed to the provider.', 'Discussed with provider; OK to resume activity as tolerated, avoid overexertion.'])}`),
    telehealth: () => para(
      c.opt(() => t`Video visit scheduled for ${c.dt(addDays(c.at(c.noteDate, 9, 16), c.int(1, 5)))}. Link sent to ${c.phi('EMAIL', p.email)}: ${portalUrl(c, pcpClinic, 'video')}`) ?? 'Video visit scheduled; link sent by email.',
      c.opt(() => t`Test connection completed from IP ${c.phi('IP', ipAddress(c))}; audio and video working.`),
      `Pt located in ${p.address.stateName} at the time of the call (licensure confirmed).`),
    device: () => para(
      `Remote ${c.pick(['pacemaker', 'ICD', 'loop recorder'])} transmission received and reviewed.`,
      c.opt(() => t`Device: ${c.pick(['Medtronic Azure XT DR', 'Boston Scientific Accolade', 'Abbott Assurity MRI', 'Medtronic LINQ II'])}, serial # ${c.phi('DEVICE', deviceSerial(c))}.`),
      c.opt(() => c.chance(0.5) && t`Transmission from home monitor, gateway IP ${c.phi('IP', ipAddress(c))}.`),
      `Battery ${c.dec(6, 11, 1)} years. ${c.pick(['No arrhythmias recorded.', 'Two brief AT/AF episodes, longest 3 minutes.', 'RV pacing 4%.'])} Lead impedances stable.`,
      'Next remote check in 91 days.'),
    inr: () => para(
      `Anticoagulation clinic call. INR today ${c.dec(1.6, 3.8, 1)} (goal 2-3) on Coumadin ${c.pick(['5 mg daily', '2.5 mg Mon/Fri and 5 mg other days', '7.5 mg daily'])}.`,
      'No bleeding or bruising; no missed doses; no new antibiotics. Diet with consistent vitamin K.',
      `Plan: ${c.pick(['no change', 'hold one dose tonight then resume', 'increase weekly dose by 10%'])}.`,
      c.opt(() => t`Recheck INR on ${c.sdate(addDays(c.noteDate, c.int(5, 14)))}.`) ?? 'Recheck INR in 1-2 weeks.'),
  };
  const callerLine = c.opt(() => caller
    ? t`Caller: ${c.name(caller, c.pick(['full', 'first']))} (${caller.relation}, on HIPAA release)    Callback #: ${c.phone(callbackDigits)}`
    : t`Caller: patient    Callback #: ${c.phone(callbackDigits)}`)
    ?? `Caller: ${caller ? caller.relation : 'patient'}`;
  return blocks(
    lines(
      c.pick(['TELEPHONE ENCOUNTER', 'Telephone Encounter', 'PHONE NOTE', 'Patient Message / Telephone Encounter']),
      c.opt(() => c.loc(pcpClinic.name)),
      c.opt(() => t`Date/Time: ${c.dt(when)}`),
      headerBlock(c, [patientNameField(c, p), c.chance(0.6) && dobField(c, p), c.chance(0.6) && mrnField(c, p)]),
      callerLine,
      `Reason for call: ${{ refill: 'Medication refill', results: 'Lab results', postdc: 'Transition of care / post-discharge call', portal: 'Patient message', telehealth: 'Telehealth scheduling', device: 'Remote device check', inr: 'INR management' }[reason]}`,
    ),
    bodies[reason](),
    c.chance(0.75) ? lines(
      `Active problems: ${hx.pmh.map((x) => x.replace(/ \(.*?\)/, '')).join('; ')}`,
      `Medications on file: ${hx.meds.length ? hx.meds.join('; ') : 'none'}`,
      `Allergies: ${hx.allergies.join('; ')}`) : null,
    lines(
      `Disposition: ${c.pick(['Home care advice given; pt agrees with plan.', 'Appointment offered within 1 week; pt accepted.', 'Routed to provider for review; will call pt back with the response.', 'ED precautions reviewed: call 911 for chest pain, trouble breathing, or fainting.'])}`,
      `Time spent on call: ${c.int(4, 22)} minutes.`),
    c.opt(() => t`${c.pick(['Routed to', 'FYI to', 'Sent to'])} ${c.dr(pcp, c.pick(['dr', 'cred']))}. ${c.name(nurse, c.pick(['full', 'init']))}, RN`) ?? 'Routed to PCP.',
  );
}

// ---------------------------------------------------------------------------
// Generation and CLI
// ---------------------------------------------------------------------------

export const NOTE_KINDS = {
  admission_hp: admissionHP,
  progress_note: progressNote,
  nursing_note: nursingNote,
  discharge_summary: dischargeSummary,
  radiology_report: radiologyReport,
  consult_letter: consultLetter,
  ed_triage: edTriage,
  telephone_encounter: telephoneEncounter,
};
const KIND_WEIGHTS = [
  ['admission_hp', 3], ['progress_note', 3], ['nursing_note', 2], ['discharge_summary', 3],
  ['radiology_report', 2], ['consult_letter', 2], ['ed_triage', 2], ['telephone_encounter', 2],
];

/** Note number n (0-based) of a run with this seed. */
export function generateNote(seed, n, { upper = 0.15, clean = 0.05 } = {}) {
  // Separate stream for the two decisions, so that changing --upper never
  // changes note content and `--upper 1` is the upper-cased `--upper 0`.
  const decide = new Rng(`medgate-notes/${seed}/${n}/decide`);
  const isUpper = decide.float() < upper;
  const isClean = decide.float() < clean;
  const c = new Ctx(seed, n, isClean);
  const kind = c.rng.weighted(KIND_WEIGHTS);
  const sc = c.pick(SCENARIOS);
  const cast = makeCast(c, sc);
  cast.hx = makeHistory(c, cast, sc);
  const { text, spans } = render(NOTE_KINDS[kind](c, cast, sc), { upper: isUpper });
  return { note_id: `${seed}-${n}`, kind, text, spans };
}

export function* generateNotes({ seed, count, upper = 0.15, clean = 0.05 }) {
  for (let n = 0; n < count; n++) yield generateNote(seed, n, { upper, clean });
}

const USAGE = 'usage: node notes.mjs --seed S --count N [--upper F] [--clean F] [--out FILE]\n' +
  '  S: integer 0..4294967295; N: integer 1..1000000; F: fraction in [0, 1]\n' +
  '  --upper  fraction of notes rendered in upper case (default 0.15)\n' +
  '  --clean  fraction of notes without any PHI (default 0.05)\n' +
  '  --out    write to FILE (replaced whole, only once complete) instead of standard output\n';

class UsageError extends Error {}

export function parseArgs(argv) {
  const opts = { seed: undefined, count: undefined, upper: 0.15, clean: 0.05, out: undefined };
  const intArg = (name, v, min, max) => {
    if (v === undefined || !/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      throw new UsageError(`${name} must be an integer in ${min}..${max} (got ${JSON.stringify(v ?? null)})`);
    }
    return Number(v);
  };
  const fracArg = (name, v) => {
    const x = Number(v);
    if (v === undefined || v.trim() === '' || !Number.isFinite(x) || x < 0 || x > 1) {
      throw new UsageError(`${name} must be a number in [0, 1] (got ${JSON.stringify(v ?? null)})`);
    }
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i];
    const [key, inline] = raw.split(/=(.*)/s, 2);
    if (!['--seed', '--count', '--upper', '--clean', '--out', '--help', '-h'].includes(key)) {
      throw new UsageError(`unknown argument ${JSON.stringify(raw)}`);
    }
    const val = inline !== undefined || key === '--help' || key === '-h' ? inline : argv[++i];
    switch (key) {
      case '--seed': opts.seed = intArg('--seed', val, 0, 4294967295); break;
      case '--count': opts.count = intArg('--count', val, 1, 1000000); break;
      case '--upper': opts.upper = fracArg('--upper', val); break;
      case '--clean': opts.clean = fracArg('--clean', val); break;
      case '--out':
        if (!val) throw new UsageError('--out needs a file name');
        opts.out = val;
        break;
      case '--help': case '-h': opts.help = true; break;
    }
  }
  if (opts.help) return opts;
  if (opts.seed === undefined) throw new UsageError('--seed is required');
  if (opts.count === undefined) throw new UsageError('--count is required');
  return opts;
}

function main(argv) {
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`notes.mjs: ${e.message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (opts.help) { process.stdout.write(USAGE); return; }
  if (opts.out) {
    const lines = [];
    for (const note of generateNotes(opts)) lines.push(JSON.stringify(note) + '\n');
    writeFileSync(`${opts.out}.tmp`, lines.join(''));
    renameSync(`${opts.out}.tmp`, opts.out);
    return;
  }
  let buf = '';
  for (const note of generateNotes(opts)) {
    buf += JSON.stringify(note) + '\n';
    if (buf.length > 1 << 16) { process.stdout.write(buf); buf = ''; }
  }
  process.stdout.write(buf);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.on('error', (e) => { if (e.code === 'EPIPE') process.exit(0); throw e; });
  main(process.argv.slice(2));
}
