// pinned.mjs: reads a build input pinned by version and sha256 (a file from an npm package, or from a Debian
// package), for the data converters (tokens/convert.mjs, lexicons/convert.mjs). Every failure throws a
// PinnedError whose message names the file, what was expected and how to fix it.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export class PinnedError extends Error {}

function fail(message) {
  throw new PinnedError(message);
}

export function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

function checkHash(bytes, expected, label, fix) {
  const actual = sha256(bytes);
  if (actual !== expected) {
    fail(`sha256 mismatch for ${label}:\n  expected ${expected}\n  actual   ${actual}\n${fix} ` +
         `If the version was changed on purpose, review the new data and update the hash in manifest.json.`);
  }
  return bytes;
}

// One file of an installed npm package, after checking the package's version and the file's hash.
// `installDir` is where `npm ci` installs it (named in the messages).
export function readPinned(modules, { package: pkg, version, file, sha256: expected }, installDir) {
  const pkgJson = join(modules, pkg, 'package.json');
  if (!existsSync(pkgJson)) fail(`${pkg} is not installed in ${modules}; run \`npm ci\` in ${installDir}`);
  const installed = JSON.parse(readFileSync(pkgJson, 'utf8')).version;
  if (installed !== version) {
    fail(`${pkg}: manifest pins version ${version} but ${installed} is installed; run \`npm ci\` in ${installDir} ` +
         `(or update package.json, package-lock.json and manifest.json together)`);
  }
  const path = join(modules, pkg, file);
  if (!existsSync(path)) fail(`${pkg}@${version}: file ${file} not found at ${path}`);
  return checkHash(readFileSync(path), expected, `${pkg}@${version} ${file} (${path})`,
                   `The installed package version may be wrong or the file was modified; run \`npm ci\` in ${installDir}.`);
}

// One file installed by a Debian package, after checking the package's version (dpkg) and the file's hash.
export function readDebian({ debian: pkg, version, file, sha256: expected }) {
  let installed = '';
  try {
    installed = execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    installed = '';
  }
  if (!existsSync(file)) {
    fail(`${file} is missing: install the Debian package ${pkg} (${version}), as scripts/setup.sh does`);
  }
  if (installed && installed !== version) {
    fail(`${pkg}: manifest pins Debian version ${version} but ${installed} is installed; install ${version} ` +
         `or update manifest.json after reviewing the new data`);
  }
  return checkHash(readFileSync(file), expected, `${file} (Debian ${pkg} ${installed || 'version unknown'})`,
                   `Reinstall ${pkg} ${version}.`);
}
