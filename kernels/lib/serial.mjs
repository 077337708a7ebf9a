// Parse the `@@DONTCACHE@@ {json}` lines of guest.js out of a serial log (or stdout).
export const PREFIX = '@@DONTCACHE@@';

export function parseGuestOutput(text) {
  const out = { results: [], labs: [], logs: [], info: null, booted: null, fatal: null, done: false, guestExit: null };
  for (const raw of text.split(/\r?\n/)) {
    const at = raw.indexOf(PREFIX);
    if (at < 0) continue;
    let msg;
    try { msg = JSON.parse(raw.slice(at + PREFIX.length).trim()); } catch { out.logs.push(`unparsable: ${raw.slice(at, at + 200)}`); continue; }
    switch (msg.type) {
      case 'result': out.results.push(msg); break;
      case 'lab': out.labs.push(msg); break;
      case 'info': out.info = msg; break;
      case 'booted': out.booted = msg; break;
      case 'fatal': out.fatal = msg.detail; break;
      case 'done': out.done = true; break;
      case 'guest-exit': out.guestExit = msg.code; break;
      case 'progress': break;
      default: out.logs.push(msg.detail ?? JSON.stringify(msg));
    }
  }
  return out;
}

export const tail = (text, lines = 40) => text.split(/\r?\n/).slice(-lines).join('\n');
