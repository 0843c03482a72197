// Live status: the hub's server-sent events (GET /api/v1/events/stream),
// read with fetch because EventSource cannot send the Authorization
// header. Each event is a virtual cluster the caller may see, changed or
// deleted; the stream ends now and then (event reconnect) and is opened
// again at once; after a failure it is retried with backoff, and the
// pages poll meanwhile (state() says which).
import { session } from './api.js';

const MAX_BACKOFF_MS = 30000;

// liveStream calls on.virtualcluster(vc), on.deleted(vc), on.resync() (read
// everything again: a new stream after another, which may have missed
// changes in between) and on.state('live' | 'down') until stop() is called.
export function liveStream(on) {
  let stopped = false;
  let ctrl = null;
  let backoff = 1000;
  let state = 'down';
  let opened = 0;
  const setState = (s) => { if (s !== state) { state = s; if (on.state) on.state(s); } };

  async function once() {
    ctrl = new AbortController();
    const key = session.key();
    const r = await fetch('/api/v1/events/stream', {
      headers: { Accept: 'text/event-stream', Authorization: key ? 'Bearer ' + key : '' },
      cache: 'no-store', credentials: 'omit', signal: ctrl.signal,
    });
    if (!r.ok || !r.body) {
      if (r.status === 401) window.dispatchEvent(new CustomEvent('nest:unauthenticated'));
      throw new Error(`event stream: HTTP ${r.status}`);
    }
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        let type = 'message', data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) type = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (!data) continue; // a keep-alive comment
        const ev = JSON.parse(data);
        if (type === 'ready') {
          backoff = 1000;
          setState('live');
          // Changes between two streams are not replayed: read again.
          if (opened++ && on.resync) on.resync();
        }
        else if (type === 'virtualcluster' && on.virtualcluster) on.virtualcluster(ev.virtualCluster);
        else if (type === 'deleted' && on.deleted) on.deleted(ev.virtualCluster);
        // resync (changes were dropped) ends the stream: the next ready reads again.
      }
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await once();
      } catch (err) {
        if (stopped) return;
        setState('down');
        await new Promise((res) => setTimeout(res, backoff));
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  })();
  return {
    stop() { stopped = true; if (ctrl) ctrl.abort(); },
    state: () => state,
  };
}
