// A small Markdown renderer that builds DOM nodes (never innerHTML), so whatever an answer contains it
// cannot inject markup or scripts: headings, paragraphs, lists, code blocks, tables, bold, italics,
// inline code and http(s) links. Anything else stays text.

const INLINE = /(\*\*[^*]+\*\*|`[^`]+`|\[[^\]]+\]\([^)\s]+\)|\*[^*\s][^*]*\*|_[^_\s][^_]*_)/g;

function inline(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    const t = m[0];
    let node;
    if (t.startsWith('**')) {
      node = document.createElement('strong');
      node.append(...inline(t.slice(2, -2)));
    } else if (t.startsWith('`')) {
      node = document.createElement('code');
      node.textContent = t.slice(1, -1);
    } else if (t.startsWith('[')) {
      const [, label, href] = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(t) ?? [];
      if (href && /^https?:\/\//i.test(href)) {
        node = document.createElement('a');
        node.href = href;
        node.rel = 'noopener noreferrer';
        node.target = '_blank';
        node.textContent = label;
      } else node = document.createTextNode(label ?? t);
    } else {
      node = document.createElement('em');
      node.append(...inline(t.slice(1, -1)));
    }
    out.push(node);
    last = m.index + t.length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

/**
 * @param {string} text Markdown
 * @returns {DocumentFragment} safe DOM
 */
export function renderMarkdown(text) {
  const frag = document.createDocumentFragment();
  const lines = String(text ?? '')
    .replace(/\r\n?/g, '\n')
    .split('\n');
  let para = [];
  let list = null;
  const flush = () => {
    if (para.length) {
      const p = document.createElement('p');
      p.append(...inline(para.join(' ')));
      frag.append(p);
      para = [];
    }
  };
  const endList = () => {
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('```')) {
      flush();
      endList();
      const code = [];
      for (i += 1; i < lines.length && !lines[i].startsWith('```'); i++) code.push(lines[i]);
      const pre = document.createElement('pre');
      const c = document.createElement('code');
      c.textContent = code.join('\n');
      pre.append(c);
      frag.append(pre);
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      endList();
      const hEl = document.createElement(`h${Math.min(6, heading[1].length + 2)}`);
      hEl.append(...inline(heading[2]));
      frag.append(hEl);
      continue;
    }
    if (/^\s*\|.*\|\s*$/.test(line)) {
      flush();
      endList();
      const table = document.createElement('table');
      table.className = 'md-table';
      for (; i < lines.length && /^\s*\|.*\|\s*$/.test(lines[i]); i++) {
        const cells = lines[i]
          .trim()
          .slice(1, -1)
          .split('|')
          .map((c) => c.trim());
        if (cells.every((c) => /^:?-{2,}:?$/.test(c))) continue;
        const tr = document.createElement('tr');
        for (const c of cells) {
          const td = document.createElement(table.rows.length === 0 ? 'th' : 'td');
          td.append(...inline(c));
          tr.append(td);
        }
        table.append(tr);
      }
      i -= 1;
      frag.append(table);
      continue;
    }
    const item = /^\s*(?:[-*+]|(\d+)[.)])\s+(.*)$/.exec(line);
    if (item) {
      flush();
      const tag = item[1] ? 'ol' : 'ul';
      if (!list || list.tagName.toLowerCase() !== tag) {
        list = document.createElement(tag);
        frag.append(list);
      }
      const li = document.createElement('li');
      li.append(...inline(item[2]));
      list.append(li);
      continue;
    }
    if (line.trim() === '') {
      flush();
      endList();
      continue;
    }
    endList();
    para.push(line.trim());
  }
  flush();
  return frag;
}
