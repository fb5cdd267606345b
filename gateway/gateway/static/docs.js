const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
};
const refName = (s) => (s && s.$ref ? s.$ref.split('/').pop() : s && s.type ? s.type : '');
async function main() {
  const root = document.getElementById('root');
  const api = await (await fetch('/openapi.json')).json();
  root.append(el('h1', {}, api.info.title), el('p', {}, api.info.description || ''));
  if (api['x-unavailable-services'])
    root.append(el('p', {class: 'warn'}, 'Not shown (unreachable): ' + api['x-unavailable-services'].join(', ')));
  for (const [path, item] of Object.entries(api.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (typeof op !== 'object' || !op.responses) continue;
      const body = el('div', {class: 'op-body'});
      if (op.description) body.append(el('p', {}, op.description));
      const params = op.parameters || [];
      if (params.length) {
        const t = el('table', {}, el('tr', {}, el('th', {}, 'parameter'), el('th', {}, 'in'), el('th', {}, 'type'), el('th', {}, 'required')));
        for (const p of params) t.append(el('tr', {}, el('td', {}, p.name), el('td', {}, p.in), el('td', {}, refName(p.schema)), el('td', {}, p.required ? 'yes' : '')));
        body.append(t);
      }
      const rb = op.requestBody && op.requestBody.content;
      if (rb) for (const [ct, c] of Object.entries(rb)) body.append(el('p', {}, 'Body (' + ct + '): ' + refName(c.schema)));
      const rs = el('ul');
      for (const [code, r] of Object.entries(op.responses)) rs.append(el('li', {}, code + ' ' + (r.description || '')));
      body.append(rs);
      const summary = el('summary', {}, el('span', {class: 'm ' + method}, method.toUpperCase()), ' ', el('code', {}, path), ' ', op.summary || '');
      root.append(el('details', {}, summary, body));
    }
  }
  const schemas = (api.components && api.components.schemas) || {};
  const s = el('details', {}, el('summary', {}, 'Schemas (' + Object.keys(schemas).length + ')'));
  s.append(el('pre', {}, JSON.stringify(schemas, null, 2)));
  root.append(el('h2', {}, 'Components'), s);
  const events = await (await fetch('/asyncapi.json')).json();
  const ev = el('ul');
  for (const ch of Object.values(events.channels || {}))
    ev.append(el('li', {}, el('code', {}, ch.address), ': ' + Object.keys(ch.messages || {}).map((m) => m.split('_').slice(-2).join('.')).join(', ')));
  root.append(el('h2', {}, 'Events (/asyncapi.json)'), ev);
}
main().catch((e) => { document.getElementById('root').append('Failed to load the API description: ' + e); });
