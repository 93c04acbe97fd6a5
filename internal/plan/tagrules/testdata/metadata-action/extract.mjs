// Extracts the tag cases of docker/metadata-action's __tests__/meta.test.ts
// (groups null, push, tag, latest, pr, pr-head-sha, schedule, release, raw)
// into meta-cases.json, with the fields of each case's event fixture that
// the tag rules read. conformance_test.go runs them all against internal/plan/tagrules.
// Regenerate from a clone of docker/metadata-action:
//   node extract.mjs /path/to/metadata-action.git COMMIT > meta-cases.json
import fs from 'fs';
import {execSync} from 'child_process';
const repo = process.argv[2], commit = process.argv[3];
const show = p => execSync(`git -C ${repo} show ${commit}:${p}`, {encoding: 'utf8', maxBuffer: 1 << 26});
const src = show('__tests__/meta.test.ts');
const groups = ['null','push','tag','latest','pr','pr-head-sha','schedule','release','raw'];
const out = [];
for (const g of groups) {
  const start = src.indexOf(`describe('${g}', () => {`);
  const each = src.indexOf('test.each([', start);
  const end = src.indexOf("])('given", each);
  let body = src.slice(each + 'test.each('.length, end + 1);
  body = body.replace(/\}\s+as\s+\w+/g, '}').replace(/\]\s+as\s+[\w<>\[\]]+/g, ']');
  const cases = eval('(' + body + ')');
  for (const c of cases) {
    const [name, envFile, inputs, exVersion, exTags] = c;
    const env = {};
    for (const line of show(`__tests__/fixtures/${envFile}`).split('\n')) {
      const m = line.match(/^([A-Z_]+)=(.*)$/); if (m) env[m[1]] = m[2];
    }
    let payload = {};
    if (env.GITHUB_EVENT_PATH) payload = JSON.parse(show(env.GITHUB_EVENT_PATH.replace(/^\.\//, '')));
    const ctx = {
      event: env.GITHUB_EVENT_NAME || '', ref: env.GITHUB_REF || '', sha: env.GITHUB_SHA || '',
      default_branch: payload?.repository?.default_branch ?? '',
      base_ref: payload?.base_ref ?? '',
      pr_number: payload?.number ?? 0,
      pr_base_ref: payload?.pull_request?.base?.ref ?? '',
      pr_head_ref: payload?.pull_request?.head?.ref ?? '',
      pr_head_sha: payload?.pull_request?.head?.sha ?? '',
      pr_head_sha_env: g === 'pr-head-sha',
    };
    out.push({group: g, name, env: envFile, context: ctx, images: inputs.images || [], tags: inputs.tags || [], flavor: inputs.flavor || [],
      version: {main: exVersion.main ?? '', partial: exVersion.partial, latest: exVersion.latest}, want_tags: exTags});
  }
}
process.stdout.write(JSON.stringify({source: `docker/metadata-action@${commit} __tests__/meta.test.ts`, cases: out}, null, 1) + '\n');
